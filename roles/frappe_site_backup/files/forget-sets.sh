# shellcheck shell=bash
# Deletes the sets of a SiteBackup deleted with deletionPolicy Delete, in its
# Job on the bench image: backup_sets.py with the bench's Python deletes each
# set whose manifest names this SiteBackup, and nothing else. Its JSON outcome
# is the container's termination message.
set -euo pipefail
exec env/bin/python - /opt/vyogo.tech/backup/config.json <<'PYTHON'
import os
import sys

sys.path.insert(0, "/opt/vyogo.tech/backup")
import backup_sets  # noqa: E402  (mounted from the ConfigMap beside this step's configuration)

code, text = backup_sets.run(["forget"] + sys.argv[1:])
sys.stdout.write(text + "\n")
if os.access("/dev/termination-log", os.W_OK):
    with open("/dev/termination-log", "w") as handle:
        handle.write(text[:4000])
sys.exit(code)
PYTHON
