# shellcheck shell=bash
# Creates one Frappe site on the bench's sites volume, or finishes one that an
# earlier run left half-made; the site Job runs it in the bench directory. It
# follows frappe/helm's job-create-site.yaml, with the flags of `bench
# new-site` as Frappe version-15 declares them in frappe/commands/site.py:
#   --db-type, --db-host, --db-port, --db-name, --db-password, --admin-password,
#   --install-app (repeated), --db-root-username/--db-root-password (the
#   server's administrative login creates the database and user), or
#   --no-setup-db (the database and its user exist: the MariaDB Operator made
#   them). Not --db-user: version-15 rejects it; the user is named like the
#   database, which every version logs in as.
#
# 1. Waits, at most SITE_WAIT_SECONDS (default 300), for the database (SELECT
#    1 with the login the Job has) and for both Redis of the bench
#    (redis_cache and redis_queue of sites/common_site_config.json, written by
#    the configuration Job; each must answer PING, if only with NOAUTH).
# 2. Decides from the database, not from the directory, whether the site is
#    installed. Frappe's `bench new-site` (frappe/installer.py `_new_site` ->
#    `install_db`) writes site_config.json first, then sets up and bootstraps
#    the database, then installs frappe and each app; an app counts as
#    installed once `add_to_installed_apps` has committed it to the
#    `installed_apps` global, a JSON list in tabDefaultValue (parent
#    '__global', defkey 'installed_apps'), which `frappe.get_installed_apps()`
#    reads through `frappe.db.get_global`. There is no other marker.
#    - frappe installed: the site is complete. Apps the bench has and the site
#      lacks get `bench --site S install-app` (never a new site over it). A
#      complete database without sites/S/site_config.json is refused: the
#      site directory must be restored (its encryption_key is there).
#    - frappe not installed, and the database empty, or its tables left by a
#      bench new-site of this site (sites/S/site_config.json names the
#      database): the site is half-made and made again, with --force when its
#      directory exists (Frappe keeps an existing site_config.json; with the
#      administrative login the database is dropped and made again).
#    - otherwise (tables of unknown origin): refused, nothing written.
# 3. Checks the result the same way: a site is only reported created when
#    frappe and every app of the bench are in installed_apps.
# 4. Reports, as the container's termination message, whether it created the
#    site and then the versions of the image's apps (`bench version --format
#    json`): the versions the new site's schema was made for. A site that
#    existed keeps the versions it was last migrated to (installing an app,
#    frappe/installer.py `add_to_installed_apps`, migrates nothing else).
#
# Environment (set by the Job; passwords come from Secrets, never from args):
#   SITE_NAME, DB_NAME, DB_HOST, DB_PORT, INSTALL_APPS (space-separated)
#   DB_PASSWORD, ADMIN_PASSWORD
#   DB_ROOT_USERNAME, DB_ROOT_PASSWORD   only when the Job creates the database
#   HOST_NAME                            the public URL when the site is served
#                                        on another domain than its name
#   SITE_WAIT_SECONDS                    how long to wait for the database and
#                                        Redis (default 300)
set -euo pipefail

# An external server given by a Secret may leave its port out.
DB_PORT=${DB_PORT:-3306}
WAIT_SECONDS=${SITE_WAIT_SECONDS:-300}

site_dir="sites/$SITE_NAME"

# The checks log in as the Job does: with the administrative login when it
# creates the database (the site's user may not exist yet), else as the site's
# user (the MariaDB Operator made it, with ALL on the database).
if [ -n "${DB_ROOT_USERNAME:-}" ]; then
  sql_user=$DB_ROOT_USERNAME sql_password=$DB_ROOT_PASSWORD
else
  sql_user=$DB_NAME sql_password=$DB_PASSWORD
fi

sql() {
  MYSQL_PWD="$sql_password" mariadb --host="$DB_HOST" --port="$DB_PORT" --user="$sql_user" \
    --batch --skip-column-names --execute="$1"
}

