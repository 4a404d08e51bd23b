# shellcheck shell=bash
# Writes the bench-wide sites/common_site_config.json; the configuration Job
# runs it in the bench directory on the sites volume. It follows frappe/helm's
# job-configure-bench.yaml and frappe_docker's configurator service.
#
# Environment (set by the Job):
#   BENCH_ID                          bench_id, the prefix of the RQ queue names
#   SOCKETIO_PORT                     the socket.io port
#   REDIS_CACHE_HOST, REDIS_CACHE_PORT, REDIS_QUEUE_HOST, REDIS_QUEUE_PORT
#   REDIS_CACHE_USERNAME, REDIS_CACHE_PASSWORD,
#   REDIS_QUEUE_USERNAME, REDIS_QUEUE_PASSWORD
#                                     optional credentials (from the bench's
#                                     password Secret or the external Redis
#                                     Secret; unset when there are none)
#   FRAPPE_WORKERS                    Frappe's `workers` (spec.queues) as JSON
# Last, it reports the versions of the image's apps as its termination
# message: the Job is the bench's probe of its image (image_probe.py).
# The init container sites-check (check-sites-volume.sh) has made sure the
# volume is writable.
set -euo pipefail

# Frappe reads the installed apps from here.
ls -1 apps > sites/apps.txt

# A new volume is empty (Kubernetes copies no image files into it), and
# `bench set-config` reads the file before it writes it.
if [ ! -f sites/common_site_config.json ]; then
  echo "{}" > sites/common_site_config.json
fi

# Percent-encodes a URL component byte by byte (RFC 3986 unreserved bytes stay).
urlencode() {
  local LC_ALL=C
  local s=$1 out="" c i
  for (( i = 0; i < ${#s}; i++ )); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# redis_url HOST PORT USERNAME PASSWORD -> redis://[user[:password]@]host:port;
# no credentials, no "@".
redis_url() {
  local auth=""
  if [ -n "$4" ]; then
    auth="$(urlencode "$3"):$(urlencode "$4")@"
  elif [ -n "$3" ]; then
    auth="$(urlencode "$3")@"
  fi
  printf 'redis://%s%s:%s' "$auth" "$1" "$2"
}

redis_cache=$(redis_url "$REDIS_CACHE_HOST" "$REDIS_CACHE_PORT" "${REDIS_CACHE_USERNAME:-}" "${REDIS_CACHE_PASSWORD:-}")
redis_queue=$(redis_url "$REDIS_QUEUE_HOST" "$REDIS_QUEUE_PORT" "${REDIS_QUEUE_USERNAME:-}" "${REDIS_QUEUE_PASSWORD:-}")

# set-config merges one key at a time: every other key (written by a user, a
# site or a later Job) stays.
bench set-config -g bench_id "$BENCH_ID"
bench set-config -g redis_cache "$redis_cache"
bench set-config -g redis_queue "$redis_queue"
bench set-config -g redis_socketio "$redis_queue"
bench set-config -gp socketio_port "$SOCKETIO_PORT"
# The bench owns `workers`: exactly the queues of spec.queues, each with its
# timeout ({} when none), so Frappe's validate_queue accepts them.
bench set-config -gp workers "$FRAPPE_WORKERS"

# What this image runs (frappe/commands/utils.py get_version: one {commit, app,
# branch, version} per app; needs no site): the termination message, which
# the bench status reads with the digest the kubelet recorded. Not knowing it
# fails nothing: the processes then run the image as written.
versions=$(bench version --format json) || versions=""
printf '%s\n' "$versions"
printf '%s' "${versions:0:4000}" > /dev/termination-log 2> /dev/null || true
