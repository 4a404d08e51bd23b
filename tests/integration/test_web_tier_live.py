"""The web tier on the real control plane: a drain through the eviction API keeps a budgeted process serving,
the status says how each component scales, and the shipped ClusterRole is all a reconcile needs for it."""

import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from support import bound_service_account, converge, shipped_cluster_role, wait_until
from test_frappe_bench_components import bench_object, example_bench


def running_pods(kube, namespace, component):
    return [p for p in kube.core.list_namespaced_pod(
        namespace, label_selector="vyogo.tech/bench=erp,app.kubernetes.io/component=%s" % component).items
        if not p.metadata.deletion_timestamp and p.status.phase == "Running"]


def evict(kube, namespace, pod):
    """The eviction API, as kubectl drain calls it: None when allowed, else the API server's status and message."""
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
    try:
        kube.core.create_namespaced_pod_eviction(pod, namespace, body)
        return None
    except ApiException as exc:
        return exc.status, exc.body


def budget_allows(kube, namespace, name, count):
    status = client.PolicyV1Api(kube.api).read_namespaced_pod_disruption_budget(name, namespace).status
    return status.disruptions_allowed == count and status.current_healthy == status.expected_pods


def test_a_drain_takes_one_pod_at_a_time_of_a_budgeted_process_and_is_never_blocked_at_one(
        kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = example_bench(namespace)
    obj["spec"]["componentReplicas"] = {"gunicorn": 2}
    obj["spec"]["componentAutoscaling"] = {"nginx": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}}
    binding = "frappe-operator-web-" + namespace
    operator = bound_service_account(kube, namespace, shipped_cluster_role(), tmp_path / "operator.kubeconfig",
                                     ["create", "poddisruptionbudgets.policy", "-n", namespace], binding=binding)
    try:
        converge(kube, tmp_path, obj, kubeconfig=operator)
    finally:
        client.RbacAuthorizationV1Api(kube.api).delete_cluster_role_binding(binding)

    scaling = bench_object(kube, namespace)["status"]["componentScaling"]
    print("componentScaling:", scaling)
    assert scaling["gunicorn"] == {"mode": "static", "provider": "", "currentReplicas": 2, "desiredReplicas": 2,
                                   "providerManaged": False}
    assert scaling["nginx"] == {"mode": "autoscaled", "provider": "hpa", "currentReplicas": 1, "desiredReplicas": 1,
                                "providerManaged": True}
    assert scaling["socketio"]["mode"] == "static" and scaling["worker-short"]["provider"] == "keda"
    hpa = client.AutoscalingV2Api(kube.api).read_namespaced_horizontal_pod_autoscaler("erp-nginx", namespace)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 3)

    # The disruption controller has counted both gunicorn pods healthy: one may go.
    wait_until(lambda: budget_allows(kube, namespace, "erp-gunicorn", 1), 60, "the gunicorn budget to allow one")
    first, second = [p.metadata.name for p in running_pods(kube, namespace, "gunicorn")]
    # As kubectl drain does, the nodes are cordoned first: the replacement of an evicted pod waits unscheduled
    # (fake nodes would run it at once, and the budget would rightly allow the next eviction).
    nodes = [n.metadata.name for n in kube.core.list_node().items]
    try:
        for node in nodes:
            kube.core.patch_node(node, {"spec": {"unschedulable": True}})
        assert evict(kube, namespace, first) is None
        refused = evict(kube, namespace, second)
    finally:
        for node in nodes:
            kube.core.patch_node(node, {"spec": {"unschedulable": False}})
    print("second gunicorn eviction:", refused)
    assert refused is not None and refused[0] == 429, refused
    assert "disruption budget" in refused[1], refused
    # Once the replacement serves, the drain goes on.
    wait_until(lambda: len(running_pods(kube, namespace, "gunicorn")) == 2
               and budget_allows(kube, namespace, "erp-gunicorn", 1), 90, "a replacement gunicorn pod")
    assert evict(kube, namespace, second) is None

    # One nginx replica and no budget: nothing holds the drain up.
    budgets = client.PolicyV1Api(kube.api).list_namespaced_pod_disruption_budget(namespace).items
    assert sorted(b.metadata.name for b in budgets) == ["erp-gunicorn"]
    nginx, = running_pods(kube, namespace, "nginx")
    assert evict(kube, namespace, nginx.metadata.name) is None
    started = time.monotonic()
    wait_until(lambda: len(running_pods(kube, namespace, "nginx")) == 1, 90, "a replacement nginx pod")
    print("nginx replaced in %.1f s" % (time.monotonic() - started))
