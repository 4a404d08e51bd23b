# shellcheck shell=bash
# The restore of one site an upgrade of its bench migrated, once a migrate of
# that upgrade failed (plugins/module_utils/frappe/upgrade.py, onFailure:
# rollback), on the image the bench ran before, in the bench directory. $SITE
# is the site's directory name, $BACKUP_DIR the folder its migrate backed it
# up into (files/migrate-site.sh), relative to sites/.
# 1. When that folder is there, the backup in it is whole (the migrate moves
#    it into place once complete): its database dump goes into the site's
#    database as the site's own user, through `bench --site S mariadb`
#    (frappe/commands/utils.py mariadb -> frappe/database/__init__.py
#    get_command), as Frappe Cloud's agent restores a site's tables after a
#    failed migrate (agent/site.py restore_site_tables: gunzip | mariadb as
#    the site's user). The dump drops and makes again every table it holds;
#    the tables the failed migrate made (new DocTypes) are not in it and are
#    dropped after. A dump Frappe encrypted (System Settings encrypt_backup:
#    frappe/utils/backups.py backup_encryption, gpg with the site's
#    backup_encryption_key) is decrypted first. No folder: the migrate never
#    got past its backup, so it never ran, and there is nothing to restore.
# 2. maintenance off, unless it was on before the upgrade (upgrade.json, the
#    note the migrate wrote before it turned maintenance on).
# 3. bench --site S clear-cache: nothing the new code cached is served.
# 4. The backup folder renamed <key>.restored once loaded: a restore run
#    again loads nothing more (the site may be served by then), and an
#    upgrade tried again takes a backup of its own.
set -euo pipefail
site=${SITE:?the site to restore}
backup_dir="sites/${BACKUP_DIR:?the folder its migrate backed it up into}"
# Where a restored backup goes: a retried upgrade takes a backup of its own (the site has been served since),
# and a restore run again finds nothing more to load.
restored="$backup_dir.restored"

if [ -d "$backup_dir" ]; then
  dump=$(find "$backup_dir" -maxdepth 1 -name '*-database*.sql.gz' | sort | tail -n 1)
  [ -n "$dump" ] || { echo "no database dump in $backup_dir: restore the site by hand (docs/UPGRADES.md)" >&2; exit 1; }
  plain="$dump"
  if ! gzip -t "$dump" 2> /dev/null; then
    plain=$(mktemp)
    # gpg keeps state in its home: one of its own, whatever user the pod runs as.
    GNUPGHOME=$(mktemp -d)
    export GNUPGHOME
    trap 'rm -rf "$plain" "$GNUPGHOME"' EXIT
    # frappe.conf's backup_encryption_key: the site's config over the bench's.
    key=$(env/bin/python - "sites/common_site_config.json" "sites/$site/site_config.json" <<'PY'
import json, os, sys
conf = {}
for path in sys.argv[1:]:
    if os.path.exists(path):
        with open(path) as f:
            conf.update(json.load(f))
print(conf.get("backup_encryption_key", ""))
PY
)
    gpg --batch --yes --passphrase "$key" --pinentry-mode loopback -o "$plain" -d "$dump"
  fi
  # shellcheck disable=SC2016 # the backquotes are SQL's, around table names
  kept=$(gzip -cd "$plain" | sed -n 's/^CREATE TABLE `\(.*\)` ($/\1/p' | sed 's/``/`/g' | sort -u)
  # Without them, every table of the site would count as the failed migrate's.
  [ -n "$kept" ] || { echo "$dump holds no CREATE TABLE: it is no dump of the site; restore it by hand" >&2; exit 1; }
  # A newer mariadb-dump (the new image's) starts with a line older clients refuse ("Unknown command '\-'").
  gzip -cd "$plain" | sed '/^\/\*M\{0,1\}!999999\\- enable the sandbox mode \*\/ *$/d' | bench --site "$site" mariadb
  now=$(bench --site "$site" mariadb --batch --skip-column-names \
    --execute "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'" | cut -f1 | sort -u)
  made=$(comm -13 <(printf '%s\n' "$kept") <(printf '%s\n' "$now") | sed '/^$/d')
  if [ -n "$made" ]; then
    echo "Dropping the tables the failed migrate made: $(printf '%s' "$made" | tr '\n' ' ')"
    # shellcheck disable=SC2016
    drop=$(printf '%s\n' "$made" | sed 's/`/``/g; s/.*/`&`/' | paste -sd, -)
    bench --site "$site" mariadb --execute "DROP TABLE IF EXISTS $drop"
  fi
  rm -rf "$restored"
  mv "$backup_dir" "$restored"
  echo "Restored $site from $dump (kept in $restored)"
fi

# No note: the migrate stopped before it turned maintenance on, which stays as it is.
noted=""
for candidate in "$restored/upgrade.json" "$backup_dir.partial/upgrade.json"; do
  if [ -z "$noted" ] && [ -f "$candidate" ]; then noted=$candidate; fi
done
if [ -n "$noted" ] && [ "$(env/bin/python -c 'import json, sys; print(bool(json.load(open(sys.argv[1])).get("maintenanceWasOn")))' "$noted")" = False ]; then
  bench --site "$site" set-maintenance-mode off
fi
bench --site "$site" clear-cache
rm -rf "$backup_dir.partial"
