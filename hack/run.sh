#!/usr/bin/env bash
# The main job (make run): apply and reconcile a FrappeBench manifest.
#   FRAPPE_MANIFEST   the manifest (default examples/frappebench.yaml)
#   KUBECONFIG        the cluster; when unset, the embedded local control plane
#                     (hack/localcluster) is started or reused, with the
#                     Frappe and KEDA CRDs installed, and without
#                     FRAPPE_MANIFEST the example sites (examples/frappe-sites.yaml)
#                     are reconciled too, on a MariaDB server and the MariaDB
#                     Operator run on this host for the demo (hack/demo_sites.py;
#                     FRAPPE_DEMO_SITES=0 leaves them out), and a worker at zero
#                     wakes for a job and goes back to zero, with the KEDA operator
#                     and a Redis run on this host (hack/demo_workers.py, about a
#                     minute; FRAPPE_DEMO_WAKE=0 leaves it out)
# Extra arguments go to ansible-playbook (e.g. -v, -e frappe_namespace=erp).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=$(bash hack/setup-env.sh | tail -n 1)
export PATH="$venv/bin:$PATH"
manifest=${FRAPPE_MANIFEST:-examples/frappebench.yaml}

install_crds=false
demo_sites=false
demo_wake=false
if [ -z "${KUBECONFIG:-}" ]; then
  [ -n "${FRAPPE_MANIFEST:-}" ] || [ "${FRAPPE_DEMO_SITES:-1}" = 0 ] || demo_sites=true
  [ -n "${FRAPPE_MANIFEST:-}" ] || [ "${FRAPPE_DEMO_WAKE:-1}" = 0 ] || demo_wake=true
  KUBECONFIG=$(python3 hack/localcluster/localcluster.py up | tail -n 1)
  export KUBECONFIG
  python3 hack/localcluster/localcluster.py keda-crds install
  install_crds=true
  echo "[run] local cluster: export KUBECONFIG=$KUBECONFIG  (stop it with: make cluster-down)" >&2
fi

ansible-playbook playbooks/site.yml -e "frappe_manifest=$manifest" -e "frappe_install_crds=$install_crds" "$@"
if [ "$demo_sites" = true ]; then
  python3 hack/demo_sites.py "$venv/bin/ansible-playbook" "$@"
fi
if [ "$demo_wake" = true ]; then
  python3 hack/demo_workers.py "$venv/bin/ansible-playbook" "$@"
fi
kubectl=$(python3 -c 'import sys; sys.path.insert(0, "hack/localcluster"); import localcluster; print(localcluster.binary("kubectl"))')
"$kubectl" get frappebenches,deployments,scaledobjects.keda.sh,persistentvolumeclaims --all-namespaces \
  -l app.kubernetes.io/managed-by=vyogotech.frappe 2>/dev/null || true
"$kubectl" get frappebenches,frappesites --all-namespaces
