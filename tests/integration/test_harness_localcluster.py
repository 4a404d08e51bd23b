"""Harness check, not a test of the collection: the local control plane behaves like a real cluster where this project relies on it."""

import json
import os

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from support import localcluster, wait_until

RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{
        "name": "main",
        "image": "registry.invalid/pause:1",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }],
}


def _pod_template(labels, extra=None):
    spec = dict(RESTRICTED_POD)
    spec.update(extra or {})
    return {"metadata": {"labels": labels}, "spec": spec}


def test_deployment_gets_running_pods_on_kwok_nodes(kube, namespace):
    kube.apply({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": _pod_template({"app": "web"})},
    })

    def running_pods():
        pods = kube.core.list_namespaced_pod(namespace, label_selector="app=web").items
        return [p for p in pods if p.status.phase == "Running"] if len(pods) == 2 else []
    pods = wait_until(lambda: len(running_pods()) == 2 and running_pods(), 60, "2 Running pods")
    node_names = {n.metadata.name for n in kube.core.list_node().items
                  if n.metadata.annotations.get("kwok.x-k8s.io/node") == "fake"}
    assert node_names, "no kwok fake nodes in the cluster"
    assert {p.spec.node_name for p in pods} <= node_names
    wait_until(lambda: kube.apps.read_namespaced_deployment("web", namespace).status.available_replicas == 2,
               60, "Deployment web to report 2 available replicas")


def test_job_completes(kube, namespace):
    kube.apply({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "once", "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": _pod_template({"app": "once"}, {"restartPolicy": "Never"})},
    })

    def complete():
        conditions = kube.batch.read_namespaced_job("once", namespace).status.conditions or []
        return any(c.type == "Complete" and c.status == "True" for c in conditions)
    wait_until(complete, 60, "Job once to complete")


@pytest.mark.parametrize("storage_class", [None, "shared-nfs"])
def test_pod_with_rwx_claim_is_scheduled(kube, namespace, storage_class):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "sites", "namespace": namespace},
             "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}}
    if storage_class:
        claim["spec"]["storageClassName"] = storage_class
    kube.apply(claim)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "uses-sites", "namespace": namespace},
           "spec": dict(RESTRICTED_POD, volumes=[{"name": "sites", "persistentVolumeClaim": {"claimName": "sites"}}])}
    pod["spec"]["containers"] = [dict(RESTRICTED_POD["containers"][0],
                                      volumeMounts=[{"name": "sites", "mountPath": "/sites"}])]
    kube.apply(pod)
    wait_until(lambda: kube.core.read_namespaced_pod("uses-sites", namespace).status.phase == "Running",
               60, "the pod mounting the RWX claim to run")
    pvc = kube.core.read_namespaced_persistent_volume_claim("sites", namespace)
    assert pvc.status.phase == "Bound"
    assert pvc.status.access_modes == ["ReadWriteMany"]
    assert pvc.spec.storage_class_name == (storage_class or "standard")


def test_claims_beyond_the_volume_pool_get_volumes_made_for_them(kube, namespace):
    """More ReadWriteOnce claims than the pool has free volumes all bind; the volumes made go with their claims."""
    if kube.local is None:
        pytest.skip("the pool and the provisioner are the local cluster's own")
    free = [pv for pv in kube.core.list_persistent_volume(label_selector="localcluster.vyogo.tech/pool=true").items
            if pv.status.phase == "Available" and pv.spec.storage_class_name == "standard"
            and pv.spec.access_modes == ["ReadWriteOnce"]]
    names = ["claim-%d" % i for i in range(len(free) + 5)]
    for name in names:
        kube.core.create_namespaced_persistent_volume_claim(namespace, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})

    def claims():
        return {c.metadata.name: c for c in kube.core.list_namespaced_persistent_volume_claim(namespace).items}
    wait_until(lambda: all(c.status.phase == "Bound" for c in claims().values()), 120,
               lambda: "%d claims to bind; Pending: %s" % (len(names), sorted(
                   n for n, c in claims().items() if c.status.phase != "Bound")))
    made = {}
    for name, claim in claims().items():
        volume = kube.core.read_persistent_volume(claim.spec.volume_name)
        if (volume.metadata.annotations or {}).get("pv.kubernetes.io/provisioned-by") == "localcluster.vyogo.tech/hostpath":
            assert (volume.spec.claim_ref.namespace, volume.spec.claim_ref.name) == (namespace, name)
            assert volume.spec.claim_ref.uid == claim.metadata.uid
            assert volume.spec.storage_class_name == "standard"
            assert volume.spec.capacity["storage"] == "1Gi"
            made[name] = volume.metadata.name
    assert len(made) >= 5, "only %d of %d claims got a volume made for them" % (len(made), len(names))

    for name in names:
        kube.core.delete_namespaced_persistent_volume_claim(name, namespace)

    def left():
        return {v.metadata.name for v in kube.core.list_persistent_volume().items} & set(made.values())
    wait_until(lambda: not left(), 60, lambda: "the volumes made for deleted claims to go: %s" % sorted(left()))


