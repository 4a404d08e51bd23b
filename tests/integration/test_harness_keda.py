"""Harness check, not a test of the collection: the real KEDA operator against the local control plane and a loopback Redis."""

import time

import pytest
import redis

from support import wait_until

pytestmark = [pytest.mark.keda]

POLLING_INTERVAL = 5


def _conditions(obj):
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def test_keda_api_group_follows_the_crds(kube, no_keda_crds):
    assert not kube.group_served("keda.sh")
    no_keda_crds.install()
    assert kube.group_served("keda.sh")
    resources = {r.name for r in kube.custom.get_api_resources("keda.sh", "v1alpha1").resources}
    assert {"scaledobjects", "triggerauthentications"} <= resources
    no_keda_crds.remove()
    assert not kube.group_served("keda.sh")


@pytest.mark.redis
def test_operator_scales_a_deployment_from_zero_on_redis_list(kube, namespace, keda_operator, redis_server):
    kube.apply({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "consumer", "namespace": namespace},
        "spec": {
            "replicas": 0, "selector": {"matchLabels": {"app": "consumer"}},
            "template": {"metadata": {"labels": {"app": "consumer"}}, "spec": {
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": "main", "image": "registry.invalid/worker:1", "securityContext": {
                    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
            }},
        },
    })
    kube.custom.create_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": "consumer", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": "consumer"},
            "minReplicaCount": 0, "maxReplicaCount": 1,
            "pollingInterval": POLLING_INTERVAL, "cooldownPeriod": 5,
            "triggers": [{"type": "redis", "metadata": {
                "address": redis_server.address, "listName": "jobs",
                "listLength": "1", "activationListLength": "0"}}],
        },
    })

    def ready():
        so = kube.custom.get_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects", "consumer")
        return _conditions(so).get("Ready", {}).get("status") == "True"
    wait_until(ready, 90, "ScaledObject consumer Ready=True (KEDA log: %s)" % keda_operator.logfile)

    def replicas():
        return kube.apps.read_namespaced_deployment("consumer", namespace).spec.replicas or 0
    assert replicas() == 0

    redis.Redis(host=redis_server.host, port=redis_server.port).rpush("jobs", "job-1")
    pushed = time.monotonic()
    wait_until(lambda: replicas() == 1, POLLING_INTERVAL + 10, "KEDA to scale consumer 0 -> 1")
    print("scaled 0 -> 1 in %.1fs (pollingInterval %ss)" % (time.monotonic() - pushed, POLLING_INTERVAL))

    redis.Redis(host=redis_server.host, port=redis_server.port).delete("jobs")
    wait_until(lambda: replicas() == 0, POLLING_INTERVAL + 5 + 30, "KEDA to scale consumer back to 0")
