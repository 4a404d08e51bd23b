# shellcheck shell=bash
# Drops one Frappe site when its FrappeSite is deleted with deletionPolicy
# Delete; the drop Job runs it in the bench directory. Like `bench drop-site
# --archived-sites-path archived_sites --no-backup` (frappe/helm's
# job-drop-site.yaml), the site directory is moved, not erased, to
# sites/archived_sites/ on the volume; the database and its user are dropped
# with the server's administrative login when the Job has one (an external
# server: the MariaDB Operator does not clean up there). Without one, the
# MariaDB Operator drops them when the role deletes its objects.
# Runs again safely: what is already gone is skipped.
#
# Environment: SITE_NAME, DB_NAME, DB_USER, DB_HOST, DB_PORT; and DB_ROOT_USERNAME with
# MYSQL_PWD (the mariadb client reads the password from it, so it is never an
# argument) when the Job drops the database itself.
set -euo pipefail

# An external server given by a Secret may leave its port out.
DB_PORT=${DB_PORT:-3306}

if [ -n "${DB_ROOT_USERNAME:-}" ]; then
  echo "Dropping database $DB_NAME and user $DB_USER on $DB_HOST:$DB_PORT"
  mariadb --host="$DB_HOST" --port="$DB_PORT" --user="$DB_ROOT_USERNAME" --batch <<SQL
DROP DATABASE IF EXISTS \`$DB_NAME\`;
DROP USER IF EXISTS '$DB_USER'@'%';
SQL
fi

if [ -d "sites/$SITE_NAME" ]; then
  mkdir -p sites/archived_sites
  dest="sites/archived_sites/$SITE_NAME.$(date -u +%Y%m%dT%H%M%SZ)"
  mv "sites/$SITE_NAME" "$dest"
  echo "Archived sites/$SITE_NAME to $dest"
else
  echo "sites/$SITE_NAME does not exist: nothing to archive."
fi
