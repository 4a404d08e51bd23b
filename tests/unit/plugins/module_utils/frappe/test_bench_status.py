"""Unit tests of bench_status: conditions, phase and worker scaling from a plan and live objects."""

import copy

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import bench_rollout_pending, bench_status

import test_bench_plan as bench_case
from test_bench_plan import SETTINGS, bench, plan


def deployment(name, replicas=1, available=None, generation=1, progressing="True"):
    available = replicas if available is None else available
    return {"kind": "Deployment", "metadata": {"name": name, "generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": available,
                       "conditions": [{"type": "Progressing", "status": progressing}]}}


def statefulset(name):
    return {"kind": "StatefulSet", "metadata": {"name": name, "generation": 1}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1,
                       "currentRevision": "r1", "updateRevision": "r1"}}


def healthy(p):
    """The live objects of a bench whose every part is up, for plan p."""
    deployments = [deployment("erp-%s" % c) for c in ("gunicorn", "nginx", "socketio", "scheduler")]
    deployments += [deployment(p["names"]["worker"][t], replicas=w["replicas"]) for t, w in p["workers"].items()]
    return {"deployments": deployments,
            "statefulsets": [statefulset("erp-redis-cache"), statefulset("erp-redis-queue")],
            "sites_claim": [{"kind": "PersistentVolumeClaim", "metadata": {"name": "erp-sites"},
                             "status": {"phase": "Bound"}}]}


def conditions(result):
    return dict((c["type"], c) for c in result["conditions"])


def test_a_bench_whose_every_part_is_up_is_ready_and_then_unchanged():
    p, b = plan(), bench()
    result = bench_status(p, healthy(p), b, SETTINGS)
    assert result["phase"] == "Ready" and all(c["status"] == "True" for c in result["conditions"]), result
    assert result["status"]["workerScaling"]["short"]["mode"] == "autoscaled" and not result["unchanged"]
    # What a site of the bench needs, published once.
    assert (result["status"]["image"], result["status"]["sitesClaim"]) == ("docker.io/frappe/erpnext:v15.45.0", "erp-sites")
    assert result["status"]["redis"] == {"cache": "erp-redis-cache:6379", "queue": "erp-redis-queue:6379",
                                         "passwordSecret": "erp-redis", "connectionSecret": ""}
    assert result["status"]["sitesAccessMode"] in ("ReadWriteMany", "ReadWriteOnce")
    assert result["status"]["frontend"] == {"service": "erp-nginx", "port": 8080}
    stored = copy.deepcopy(b)
    stored["status"] = dict(result["status"], conditions=[dict(c, lastTransitionTime="2026-11-27T08:00:00Z")
                                                          for c in result["conditions"]])
    stored["status"]["workerScaling"] = dict(
        (t, dict((k, v) for k, v in s.items() if v is not None)) for t, s in result["status"]["workerScaling"].items())
    assert bench_status(p, healthy(p), stored, SETTINGS)["unchanged"] is True


def test_a_rollout_that_gave_up_is_not_ready_though_old_pods_serve():
    p = plan()
    live = healthy(p)
    live["deployments"][0] = deployment("erp-gunicorn", replicas=2, progressing="False")
    result = bench_status(p, live, bench(status={"phase": "Ready"}), SETTINGS)
    ready = conditions(result)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ComponentsNotReady")
    assert ready["message"] == "Not available yet: gunicorn." and result["phase"] == "Degraded"


def test_a_worker_waking_from_zero_is_starting_not_unavailable():
    p = plan()
    live = healthy(p)
    live["deployments"] = [d for d in live["deployments"] if d["metadata"]["name"] != "erp-worker-short"]
    live["deployments"].append(deployment("erp-worker-short", replicas=1, available=0, generation=2))
    result = bench_status(p, live, bench(), SETTINGS)
    workers = conditions(result)["WorkersReady"]
    assert result["phase"] == "Ready" and workers["status"] == "True"
    assert "Starting for KEDA (for example woken from zero): worker-short." in workers["message"]


def test_a_worker_keda_cannot_read_makes_the_bench_degraded_and_is_an_event():
    failing = {"kind": "ScaledObject", "metadata": {"name": "erp-worker-short",
                                                    "labels": {"app.kubernetes.io/component": "worker-short"}},
               "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "TriggerError", "message": "x"}]}}
    p = plan(scaledobjects=[failing])
    live = dict(healthy(p), scaledobjects=[failing])
    stored = bench(status={"phase": "Ready", "workerScaling": {"short": {"mode": "autoscaled"}, "long": {"mode": "autoscaled"}}})
    result = bench_status(p, live, stored, SETTINGS)
    assert (conditions(result)["WorkersReady"]["reason"], conditions(result)["Ready"]["reason"]) == (
        "ScalerFailing", "ScalerFailing")
    assert result["phase"] == "Degraded"
    assert result["status"]["workerScaling"]["short"]["kedaReady"] is False
    assert result["mode_changes"] == [{"worker": "short", "mode": "fallback", "previous": "autoscaled",
                                       "message": result["status"]["workerScaling"]["short"]["message"]}]


def test_missing_parts_are_named():
    p = plan()
    result = bench_status(p, {}, bench(), SETTINGS)
    assert result["phase"] == "Provisioning"
    assert conditions(result)["StorageReady"]["message"].startswith("The sites volume erp-sites is Missing")
    assert "erp-redis-cache, erp-redis-queue" in conditions(result)["RedisReady"]["message"]
    assert conditions(result)["Ready"]["message"].endswith("erp-redis-cache, erp-redis-queue, sites volume.")


def test_rollout_pending_uses_the_same_predicates():
    p = plan()
    live = healthy(p)
    assert bench_rollout_pending(live) == []
    live["deployments"][1] = deployment("erp-nginx", generation=2)
    live["deployments"][1]["status"]["observedGeneration"] = 1
    assert bench_rollout_pending(live) == ["erp-nginx"]


def test_a_route_no_longer_wanted_leaves_the_status():
    """The status writer merges: a dropped route must be named with null, or a site would trust it."""
    p, b = plan(), bench()
    b["status"] = {"routes": {"old.example.org": "erp.example.com"}}
    p["routes"]["map"] = {"new.example.org": "erp.example.com"}
    routes = bench_status(p, healthy(p), b, SETTINGS)["status"]["routes"]
    assert routes == {"old.example.org": None, "new.example.org": "erp.example.com"}


def test_the_status_publishes_the_hosts_socketio_resolves_to_nginx():
    p = bench_case.plan(sites=[bench_case._site("crm", "crm.acme.test", domain="crm.example.org")],
                        services=[bench_case.nginx_service("10.96.0.42")])
    assert bench_status(p, healthy(p), bench_case.bench(), SETTINGS)["status"]["realtimeHosts"] == [
        "crm.acme.test", "crm.example.org"]
    # Before the nginx Service exists: none yet, so each site keeps asking.
    p = bench_case.plan(sites=[bench_case._site("crm", "crm.acme.test", domain="crm.example.org")])
    assert bench_status(p, healthy(p), bench_case.bench(), SETTINGS)["status"]["realtimeHosts"] == []
