# shellcheck shell=bash
# Creates one Frappe site on the bench's sites volume; the site Job runs it in
# the bench directory. It follows frappe/helm's job-create-site.yaml, with the
# flags of `bench new-site` as Frappe version-15 and develop (16) declare them
# in frappe/commands/site.py:
#   --db-type, --db-host, --db-port, --db-name, --db-password, --admin-password,
#   --install-app (repeated), --db-root-username/--db-root-password with
#   --mariadb-user-host-login-scope (the server's administrative login creates
#   the database and user), or --no-setup-db (the database and its user exist:
#   the MariaDB Operator made them). Not --db-user: version-15 rejects it; the
#   user is named like the database, which every version logs in as.
#
# Idempotent: a site directory that already holds site_config.json is left as
# it is (never --force); a directory without it is a half-made site, reported;
# a database that already holds tables is never bootstrapped over.
#
# Environment (set by the Job; passwords come from Secrets, never from args):
#   SITE_NAME, DB_NAME, DB_HOST, DB_PORT, INSTALL_APPS (space-separated)
#   DB_PASSWORD, ADMIN_PASSWORD
#   DB_ROOT_USERNAME, DB_ROOT_PASSWORD   only when the Job creates the database
#   HOST_NAME                            the public URL when the site is served
#                                        on another domain than its name
set -euo pipefail

# An external server given by a Secret may leave its port out.
DB_PORT=${DB_PORT:-3306}

site_dir="sites/$SITE_NAME"

if [ -f "$site_dir/site_config.json" ]; then
  echo "Site $SITE_NAME exists (sites/$SITE_NAME/site_config.json): not created again."
elif [ -e "$site_dir" ]; then
  echo "sites/$SITE_NAME exists without site_config.json: an earlier bench new-site stopped half-way." >&2
  echo "Inspect it (its database $DB_NAME may be half-made too), remove the directory, and the Job runs again." >&2
  exit 1
else
  if [ -z "${DB_ROOT_USERNAME:-}" ]; then
    # --no-setup-db bootstraps the database with Frappe's framework SQL, which
    # drops its tables first: a database that already holds tables belongs to
    # a site whose directory is gone, and is never written over.
    tables=$(MYSQL_PWD="$DB_PASSWORD" mariadb --host="$DB_HOST" --port="$DB_PORT" --user="$DB_NAME" \
      --batch --skip-column-names \
      --execute="SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB_NAME'")
    if [ "$tables" != 0 ]; then
      echo "Database $DB_NAME already holds $tables tables, but sites/$SITE_NAME has no site_config.json." >&2
      echo "Restore the site directory (or bench restore into a new site) instead; nothing was written." >&2
      exit 1
    fi
  fi
  args=(new-site "$SITE_NAME" --db-type mariadb --db-host "$DB_HOST" --db-port "$DB_PORT"
        --db-name "$DB_NAME" --db-password "$DB_PASSWORD" --admin-password "$ADMIN_PASSWORD")
  if [ -n "${DB_ROOT_USERNAME:-}" ]; then
    # The user may log in from any pod of the bench, not only from this one.
    args+=(--db-root-username "$DB_ROOT_USERNAME" --db-root-password "$DB_ROOT_PASSWORD"
           --mariadb-user-host-login-scope=%)
  else
    args+=(--no-setup-db)
  fi
  for app in ${INSTALL_APPS:-}; do
    args+=(--install-app "$app")
  done
  echo "Creating site $SITE_NAME on database $DB_NAME at $DB_HOST:$DB_PORT${INSTALL_APPS:+ with $INSTALL_APPS}"
  bench "${args[@]}"
fi

# Frappe's get_url (frappe/utils/data.py) builds the links made outside a
# request (mails, PDFs, OAuth redirects, webhooks) from host_name, else
# http://<site name>. The FrappeSite owns the key: HOST_NAME is the public URL
# when the site is served with TLS or on another domain, and empty otherwise,
# which removes the key (set-config's value "None" deletes a key:
# frappe/installer.py _update_config_file). A change of domain or TLS gives
# the Job a new name, so an existing site is corrected here too.
if [ -n "${HOST_NAME:-}" ]; then
  echo "Site $SITE_NAME: host_name $HOST_NAME"
  bench --site "$SITE_NAME" set-config host_name "$HOST_NAME"
else
  echo "Site $SITE_NAME: served on its own name over http, no host_name"
  bench --site "$SITE_NAME" set-config host_name None
fi
