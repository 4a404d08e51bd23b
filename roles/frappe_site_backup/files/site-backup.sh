# shellcheck shell=bash
# One backup of a site, in a Job of a SiteBackup, on the bench image and its
# sites volume: `bench --site <site> backup` with the SiteBackup's options
# ($1 the site, the rest bench backup's options, --backup-path first), the
# apps' versions (bench version), then backup_sets.py (mounted from the
# ConfigMap) with the bench's Python stores the set (encrypted, with its
# manifest) and prunes this SiteBackup's sets by its retention. Its JSON
# outcome is the container's termination message, which the SiteBackup's
# status reads.
set -euo pipefail
site=$1
shift
# The Job's own scratch directory, or the SiteBackup's backupPath (never emptied here: the store step takes the
# newest run's files).
set_dir=$2
mkdir -p "$set_dir"
bench --site "$site" backup "$@"
bench version --format json >/tmp/backup-apps.json
exec env/bin/python /opt/vyogo.tech/backup/backup_sets.py store "$set_dir" /opt/vyogo.tech/backup/config.json
