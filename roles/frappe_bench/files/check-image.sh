# shellcheck shell=bash
# The periodic look at the bench's image (plugins/module_utils/frappe/image_probe.py
# check_due), in a Job that pulls it again (imagePullPolicy Always), so the
# kubelet records in the pod's status the digest the tag names today. Its
# apps' versions are the termination message, as the configuration Job
# reports them (frappe/commands/utils.py get_version). It mounts no volume
# and changes nothing of the bench.
set -euo pipefail
# Frappe's bench command reads sites/apps.txt before any command
# (frappe/utils/bench_helper.py get_apps), as configure-bench.sh writes it.
ls -1 apps > sites/apps.txt
versions=$(bench version --format json)
printf '%s\n' "$versions"
printf '%s' "${versions:0:4000}" > /dev/termination-log
