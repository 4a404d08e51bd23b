#!/usr/bin/env bash
# The main job (make run): apply and reconcile a FrappeBench manifest.
#   FRAPPE_MANIFEST   the manifest (default examples/frappebench.yaml)
#   KUBECONFIG        the cluster; when unset, the embedded local control plane
#                     (hack/localcluster) is started or reused, with the
#                     Frappe and KEDA CRDs installed
# Extra arguments go to ansible-playbook (e.g. -v, -e frappe_namespace=erp).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=$(bash hack/setup-env.sh | tail -n 1)
export PATH="$venv/bin:$PATH"
manifest=${FRAPPE_MANIFEST:-examples/frappebench.yaml}

install_crds=false
if [ -z "${KUBECONFIG:-}" ]; then
  KUBECONFIG=$(python3 hack/localcluster/localcluster.py up | tail -n 1)
  export KUBECONFIG
  python3 hack/localcluster/localcluster.py keda-crds install
  install_crds=true
  echo "[run] local cluster: export KUBECONFIG=$KUBECONFIG  (stop it with: make cluster-down)" >&2
fi

ansible-playbook playbooks/site.yml -e "frappe_manifest=$manifest" -e "frappe_install_crds=$install_crds" "$@"
kubectl=$(python3 -c 'import sys; sys.path.insert(0, "hack/localcluster"); import localcluster; print(localcluster.binary("kubectl"))')
"$kubectl" get frappebenches,deployments,scaledobjects.keda.sh,persistentvolumeclaims --all-namespaces \
  -l app.kubernetes.io/managed-by=vyogotech.frappe 2>/dev/null || true
"$kubectl" get frappebenches --all-namespaces
