"""The operator installed the way its users install it: kubectl apply -k config/default."""

import json

import yaml

from support import REPO, reconcile, token_kubeconfig, wait_until

NAMESPACE = "frappe-operator-system"
ACCOUNT = "frappe-operator"


def test_config_default_installs_a_running_manager_whose_account_can_reconcile(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    built = kube.kubectl("kustomize", REPO / "config" / "default").stdout
    objects = [o for o in yaml.safe_load_all(built) if o]
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} >= {
        ("Namespace", NAMESPACE), ("CustomResourceDefinition", "frappebenches.vyogo.tech"),
        ("ServiceAccount", ACCOUNT), ("ClusterRole", "frappe-operator"), ("ClusterRoleBinding", "frappe-operator"),
        ("Role", "frappe-operator-leader-election"), ("RoleBinding", "frappe-operator-leader-election"),
        ("Deployment", "frappe-operator-controller-manager")}
    # Every namespaced object lands in the operator's namespace, and the bindings name its account there.
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] not in (
        "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding")} == {NAMESPACE}
    assert all(s["namespace"] == NAMESPACE for o in objects for s in o.get("subjects", []))
    # The ClusterRole is role.yaml, the one the reconcile is tested against.
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert role["rules"] == yaml.safe_load((REPO / "config" / "rbac" / "role.yaml").read_text())["rules"]

    (tmp_path / "operator.yaml").write_text(built)
    kube.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=pytest", "-f", tmp_path / "operator.yaml")
    try:
        # PodSecurity "restricted" admits the manager pod, and the cluster runs it.
        def running():
            pods = json.loads(kube.kubectl("get", "pods", "-n", NAMESPACE, "-l", "control-plane=controller-manager",
                                           "-o", "json").stdout)["items"]
            return [p for p in pods if p["status"].get("phase") == "Running"]
        pod = wait_until(running, 90, "the manager pod to run")[0]
        assert pod["spec"]["serviceAccountName"] == ACCOUNT
        args = pod["spec"]["containers"][0]["args"]
        assert "--leader-elect" in args and "--health-probe-bind-address=:6789" in args
        # As the operator tests run it (support.manager_proxy_args): owner
        # reference injection on, which is what makes dependent watches work.
        assert "--inject-owner-ref=true" in args
        can = kube.kubectl("auth", "can-i", "create", "leases.coordination.k8s.io", "-n", NAMESPACE,
                           "--as", "system:serviceaccount:%s:%s" % (NAMESPACE, ACCOUNT), check=False)
        assert can.stdout.strip() == "yes", can.stderr

        # Its account reconciles a bench with nothing more (RBAC is the API server's).
        kubeconfig = token_kubeconfig(kube, NAMESPACE, ACCOUNT, tmp_path / "operator.kubeconfig")

        bench = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
                 "metadata": {"name": "erp", "namespace": namespace},
                 "spec": {"frappeVersion": "version-15",
                          "imageConfig": {"repository": "registry.invalid/erpnext", "tag": "v15"}}}

        def reconciled():
            run = reconcile(kube, tmp_path, bench, kubeconfig=kubeconfig)
            return run if run.rc == 0 else None
        # A new binding can take a moment to reach the API server's authorizer cache.
        run = wait_until(reconciled, 60, "the operator's account to reconcile a bench")
        assert run.changed > 0
    finally:
        kube.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        kube.kubectl("delete", "clusterrolebinding", "frappe-operator", "--ignore-not-found", check=False)
