# shellcheck shell=bash
# Can the image's frappe user write the sites volume? The configuration Job
# runs this first, in an init container started without the image ENTRYPOINT
# (frappe_docker's main-entrypoint.sh links sites/assets and would fail on
# such a volume with a bare "Permission denied"). Storage that ignores
# fsGroup (NFS, many ReadWriteMany provisioners) hands uid 1000 a directory
# owned by someone else, and every later step, and every site, would fail on
# it.
#
# Environment (set by the Job):
#   VOLUME_REMEDY   what to do about it (the bench plan words it)
#
# Exit 3 fails the Job at once (its podFailurePolicy); the message goes to
# the pod's termination message, which the bench status shows.
set -uo pipefail

probe="sites/.write-check.$$"
if { : > "$probe"; } 2> /dev/null; then
  rm -f "$probe"
  exit 0
fi
message="The sites volume is not writable by uid $(id -u) (gid $(id -g)); it is $(stat -c 'owned by %u:%g, mode %a' sites 2> /dev/null || echo 'unreadable'). ${VOLUME_REMEDY:-}"
echo "$message" >&2
echo "$message" > /dev/termination-log 2> /dev/null || true
exit 3
