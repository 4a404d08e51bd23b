# shellcheck shell=bash
# Deletes the sets of a SiteBackup deleted with deletionPolicy Delete, in its
# Job on the bench image: backup_sets.py (mounted from the ConfigMap) with the
# bench's Python deletes each set whose manifest names this SiteBackup, and
# nothing else. Its JSON outcome is the container's termination message.
set -euo pipefail
exec env/bin/python /opt/vyogo.tech/backup/backup_sets.py forget /opt/vyogo.tech/backup/config.json
