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
#    database and site_config.json as the old code left them, the whole
#    database whatever the site's backup.includes/excludes say
#    (--ignore-backup-conf: a partial backup could not bring the schema back).
#    It is taken into a folder of its own and moved into place once complete,
#    with upgrade.json beside it (whether maintenance was on before), so a
#    folder there is a whole backup: a retried migrate (its failed Job
#    deleted) finds the schema possibly half migrated and keeps the first one,
#    and the rollback (files/rollback-site.sh) restores only from a whole one.
# 3. bench --site S migrate. Its failure fails the Job, and the site stays in
#    maintenance: its schema may already be partly the new code's.
# 4. With FINISH=1 (a SiteMigration, on the code the bench runs): maintenance
#    off unless it was on before, bench --site S clear-cache.
# The outcome is the container's termination message, which the bench's
# upgrade record reads: {"maintenanceWasOn": bool, "versions": [...]}.
set -euo pipefail
site=${SITE:?the site to migrate}
backup_dir=${BACKUP_DIR:?the folder to back the site up into}
taking="$backup_dir.partial"

if [ ! -d "sites/$backup_dir" ]; then
  mkdir -p "sites/$taking"
  if [ ! -f "sites/$taking/upgrade.json" ]; then
    env/bin/python - "sites/$site/site_config.json" "sites/$taking/upgrade.json" <<'PY'
import json, os, sys
with open(sys.argv[1]) as f:
    was_on = bool(json.load(f).get("maintenance_mode"))
# Whole or not at all: a pod killed while writing it leaves no note, and the next attempt writes it.
with open(sys.argv[2] + ".tmp", "w") as f:
    json.dump({"maintenanceWasOn": was_on}, f)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  fi
  # What an attempt killed midway left, but what maintenance was before.
  find "sites/$taking" -mindepth 1 ! -name upgrade.json -exec rm -rf {} +
  bench --site "$site" set-maintenance-mode on
  bench --site "$site" backup --ignore-backup-conf --backup-path "$taking"
  mv "sites/$taking" "sites/$backup_dir"
fi
bench --site "$site" set-maintenance-mode on
bench --site "$site" migrate

was_on=$(env/bin/python - "sites/$backup_dir/upgrade.json" <<'PY'
import json, os, sys
noted = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
print(json.dumps(bool(noted.get("maintenanceWasOn"))))
PY
)
if [ "${FINISH:-}" = 1 ]; then
  # A SiteMigration: the code the site is served by does not change, so it comes out at once.
  if [ "$was_on" = false ]; then
    bench --site "$site" set-maintenance-mode off
  fi
  bench --site "$site" clear-cache
fi
versions=$(bench version --format json) || versions=null
outcome=$(printf '{"maintenanceWasOn": %s, "versions": %s}' "$was_on" "$versions")
printf '%s\n' "$outcome"
printf '%s' "${outcome:0:4000}" > /dev/termination-log 2> /dev/null || true
