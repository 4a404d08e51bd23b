# shellcheck shell=bash
# The migrate of one site in an upgrade of its bench, on the new image
# (plugins/module_utils/frappe/upgrade.py), in the bench directory; $SITE is
# the site's directory name (the Job's environment).
# 1. maintenance on: `bench migrate` does not set it (frappe/migrate.py), and
#    the old code still serves the site until every site of the bench is
#    migrated. It also stops the site's scheduler (frappe/utils/scheduler.py
#    is_scheduler_inactive). Whether it was on before is noted, so the end of
#    the upgrade leaves a site a person put in maintenance there.
# 2. bench --site S backup into $BACKUP_DIR (relative to sites/), the
#    database and site_config.json as the old code left them, unless a
#    backup is there already: a retried migrate (its failed Job deleted) may
#    find the schema half migrated, and the backup to go back to is the first.
# 3. bench --site S migrate. Its failure fails the Job, and the site stays in
#    maintenance: its schema may already be partly the new code's.
# The outcome is the container's termination message, which the bench's
# upgrade record reads: {"maintenanceWasOn": bool, "versions": [...]}.
set -euo pipefail
site=${SITE:?the site to migrate}

was_on=$(env/bin/python - "sites/$site/site_config.json" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    print("true" if json.load(f).get("maintenance_mode") else "false")
PY
)
bench --site "$site" set-maintenance-mode on
backup_dir=${BACKUP_DIR:?the folder to back the site up into}
if ! compgen -G "sites/$backup_dir/*-database.sql.gz" > /dev/null; then
  bench --site "$site" backup --backup-path "$backup_dir"
fi
bench --site "$site" migrate

versions=$(bench version --format json) || versions=null
outcome=$(printf '{"maintenanceWasOn": %s, "versions": %s}' "$was_on" "$versions")
printf '%s\n' "$outcome"
printf '%s' "${outcome:0:4000}" > /dev/termination-log 2> /dev/null || true
