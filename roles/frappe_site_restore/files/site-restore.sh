# shellcheck shell=bash
# One restore of a site, in the Job of a SiteRestore, on the bench image and
# its sites volume ($1 the site, $2 --force when the SiteRestore forces).
# backup_sets.py (with the bench's Python) does what is ours; bench does what
# is Frappe's:
# 1. prepare: fetch the set or the files, check each against its manifest,
#    decrypt, compare the apps' versions with `bench version`, decide the
#    encryption key. Any refusal stops here, before the site is touched.
# 2. maintenance on (bench --site S set-maintenance-mode on), so nobody uses
#    the site while its database is replaced.
# 3. bench --site S restore with the files (it drops and makes the database
#    again with the server's administrative login).
# 4. finish-key: the backed-up site's encryption_key into site_config.json
#    (bench restore never writes it). A key it replaces (force) was kept in
#    step 1: a copy of site_config.json beside it, and the key sealed with the
#    SiteRestore's one-time pad in the outcome, which the reconcile unseals
#    into a Secret (this pod may not write Secrets).
# 5. bench --site S migrate when the backup's code is older than the bench's.
# 6. bench --site S set-admin-password when the SiteRestore names a password.
# 7. maintenance off.
# A failure after step 2 leaves the site in maintenance mode: its database may
# be half replaced, and the status says so. The outcome (JSON) is the
# container's termination message, which the SiteRestore's status reads.
set -euo pipefail
site=$1
force=${2:-}
work=/tmp/restore
config=/opt/vyogo.tech/restore/config.json
mkdir -p "$work"
stage=prepare

# report JSON: the termination message (what the status shows) and the log.
report() {
  printf '%s\n' "$1"
  if [ -w /dev/termination-log ]; then
    printf '%s' "${1:0:4000}" >/dev/termination-log
  fi
}

# step COMMAND CONFIG: one step of backup_sets.py (mounted from the ConfigMap); it prints its JSON outcome.
step() {
  env/bin/python /opt/vyogo.tech/restore/backup_sets.py "$@"
}

on_exit() {
  local code=$?
  if [ "$code" -ne 0 ] && [ "$stage" != prepare ] && [ "$stage" != finished ]; then
    tail=$(tail -c 600 "$work/steps.log" 2>/dev/null | tr '\n' ' ' || true)
    report "$(env/bin/python -c 'import json, sys; print(json.dumps({"error": sys.argv[1]}))' \
      "the restore of $site failed at $stage; the site stays in maintenance mode (its database may be partly \
replaced): restore it again, or turn maintenance off by hand once it is checked. $tail")"
  fi
}
trap on_exit EXIT

bench version --format json >"$work/bench-apps.json"
if ! prepared=$(step prepare "$config"); then
  report "$prepared"
  exit 1
fi
echo "$prepared"
# value KEY...: a value of prepared.json ("" when absent).
value() {
  env/bin/python -c 'import json, sys
v = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    v = v.get(key) if isinstance(v, dict) else None
print("" if v in (None, False) else v)' "$work/prepared.json" "$@"
}

stage="maintenance on"
bench --site "$site" set-maintenance-mode on 2>&1 | tee -a "$work/steps.log"

stage="bench restore"
args=(--site "$site" restore "$(value files database)" --db-root-username "$DB_ROOT_USERNAME"
      --db-root-password "$DB_ROOT_PASSWORD")
public=$(value files files)
private=$(value files private-files)
[ -n "$public" ] && args+=(--with-public-files "$public")
[ -n "$private" ] && args+=(--with-private-files "$private")
[ "$force" = --force ] && args+=(--force)
bench "${args[@]}" 2>&1 | tee -a "$work/steps.log"

stage="the encryption key"
step finish-key "$config" | tee -a "$work/steps.log"

migrated=false
if [ "$(value migrate)" = True ]; then
  stage="bench migrate"
  bench --site "$site" migrate 2>&1 | tee -a "$work/steps.log"
  migrated=true
fi

if [ -n "${ADMIN_PASSWORD:-}" ]; then
  stage="set-admin-password"
  bench --site "$site" set-admin-password "$ADMIN_PASSWORD" 2>&1 | tee -a "$work/steps.log"
fi

stage="maintenance off"
bench --site "$site" set-maintenance-mode off 2>&1 | tee -a "$work/steps.log"
stage=finished
report "$(env/bin/python -c 'import json, sys
p = json.load(open(sys.argv[1]))
print(json.dumps({"set": p["set"], "location": p["location"], "migrated": sys.argv[2] == "true",
                  "encryptionKey": p["encryptionKey"], "olderApps": p["olderApps"], "keptConfig": p["keptConfig"],
                  "previousKeySealed": p["previousKeySealed"], "schemaVersions": p.get("schemaVersions") or {}},
                 sort_keys=True))' \
  "$work/prepared.json" "$migrated")"
