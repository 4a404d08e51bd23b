#!/usr/bin/env bash
# The test command (make test): installs what it needs, then runs the linters
# and the whole pytest suite (unit tests and integration tests against a real
# local control plane, or the cluster KUBECONFIG names).
# Extra arguments go to pytest, e.g. hack/run-tests.sh -m "not keda".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=$(bash hack/setup-env.sh | tail -n 1)
# The S3 server of the backup tests; make run has no use for it.
bash hack/localcluster/build-binaries.sh seaweedfs >&2
export FRAPPE_VENV="$venv"
export PATH="$venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH=""

bash hack/lint.sh
start=$(date +%s)
python -m pytest "$@"
echo "[run-tests] pytest wall time: $(( $(date +%s) - start ))s" >&2
