# shellcheck shell=bash
# The end of an upgrade of the bench, once its processes run the new image
# (plugins/module_utils/frappe/upgrade.py), in the bench directory:
# 1. maintenance off for each site in $OUT_OF_MAINTENANCE (the ones the
#    upgrade put in maintenance, space-separated);
# 2. bench --site S clear-cache for each site in $SITES (frappe/commands/utils.py
#    clear_cache: the site's keys in the cache Redis, so no page or boot
#    data of the old code is served from it);
# 3. the backups earlier upgrades took of each site in $SITES removed: the
#    ones of this upgrade ($UPGRADE_KEY) are the way back now;
# 4. the bench's bundle map out of the cache Redis: the shared key
#    assets_json (frappe/utils/__init__.py get_assets_json), which the first
#    pod to read sites/assets/assets.json put there. clear-cache leaves shared
#    keys, and Frappe deletes this one when it builds the assets
#    (esbuild/esbuild.js update_assets_json_in_cache), which for an image
#    happened where it was built, not here: without this, the new code would
#    name the old image's bundles, which its pods do not serve.
set -euo pipefail

for site in $OUT_OF_MAINTENANCE; do
  bench --site "$site" set-maintenance-mode off
done
for site in $SITES; do
  bench --site "$site" clear-cache
  for earlier in "sites/$site/private/upgrade-backups"/*; do
    if [ -d "$earlier" ] && [ "${earlier##*/}" != "$UPGRADE_KEY" ]; then
      rm -rf "$earlier"
    fi
  done
done
env/bin/python - <<'PY'
import json
import redis

with open("sites/common_site_config.json") as f:
    redis.Redis.from_url(json.load(f)["redis_cache"]).delete("assets_json")
PY
