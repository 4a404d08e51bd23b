#!/usr/bin/env bash
# Installs everything the tests and the main playbook need, reusing what is
# already there:
#   - Debian packages: redis-server (test Redis servers), mariadb-server (test
#     MariaDB servers: mariadbd, mariadb-install-db and the mariadb client),
#     openssl (KEDA certs), nginx-light and gettext-base (the bench nginx routing
#     loaded by a real nginx), and for hack/lint.sh (ansible-test sanity) shellcheck
#   - the Go-built binaries of the local control plane (hack/localcluster)
#   - a Python virtual environment from requirements/dev.txt, kept in the cache
#     and keyed by the requirements' hash, plus ansible-runner's HTTP event
#     plugin that ships with ansible-operator
#   - the bench image's Python as the backup scripts use it (boto3), from
#     requirements/bench-image.txt, linked from the first as bench-python/
# Prints the virtual environment's directory on stdout as its last line.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LOCALCLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vyogotech-frappe/localcluster}
log() { printf '[setup-env] %s\n' "$*" >&2; }

# -- Debian packages ---------------------------------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
{ command -v mariadb-install-db && command -v mariadb; } >/dev/null || missing+=(mariadb-server)
command -v openssl >/dev/null || missing+=(openssl)
# nginx and envsubst: the bench's nginx routing, loaded by a real nginx in the tests.
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null || missing+=(nginx-light)
command -v envsubst >/dev/null || missing+=(gettext-base)
command -v shellcheck >/dev/null || missing+=(shellcheck)
# gpg: the backup scripts encrypt sets with it, as the image's gpg does.
command -v gpg >/dev/null || missing+=(gnupg)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi
# The Debian packages may start a system-wide Redis and MariaDB; the tests
# ignore them and start their own servers, on free loopback ports with their
# own data directories, sockets and no configuration files read.

# -- control-plane binaries ----------------------------------------------------
bash "$repo/hack/localcluster/build-binaries.sh" >&2

# -- Python virtual environment ------------------------------------------------
# shellcheck source=localcluster/versions.env
source "$repo/hack/localcluster/versions.env"
key=$( (cat "$repo/requirements/dev.txt"; echo "$ANSIBLE_OPERATOR_VERSION"; python3 --version) | sha256sum | cut -c1-16)
venv="$cache/venv-$key"
if [ ! -x "$venv/bin/ansible-playbook" ] || [ ! -f "$venv/.complete" ]; then
  log "creating Python environment $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$repo/requirements/dev.txt" >&2
  "$venv/bin/pip" install -q --no-deps "$cache/ansible-operator-$ANSIBLE_OPERATOR_VERSION/ansible_runner_http" >&2
  touch "$venv/.complete"
fi

# -- the bench image's Python, as far as the backup scripts use it -------------
bench_key=$( (cat "$repo/requirements/bench-image.txt"; python3 --version) | sha256sum | cut -c1-16)
bench_python="$cache/bench-python-$bench_key"
if [ ! -x "$bench_python/bin/python" ] || [ ! -f "$bench_python/.complete" ]; then
  log "creating the bench image's Python environment $bench_python"
  rm -rf "$bench_python"
  python3 -m venv "$bench_python"
  "$bench_python/bin/pip" install -q -r "$repo/requirements/bench-image.txt" >&2
  touch "$bench_python/.complete"
fi
ln -sfn "$bench_python" "$venv/bench-python"
echo "$venv"