# host:port of redis://[user[:password]@]host:port, the value of KEY in
# sites/common_site_config.json (Frappe writes one key per line).
redis_address() {
  local url
  url=$(sed -n "s/^ *\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" sites/common_site_config.json 2>/dev/null | head -n 1)
  url=${url#*://}
  url=${url##*@}
  printf '%s' "${url%%/*}"
}

# A Redis answers PING with +PONG, or with -NOAUTH when it wants a password.
redis_answers() {
  # shellcheck disable=SC2016
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && IFS= read -r reply <&3 &&
    case $reply in [+-]*) exit 0 ;; esac; exit 1' "${1%:*}" "${1##*:}" 2>/dev/null
}

# wait_for WHAT COMMAND...: until COMMAND succeeds, at most WAIT_SECONDS.
wait_for() {
  local what=$1 deadline=$((SECONDS + WAIT_SECONDS)) next=0 error=""
  shift
  until error=$("$@" 2>&1 >/dev/null); do
    if (( SECONDS >= deadline )); then
      echo "Gave up after ${WAIT_SECONDS}s (SITE_WAIT_SECONDS) waiting for $what${error:+: $error}." >&2
      echo "Site $SITE_NAME was not created; the Job is retried, and a later reconcile runs it again." >&2
      exit 1
    fi
    if (( SECONDS >= next )); then
      echo "Waiting for $what${error:+ ($error)}"
      next=$((SECONDS + 10))
    fi
    sleep 1
  done
}

wait_for "the database server $DB_HOST:$DB_PORT (as $sql_user)" sql "SELECT 1"
for key in redis_cache redis_queue; do
  address=$(redis_address "$key")
  if [ -z "$address" ]; then
    echo "sites/common_site_config.json has no $key: the bench's configuration Job writes it; is the bench configured?" >&2
    exit 1
  fi
  wait_for "Redis $key at $address" redis_answers "$address"
done

# The apps Frappe has recorded as installed on the database, space-separated
# (empty when there are no Frappe tables).
installed_apps() {
  local defaults json apps
  defaults=$(sql "SELECT COUNT(*) FROM information_schema.TABLES
                  WHERE TABLE_SCHEMA = '$DB_NAME' AND TABLE_NAME = 'tabDefaultValue'")
  if [ "$defaults" = 0 ]; then
    return 0
  fi
  json=$(sql "SELECT defvalue FROM \`$DB_NAME\`.\`tabDefaultValue\`
              WHERE parent = '__global' AND defkey = 'installed_apps' ORDER BY creation DESC LIMIT 1")
  read -r -a apps <<<"${json//[\[\]\",]/ }"
  echo "${apps[*]}"
}

has() {
  case " $1 " in *" $2 "*) return 0 ;; esac
  return 1
}

tables=$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB_NAME'")
installed=$(installed_apps)
created=false

if has "$installed" frappe; then
  if [ ! -f "$site_dir/site_config.json" ]; then
    echo "Database $DB_NAME holds a complete Frappe site (installed apps: $installed), but $site_dir/site_config.json is missing." >&2
    echo "Restore the site directory (its site_config.json holds db_password and encryption_key); nothing was written." >&2
    exit 1
  fi
  echo "Site $SITE_NAME is installed (apps: $installed)."
  for app in ${INSTALL_APPS:-}; do
    if ! has "$installed" "$app"; then
      echo "Installing $app on site $SITE_NAME: the bench has it, the site does not yet."
      bench --site "$SITE_NAME" install-app "$app"
    fi
  done
elif [ "$tables" = 0 ] || grep -qs "\"db_name\": *\"$DB_NAME\"" "$site_dir/site_config.json"; then
  args=(new-site "$SITE_NAME" --db-type mariadb --db-host "$DB_HOST" --db-port "$DB_PORT"
        --db-name "$DB_NAME" --db-password "$DB_PASSWORD" --admin-password "$ADMIN_PASSWORD")
  if [ -e "$site_dir" ]; then
    # Half-made: bench new-site stops on an existing directory without --force.
    echo "Site $SITE_NAME is incomplete (database $DB_NAME: $tables tables, installed apps: ${installed:-none}): creating it again."
    args+=(--force)
  fi
  if [ -n "${DB_ROOT_USERNAME:-}" ]; then
    args+=(--db-root-username "$DB_ROOT_USERNAME" --db-root-password "$DB_ROOT_PASSWORD")
    # The user must log in from any pod of the bench, not only from this one.
    # --mariadb-user-host-login-scope exists from v15.46.0 (honoured from
    # v15.47.2); earlier version-15 releases have --no-mariadb-socket (host %).
    help=$(bench new-site --help)
    if grep -q -- "--mariadb-user-host-login-scope" <<<"$help"; then
      args+=(--mariadb-user-host-login-scope=%)
    elif grep -q -- "--no-mariadb-socket" <<<"$help"; then
      args+=(--no-mariadb-socket)
    else
      echo "bench new-site of this image offers neither --mariadb-user-host-login-scope nor --no-mariadb-socket:" >&2
      echo "its database user could only log in from this pod. Use a version-15 image or later." >&2
      exit 1
    fi
  else
    args+=(--no-setup-db)
  fi
  for app in ${INSTALL_APPS:-}; do
    args+=(--install-app "$app")
  done
  echo "Creating site $SITE_NAME on database $DB_NAME at $DB_HOST:$DB_PORT${INSTALL_APPS:+ with $INSTALL_APPS}"
  bench "${args[@]}"
  created=true
else
  echo "Database $DB_NAME already holds $tables tables but no complete Frappe site (frappe is not in its installed_apps)," >&2
  echo "and $site_dir/site_config.json does not name it: they were not left by a bench new-site of this site." >&2
  echo "Drop that database, or restore the site (bench restore into a new site) instead; nothing was written." >&2
  exit 1
fi

# Reported created only when Frappe has recorded frappe and every app.
installed=$(installed_apps)
for app in frappe ${INSTALL_APPS:-}; do
  if ! has "$installed" "$app"; then
    echo "Site $SITE_NAME is still incomplete: $app is not in the installed_apps of database $DB_NAME (${installed:-none})." >&2
    exit 1
  fi
done
echo "Site $SITE_NAME has ${installed// /, } installed."

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

# What the site's schema was made for, for the FrappeSite status
# (status.schema): the versions of this image when this run created the site;
# nothing to say of one that existed. Reporting it fails nothing.
versions=null
if [ "$created" = true ]; then
  versions=$(bench version --format json) || versions=null
fi
outcome=$(printf '{"created": %s, "versions": %s}' "$created" "${versions:-null}")
printf '%s\n' "$outcome"
printf '%s' "${outcome:0:4000}" > /dev/termination-log 2> /dev/null || true
