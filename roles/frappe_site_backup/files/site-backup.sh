# shellcheck shell=bash
# One backup of a site, in a Job of a SiteBackup, on the bench image and its
# sites volume: `bench --site <site> backup` with the SiteBackup's options
# ($1 the site, the rest bench backup's options, --backup-path first), the
# apps' versions (bench version), then backup_sets.py with the bench's
# Python stores the set (encrypted, with its manifest) and prunes this
# SiteBackup's sets by its retention. backup_sets.py's JSON outcome is the
# container's termination message, which the SiteBackup's status reads.
set -euo pipefail
site=$1
shift
# The Job's own scratch directory, or the SiteBackup's backupPath (never emptied here: the store step takes the
# newest run's files).
set_dir=$2
mkdir -p "$set_dir"
bench --site "$site" backup "$@"
bench version --format json >/tmp/backup-apps.json
exec env/bin/python - "$set_dir" /opt/vyogo.tech/backup/config.json <<'PYTHON'
import os
import sys

sys.path.insert(0, "/opt/vyogo.tech/backup")
import backup_sets  # noqa: E402  (mounted from the ConfigMap beside this step's configuration)

code, text = backup_sets.run(["store"] + sys.argv[1:])
sys.stdout.write(text + "\n")
if os.access("/dev/termination-log", os.W_OK):
    with open("/dev/termination-log", "w") as handle:
        handle.write(text[:4000])
sys.exit(code)
PYTHON