def test_storage_classes_for_access_mode_detection(kube):
    classes = {sc.metadata.name: sc for sc in client.StorageV1Api(kube.api).list_storage_class().items}
    if kube.local is None:
        pytest.skip("storage classes are the local cluster's own")
    default = [name for name, sc in classes.items()
               if (sc.metadata.annotations or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert default == ["standard"]
    assert "nfs" in classes["shared-nfs"].provisioner
    assert "nfs" not in classes["standard"].provisioner


def test_crd_structural_schema_enforces_minimum_and_applies_default(kube, namespace):
    group = "schema-check.localcluster.vyogo.tech"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets." + group},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object",
                    "properties": {
                        "size": {"type": "integer", "minimum": 1},
                        "color": {"type": "string", "default": "blue"},
                    },
                }}}},
            }],
        },
    }
    kube.apply(crd)
    try:
        localcluster.wait_established(kube.kubectl, ["widgets." + group])
        too_small = {"apiVersion": group + "/v1", "kind": "Widget",
                     "metadata": {"name": "tiny", "namespace": namespace}, "spec": {"size": 0}}
        with pytest.raises(ApiException) as err:
            kube.custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", too_small)
        assert err.value.status == 422
        message = json.loads(err.value.body)["message"]
        assert "spec.size" in message and "greater than or equal to 1" in message

        ok = dict(too_small, metadata={"name": "fine", "namespace": namespace}, spec={"size": 2})
        kube.custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", ok)
        stored = kube.custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", "fine")
        assert stored["spec"] == {"size": 2, "color": "blue"}
    finally:
        kube.ext.delete_custom_resource_definition("widgets." + group)


def test_restricted_namespace_rejects_privileged_pod(kube, namespace):
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root", "namespace": namespace},
                  "spec": {"containers": [{"name": "c", "image": "registry.invalid/pause:1",
                                           "securityContext": {"privileged": True}}]}}
    with pytest.raises(ApiException) as err:
        kube.core.create_namespaced_pod(namespace, privileged)
    assert err.value.status == 403
    assert 'violates PodSecurity "restricted' in json.loads(err.value.body)["message"]
    # The same namespace accepts a compliant pod: the rejection is PodSecurity's, not a broken API.
    compliant = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": namespace},
                 "spec": RESTRICTED_POD}
    kube.core.create_namespaced_pod(namespace, compliant)


def test_second_cluster_starts_and_stops_without_leftover_processes(kube):
    """up/down of a separate cluster: a kubeconfig that works, then no process left."""
    if kube.local is None:
        pytest.skip("only the local control plane is started and stopped by this project")
    cluster = localcluster.LocalCluster("lifecycle-check-%d" % os.getpid())
    try:
        kubeconfig = cluster.up(nodes=1)
        api = config.new_client_from_config(config_file=str(kubeconfig))
        nodes = client.CoreV1Api(api).list_node().items
        assert len(nodes) == 1
        assert localcluster._pids_with_marker(str(cluster.cluster_dir))
    finally:
        cluster.down()
    assert localcluster._pids_with_marker(str(cluster.cluster_dir)) == []
    assert not cluster.cluster_dir.exists()
