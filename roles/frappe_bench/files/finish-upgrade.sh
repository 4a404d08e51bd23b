# shellcheck shell=bash
# The end of an upgrade of the bench, once its processes run the new image
# (plugins/module_utils/frappe/upgrade.py), in the bench directory:
# 1. maintenance off for each site in $OUT_OF_MAINTENANCE (the ones the
#    upgrade put in maintenance, space-separated);
# 2. bench --site S clear-cache for each site in $SITES (frappe/commands/utils.py
#    clear_cache: the site's keys in the cache Redis, so no page or boot
#    data of the old code is served from it).
set -euo pipefail

for site in $OUT_OF_MAINTENANCE; do
  bench --site "$site" set-maintenance-mode off
done
for site in $SITES; do
  bench --site "$site" clear-cache
done
