"""Serverless RQ workers: the frappe_bench role against the real API server, KEDA and Redis."""

import base64
import datetime
import json
import os
import subprocess
import sys
import time

import pytest
import redis
import yaml
from kubernetes.client.rest import ApiException
from rq import Queue
from rq.registry import StartedJobRegistry

from support import (REPO, AnsibleOperator, configured, manager_proxy_args, reconcile, reconcile_until, run_playbook,
                     token_kubeconfig, wait_until, write_manifest)

WORKERS = ("short", "long", "default")


def bench(namespace, name="erp", **spec):
    body = {"frappeVersion": "version-15", "imageConfig": {"repository": "registry.invalid/erpnext", "tag": "v15"}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


def deployment(kube, namespace, name):
    return kube.apps.read_namespaced_deployment(name, namespace)


def scaled_objects(kube, namespace):
    items = kube.custom.list_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects")["items"]
    return {so["metadata"]["name"]: so for so in items}


def bench_status(kube, namespace, name="erp"):
    return kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", name)["status"]


def scale(kube, namespace, name, replicas):
    """Write the scale subresource, as the HPA KEDA drives does."""
    kube.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


def external_redis_secret(kube, namespace, server, name="redis-queue-ext"):
    data = {"host": server.host, "port": str(server.port)}
    if server.password:
        data["password"] = server.password
    kube.core.create_namespaced_secret(namespace, {
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})
    return name


def test_without_keda_workers_run_static_with_one_warning(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    run = reconcile_until(kube, tmp_path, bench(namespace), configured)
    assert run.rc == 0, run.explain()
    # site.yml reconciles in rounds until the processes are applied: one run takes a new bench there.
    assert run.runs == 1
    for worker in WORKERS:
        d = deployment(kube, namespace, "erp-worker-%s" % worker)
        assert d.spec.replicas == 1
        assert d.metadata.annotations["vyogo.tech/scaling-mode"] == "static"
        assert d.spec.template.spec.containers[0].args == ["bench", "worker", "--queue", worker]
        assert "keda.sh/managed-by" not in d.metadata.annotations
    assert not kube.group_served("keda.sh")
    keda_warnings = [w for w in run.warnings if "KEDA is not available" in w]
    assert len(keda_warnings) == 1, run.warnings
    # The default worker is not autoscaled by default, so it is not named.
    assert "worker(s) short, long run with static replicas (1, 1)" in keda_warnings[0]
    status = bench_status(kube, namespace)
    assert {w: status["workerScaling"][w]["mode"] for w in WORKERS} == dict.fromkeys(WORKERS, "static")
    assert status["workerScaling"]["short"]["kedaManaged"] is False


def test_grace_period_covers_the_longest_job_of_the_queues(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    spec = {"workerAutoscalingConfig": {"short": {"queues": ["short", "long"]}}}
    run = reconcile_until(kube, tmp_path, bench(namespace, **spec), configured)
    assert run.rc == 0, run.explain()
    grace = {w: deployment(kube, namespace, "erp-worker-%s" % w).spec.template.spec.termination_grace_period_seconds
             for w in WORKERS}
    # long jobs run up to 1500 s, short and default ones 300 s; 60 s margin.
    assert grace == {"short": 1560, "long": 1560, "default": 360}
    short = deployment(kube, namespace, "erp-worker-short")
    assert short.spec.template.spec.containers[0].args == ["bench", "worker", "--queue", "short,long"]


@pytest.mark.redis
def test_keda_wakes_a_worker_for_an_rq_job_and_keeps_it_while_the_job_runs(
        kube, namespace, frappe_crds, keda_operator, redis_factory, tmp_path):
    server = redis_factory(password="queue-secret")
    secret = external_redis_secret(kube, namespace, server)
    cooldown, polling = 10, 5
    spec = {
        "benchId": "erp-bench",
        "redisConfig": {"connectionSecretRef": {"name": secret}},
        "workerAutoscalingConfig": {"short": {"cooldownPeriod": cooldown, "pollingInterval": polling}},
    }
    run = reconcile_until(kube, tmp_path, bench(namespace, **spec), configured)
    assert run.rc == 0, run.explain()

    sos = scaled_objects(kube, namespace)
    assert sorted(sos) == ["erp-worker-long", "erp-worker-short"]  # the default worker is off by default
    for worker in ("short", "long"):
        triggers = sos["erp-worker-%s" % worker]["spec"]["triggers"]
        assert [t["metadata"]["listName"] for t in triggers] == [
            "rq:queue:erp-bench:%s" % worker, "rq:wip:erp-bench:%s" % worker]
        assert all(t["type"] == "redis" and t["metadata"]["activationListLength"] == "0" for t in triggers)
        # The password reaches KEDA only through the TriggerAuthentication.
        assert all(t["authenticationRef"] == {"name": "erp-redis-queue", "kind": "TriggerAuthentication"}
                   for t in triggers)
        assert "queue-secret" not in json.dumps(sos["erp-worker-%s" % worker])
        owner = sos["erp-worker-%s" % worker]["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("FrappeBench", "erp", True)
    auth = kube.custom.get_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "triggerauthentications",
                                                    "erp-redis-queue")
    assert {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}["password"] == (
        secret, "password")

    def ready(name):
        so = scaled_objects(kube, namespace)[name]
        return any(c["type"] == "Ready" and c["status"] == "True" for c in so.get("status", {}).get("conditions", []))
    for name in ("erp-worker-short", "erp-worker-long"):
        wait_until(lambda: ready(name), 90, "%s Ready=True (KEDA log %s)" % (name, keda_operator.logfile))

    def replicas():
        return deployment(kube, namespace, "erp-worker-short").spec.replicas
    assert replicas() == 0

    # Frappe enqueues into "<bench_id>:<queue>"; rq builds the keys KEDA watches.
    connection = redis.Redis(host=server.host, port=server.port, password=server.password)
    queue = Queue("erp-bench:short", connection=connection)
    job_seconds = cooldown + 3 * polling
    queue.enqueue("time.sleep", job_seconds, job_timeout=job_seconds * 4)
    assert connection.llen(queue.key) == 1
    wait_until(lambda: replicas() == 1, polling + 10, "KEDA to wake erp-worker-short for the queued job")
    # The bench status says why, from KEDA's own objects: the waiting-jobs trigger is active.
    run = reconcile(kube, tmp_path, bench(namespace, **spec))
    assert run.rc == 0, run.explain()
    short = bench_status(kube, namespace)["workerScaling"]["short"]
    assert short["kedaReady"] is True and short["kedaMessage"] == "", short
    assert "short-waiting" in short["activeTriggers"] and short["desiredReplicas"] == 1, short

    # A real rq worker (the host stands in for the pod) takes the job: the
    # waiting list empties, the started registry holds the job.
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url",
         "redis://:%s@%s:%d/0" % (server.password, server.host, server.port), "erp-bench:short"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: StartedJobRegistry(queue=queue).count == 1, 20, "the rq worker to start the job")
        assert connection.llen(queue.key) == 0
        seen = []
        while worker.poll() is None:
            seen.append(replicas())
            time.sleep(1)
        assert worker.returncode == 0, worker.stdout.read()
    finally:
        if worker.poll() is None:
            worker.kill()
    # The job ran longer than the cooldown, and the worker was never scaled away.
    assert len(seen) >= cooldown and min(seen) >= 1, seen
    assert StartedJobRegistry(queue=queue).count == 0
    wait_until(lambda: replicas() == 0, cooldown + polling + 20, "erp-worker-short to scale back to 0")


def _so_ready(kube, namespace, name):
    so = scaled_objects(kube, namespace).get(name, {})
    return {c["type"]: c for c in so.get("status", {}).get("conditions", [])}.get("Ready", {}).get("status")


@pytest.mark.redis
def test_a_worker_whose_queue_keda_cannot_read_runs_static_until_keda_reads_it_again(
        kube, namespace, frappe_crds, keda_operator, redis_factory, tmp_path):
    server = redis_factory(password="queue-secret")
    secret = external_redis_secret(kube, namespace, server)
    spec = {"redisConfig": {"connectionSecretRef": {"name": secret}},
            "workerAutoscalingConfig": {"short": {"cooldownPeriod": 5, "pollingInterval": 3},
                                        "long": {"pollingInterval": 3}}}
    assert reconcile_until(kube, tmp_path, bench(namespace, **spec), configured).rc == 0
    for name in ("erp-worker-short", "erp-worker-long"):
        wait_until(lambda: _so_ready(kube, namespace, name) == "True", 90,
                   "%s Ready=True (KEDA log %s)" % (name, keda_operator.logfile))
    # The signal the role reads for "the KEDA operator runs" is the one this operator writes.
    lease = json.loads(kube.kubectl("get", "lease", "operator.keda.sh", "-n", "keda", "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] and lease["spec"].get("renewTime"), lease
    assert deployment(kube, namespace, "erp-worker-short").spec.replicas == 0

    # The queue's password changes under KEDA (its TriggerAuthentication still
    # has the old one): it cannot read the queue, and a job would wait forever.
    admin = redis.Redis(host=server.host, port=server.port, password=server.password)
    admin.config_set("requirepass", "rotated-secret")
    admin.client_kill_filter(_type="normal", skipme=True)
    for name in ("erp-worker-short", "erp-worker-long"):
        wait_until(lambda: _so_ready(kube, namespace, name) == "False", 60,
                   "KEDA to report it cannot read the queue of %s" % name)
    run = reconcile(kube, tmp_path, bench(namespace, **spec))
    assert run.rc == 0, run.explain()
    assert any("KEDA cannot read the queue of worker short (TriggerError" in w for w in run.warnings), run.warnings
    status = bench_status(kube, namespace)
    short = status["workerScaling"]["short"]
    assert (short["mode"], short["kedaManaged"], short["kedaReady"]) == ("fallback", True, False), short
    assert short["message"].startswith("KEDA cannot read its queue (TriggerError: "), short
    # Its jobs run meanwhile; the ScaledObject stays for KEDA to take it back.
    short_deployment = deployment(kube, namespace, "erp-worker-short")
    assert short_deployment.spec.replicas == 1
    assert short_deployment.metadata.annotations["vyogo.tech/scaling-mode"] == "fallback"
    assert "erp-worker-short" in scaled_objects(kube, namespace)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["WorkersReady"]["status"], conditions["WorkersReady"]["reason"]) == ("False", "ScalerFailing")
    assert "KEDA cannot read the queue of worker-short" in conditions["WorkersReady"]["message"]
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "ScalerFailing")
    assert status["phase"] == "Degraded"
    assert status["workerScaling"]["long"]["mode"] == "fallback"  # same queue Redis, same password
    events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=erp").items
    assert ("Warning", "ScalerFallback") in {(e.type, e.reason) for e in events}
    # A second reconcile while KEDA still cannot read it changes nothing.
    run = reconcile(kube, tmp_path, bench(namespace, **spec))
    assert run.rc == 0 and run.changed == 0, [t for t in run.json.get("plays", [{}])[0].get("tasks", [])
                                              if any(h.get("changed") for h in t.get("hosts", {}).values())]

    # The password is put back: KEDA reads the queue again and gets the worker back.
    redis.Redis(host=server.host, port=server.port, password="rotated-secret").config_set(
        "requirepass", server.password)
    wait_until(lambda: _so_ready(kube, namespace, "erp-worker-short") == "True", 60,
               "KEDA to read the queue of erp-worker-short again")
    run = reconcile_until(kube, tmp_path, bench(namespace, **spec))
    assert run.rc == 0, run.explain()
    status = bench_status(kube, namespace)
    assert status["workerScaling"]["short"]["mode"] == "autoscaled" and status["phase"] == "Ready", status
    events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=erp").items
    assert any(e.reason == "Autoscaled" and e.message.startswith("Worker short is autoscaled now (was fallback)")
               for e in events), [e.message for e in events]
    # KEDA, not the role, takes the idle worker back to zero.
    wait_until(lambda: deployment(kube, namespace, "erp-worker-short").spec.replicas == 0, 60,
               "KEDA to scale the idle erp-worker-short back to 0")


def test_reconcile_keeps_the_replicas_keda_set_and_corrects_static_drift(
        kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = bench(namespace, workerAutoscalingConfig={"default": {"enabled": False, "staticReplicas": 2}})
    run = reconcile_until(kube, tmp_path, obj, configured)
    assert run.rc == 0, run.explain()
    assert deployment(kube, namespace, "erp-worker-short").spec.replicas == 0
    assert deployment(kube, namespace, "erp-worker-default").spec.replicas == 2

    scale(kube, namespace, "erp-worker-short", 3)   # what KEDA's HPA does under load
    scale(kube, namespace, "erp-worker-default", 5)  # someone scales a static worker by hand
    run = reconcile(kube, tmp_path, obj)
    assert run.rc == 0, run.explain()
    assert deployment(kube, namespace, "erp-worker-short").spec.replicas == 3
    assert deployment(kube, namespace, "erp-worker-default").spec.replicas == 2
    status = bench_status(kube, namespace)["workerScaling"]
    assert status["short"]["desiredReplicas"] == 3 and status["short"]["mode"] == "autoscaled"


def test_a_worker_waking_from_zero_never_makes_the_bench_degraded(
        kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = bench(namespace)
    run = reconcile_until(kube, tmp_path, obj)
    assert run.rc == 0, run.explain()
    assert bench_status(kube, namespace)["phase"] == "Ready"
    nodes = [n.metadata.name for n in kube.core.list_node().items]
    try:
        # No node takes a new pod, so the woken worker stays unavailable while we look.
        for node in nodes:
            kube.kubectl("cordon", node)
        scale(kube, namespace, "erp-worker-short", 1)  # what KEDA does for a job waiting at zero
        run = reconcile(kube, tmp_path, obj)
        assert run.rc == 0, run.explain()
        status = bench_status(kube, namespace)
        assert deployment(kube, namespace, "erp-worker-short").status.available_replicas is None
        assert status["phase"] == "Ready", status
        workers = {c["type"]: c for c in status["conditions"]}["WorkersReady"]
        assert workers["status"] == "True" and "Starting for KEDA" in workers["message"], workers
        assert "worker-short" in workers["message"]
        short = status["workerScaling"]["short"]
        assert short["desiredReplicas"] == 1 and short["message"].startswith("KEDA scales it from 0 to 10")
    finally:
        for node in nodes:
            kube.kubectl("uncordon", node)


def test_keda_removed_and_reinstalled_mid_life(kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = bench(namespace)
    assert reconcile_until(kube, tmp_path, obj, configured).rc == 0
    assert sorted(scaled_objects(kube, namespace)) == ["erp-worker-long", "erp-worker-short"]
    assert deployment(kube, namespace, "erp-worker-short").spec.replicas == 0

    keda_crds.remove()
    run = reconcile(kube, tmp_path, obj)
    assert run.rc == 0, run.explain()
    assert any("KEDA is not available" in w for w in run.warnings)
    for worker in WORKERS:
        d = deployment(kube, namespace, "erp-worker-%s" % worker)
        assert (d.spec.replicas, d.metadata.annotations["vyogo.tech/scaling-mode"]) == (1, "static")
        # Back to static: the seed annotation that KEDA manages it is gone.
        assert "keda.sh/managed-by" not in d.metadata.annotations, worker

    keda_crds.install()
    run = reconcile(kube, tmp_path, obj)
    assert run.rc == 0, run.explain()
    assert sorted(scaled_objects(kube, namespace)) == ["erp-worker-long", "erp-worker-short"]
    short = deployment(kube, namespace, "erp-worker-short")
    assert short.metadata.annotations["vyogo.tech/scaling-mode"] == "autoscaled"
    assert short.metadata.annotations["keda.sh/managed-by"] == "vyogotech.frappe"
    # Handed over with the replica it has; KEDA scales it to zero when idle.
    assert short.spec.replicas == 1


@pytest.mark.parametrize("block, message", [
    ({"minReplicas": 5, "maxReplicas": 2}, "minReplicas must be less than or equal to maxReplicas"),
    ({"minReplicas": -1}, "should be greater than or equal to 0"),
    ({"queueLength": 0}, "should be greater than or equal to 1"),
])
def test_invalid_scaling_is_rejected_at_admission_and_nothing_is_created(
        kube, namespace, frappe_crds, tmp_path, block, message):
    run = reconcile(kube, tmp_path, bench(namespace, workerAutoscalingConfig={"short": block}))
    assert run.rc != 0
    assert message in run.failure_message, run.explain()
    assert "workerAutoscalingConfig.short" in run.failure_message
    assert kube.apps.list_namespaced_deployment(namespace).items == []
    with pytest.raises(ApiException) as err:
        kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")
    assert err.value.status == 404


def test_role_rejects_invalid_input_before_writing_anything(kube, namespace, frappe_crds, tmp_path):
    """Bad input the schema cannot catch fails in the role, with the field named, and applies nothing."""
    obj = bench(namespace, redisConfig={"connectionSecretRef": {"name": "no-such-secret"}})
    run = reconcile(kube, tmp_path, obj)
    assert run.rc != 0
    assert "spec.redisConfig.connectionSecretRef" in run.failure_message, run.explain()
    assert "host and port" in run.failure_message
    assert kube.apps.list_namespaced_deployment(namespace).items == []
    ready = {c["type"]: c for c in bench_status(kube, namespace)["conditions"]}["Ready"]
    assert ready["status"] == "False" and "no-such-secret" in ready["message"]


def _subset_mismatches(want, have, path=""):
    """Paths where `have` does not contain `want` (lists compared item by item)."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [path]
        return [m for k, v in want.items() for m in _subset_mismatches(v, have.get(k), "%s.%s" % (path, k))]
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return [path]
        return [m for i, (w, h) in enumerate(zip(want, have)) for m in _subset_mismatches(w, h, "%s[%d]" % (path, i))]
    return [] if want == have else ["%s: %r != %r" % (path, want, have)]


def test_site_is_idempotent_and_render_matches_what_it_applied(kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = bench(namespace, storageClassName="shared-nfs",
                workerAutoscalingConfig={"default": {"enabled": True, "maxReplicas": 3}})
    manifest = write_manifest(tmp_path, obj)
    # Run until the bench is Ready (a reconcile does not wait for its Job or rollouts), then once more.
    first = reconcile_until(kube, tmp_path, obj)
    assert first.rc == 0, first.explain()
    second = run_playbook(kube, "site.yml", {"frappe_manifest": str(manifest)})
    assert second.rc == 0, second.explain()
    assert second.changed == 0, [t for t in second.json["plays"][0]["tasks"]
                                 if t["hosts"]["localhost"].get("changed")]

    out = tmp_path / "rendered"
    render = run_playbook(kube, "render.yml", {"frappe_manifest": str(manifest), "frappe_render_dir": str(out),
                                               "frappe_keda_available": True})
    assert render.rc == 0, render.explain()
    rendered = [d for d in yaml.safe_load_all((out / "manifests.yaml").read_text()) if d]
    kinds = ("deployments.apps,statefulsets.apps,services,configmaps,jobs.batch,persistentvolumeclaims,"
             "scaledobjects.keda.sh,triggerauthentications.keda.sh,networkpolicies.networking.k8s.io")
    live = json.loads(kube.kubectl("get", kinds, "-n", namespace, "-l", "vyogo.tech/bench=erp", "-o", "json").stdout)
    # The queue Redis volume is made by the StatefulSet controller from the
    # claim template rendered inside the StatefulSet, not rendered on its own.
    live = {(item["kind"], item["metadata"]["name"]): item for item in live["items"]
            if item["metadata"]["name"] != "data-erp-redis-queue-0"}
    assert ("StatefulSet", "erp-redis-queue") in live
    assert {(d["kind"], d["metadata"]["name"]) for d in rendered} == set(live)
    for doc in rendered:
        assert "ownerReferences" not in doc["metadata"]
        mismatches = _subset_mismatches(doc, live[(doc["kind"], doc["metadata"]["name"])])
        assert mismatches == [], (doc["kind"], doc["metadata"]["name"])


def test_reconcile_needs_only_the_shipped_cluster_role(kube, namespace, frappe_crds, keda_crds, tmp_path):
    role = yaml.safe_load((REPO / "config" / "rbac" / "role.yaml").read_text())
    kube.apply(role)
    for sa in ("operator", "nobody"):
        kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": sa}})
    kube.apply({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "frappe-operator-" + namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": namespace}]})
    try:
        allowed = token_kubeconfig(kube, namespace, "operator", tmp_path / "operator.kubeconfig")
        # RBAC is enforced by the API server: without the binding the same run is refused.
        refused = reconcile(kube, tmp_path, bench(namespace),
                            kubeconfig=token_kubeconfig(kube, namespace, "nobody", tmp_path / "nobody.kubeconfig"))
        assert refused.rc != 0 and "forbidden" in refused.stdout.lower()

        attempts = []

        def granted():
            run = reconcile_until(kube, tmp_path, bench(namespace, workerAutoscalingConfig={"default": {"enabled": True}}),
                                  until=configured, kubeconfig=allowed)
            attempts.append(run.failure_message)
            return run if run.rc == 0 else None
        run = wait_until(granted, 60, lambda: "the bound ServiceAccount to reconcile: %s" % attempts[-3:])
        assert sorted(scaled_objects(kube, namespace)) == [
            "erp-worker-default", "erp-worker-long", "erp-worker-short"]
        assert bench_status(kube, namespace)["workerScaling"]["default"]["kedaManaged"] is True
        assert run.changed > 0
    finally:
        kube.kubectl("delete", "clusterrolebinding", "frappe-operator-" + namespace, "--ignore-not-found")


# What a bench owns, by kind (its plan's kinds, KEDA's aside: its CRDs are off here).
OWNED_KINDS = ("Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "Job",
               "NetworkPolicy")


def owned_objects(kube, namespace, name="erp"):
    """Every object of the bench's kinds labelled as its, as (kind, name, ownerReferences)."""
    out = []
    for kind in OWNED_KINDS:
        items = json.loads(kube.kubectl("get", kind, "-n", namespace, "-l", "app.kubernetes.io/instance=" + name,
                                        "-o", "json").stdout)["items"]
        out += [(kind, i["metadata"]["name"], i["metadata"].get("ownerReferences", [])) for i in items]
    return out


def _quiet(operator, seconds=6):
    """Wait until the operator's log has not grown for `seconds`: no run in flight (its proxy logs every request)."""
    seen = [operator.logfile.stat().st_size, time.monotonic()]

    def settled():
        operator.check_alive()
        size = operator.logfile.stat().st_size
        if size != seen[0]:
            seen[:] = [size, time.monotonic()]
        return time.monotonic() - seen[1] >= seconds
    wait_until(settled, 120, "the operator's reconciles to settle (log %s)" % operator.logfile, interval=1)


@pytest.mark.operator
def test_the_operator_repairs_a_deleted_or_edited_dependent_at_once_and_after_a_restart(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    # The proxy flags as shipped: owner reference injection on, which is what
    # makes the proxy watch dependents; the roles keep one reference each.
    def start():
        return AnsibleOperator(kube, REPO / "watches.yaml", namespace, tmp_path,
                               collections_path=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0],
                               extra_args=manager_proxy_args()).start()
    assert manager_proxy_args() == ["--inject-owner-ref=true"]
    operator = start()
    try:
        obj = bench(namespace)
        kube.custom.create_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", obj)

        def reconciled():
            operator.check_alive()
            status = kube.custom.get_namespaced_custom_object(
                "vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp").get("status", {})
            conditions = {c["type"]: c for c in status.get("conditions", [])}
            return conditions.get("Ready", {}).get("status") == "True" and status
        status = wait_until(reconciled, 180, "the operator to reconcile the bench (log %s)" % operator.logfile)
        assert status["workerScaling"]["short"]["mode"] == "static"
        cr_uid = kube.custom.get_namespaced_custom_object(
            "vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")["metadata"]["uid"]
        # Exactly one owner reference on everything the bench owns: the role's
        # controller reference, the proxy's copy taken off after the create;
        # and none on the sites volume, which a bench keeps unless told otherwise.
        owned = owned_objects(kube, namespace)
        assert {kind for kind, _n, _o in owned} >= {"Deployment", "StatefulSet", "Service", "Secret",
                                                    "PersistentVolumeClaim", "Job"}, owned
        expected = dict(PersistentVolumeClaim=[])
        wrong = [(kind, name, [(o["kind"], o["uid"], o.get("controller")) for o in owners])
                 for kind, name, owners in owned
                 if [(o["kind"], o["uid"], o.get("controller")) for o in owners]
                 != expected.get(kind, [("FrappeBench", cr_uid, True)])]
        assert not wrong, wrong

        def repaired(worker):
            _quiet(operator)
            service = kube.core.read_namespaced_service("erp-gunicorn", namespace)
            selector = dict(service.spec.selector)
            edited = dict(selector, **{"app.kubernetes.io/component": "edited"})
            kube.core.patch_namespaced_service("erp-gunicorn", namespace, {"spec": {"selector": edited}})
            kube.apps.delete_namespaced_deployment("erp-worker-" + worker, namespace)
            started = time.monotonic()

            def back():
                operator.check_alive()
                try:
                    deployment(kube, namespace, "erp-worker-" + worker)
                except ApiException as exc:
                    if exc.status == 404:
                        return False
                    raise
                return kube.core.read_namespaced_service("erp-gunicorn", namespace).spec.selector == selector
            # reconcilePeriod is 5 minutes: only a dependent watch repairs this within the minute.
            wait_until(back, 60, "the deleted Deployment and the edited Service to be repaired (log %s)"
                       % operator.logfile)
            return time.monotonic() - started
        first = repaired("short")
        # A restarted operator has no watches until its reconciles read the
        # dependents by name again (the proxy then watches their kinds).
        operator.stop()
        operator = start()
        again = repaired("long")
        # The same reconcile takes the proxy's copy off the Deployment it created.

        def one_owner():
            owners = deployment(kube, namespace, "erp-worker-long").metadata.owner_references
            return [(o.kind, o.uid, o.controller) for o in owners] == [("FrappeBench", cr_uid, True)]
        wait_until(one_owner, 30, "one owner reference on the Deployment created again")
        print("repaired in %.1f s, after a restart in %.1f s" % (first, again))
    finally:
        operator.stop()


def _keda_lease(kube, renewed_seconds_ago):
    """The KEDA operator's leader-election Lease, as a running (or vanished) operator leaves it."""
    kube.kubectl("create", "namespace", "keda", check=False)
    renew = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=renewed_seconds_ago)
    kube.apply({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "operator.keda.sh", "namespace": "keda"},
                "spec": {"holderIdentity": "keda-operator-0_test", "leaseDurationSeconds": 15,
                         "renewTime": renew.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}})


def test_workers_fall_back_to_static_while_the_keda_operator_is_gone_and_back(
        kube, namespace, frappe_crds, keda_crds, tmp_path):
    try:
        _keda_lease(kube, 0)
        obj = bench(namespace)
        assert reconcile_until(kube, tmp_path, obj, configured).rc == 0
        assert bench_status(kube, namespace)["workerScaling"]["short"]["mode"] == "autoscaled"
        # A finalizer only the (gone) operator removes: the reconcile must not wait on it.
        kube.custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects",
                                                   "erp-worker-short", {"metadata": {"finalizers": ["finalizer.keda.sh"]}})

        _keda_lease(kube, 600)  # the operator stopped ten minutes ago
        started = time.monotonic()
        run = reconcile(kube, tmp_path, obj)
        assert run.rc == 0, run.explain()
        assert time.monotonic() - started < 60
        assert any("the KEDA operator is not running" in w for w in run.warnings), run.warnings
        status = bench_status(kube, namespace)["workerScaling"]
        assert status["short"]["mode"] == "static" and "KEDA operator is not running" in status["short"]["message"]
        assert deployment(kube, namespace, "erp-worker-short").spec.replicas == 1  # jobs run meanwhile
        events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=erp").items
        assert {(e.reason, e.message.split(":")[0]) for e in events} >= {
            ("StaticReplicas", "Worker short is static now (was autoscaled)"),
            ("StaticReplicas", "Worker long is static now (was autoscaled)")}

        _keda_lease(kube, 0)  # back
        # What the operator does when it is back (a KEDA operator this session started may have done it already).
        kube.kubectl("patch", "scaledobject.keda.sh", "erp-worker-short", "-n", namespace, "--type=merge",
                     "-p", '{"metadata":{"finalizers":null}}', check=False)
        wait_until(lambda: "erp-worker-short" not in scaled_objects(kube, namespace), 30,
                   "the ScaledObject's deletion to finish")
        assert reconcile(kube, tmp_path, obj).rc == 0
        assert bench_status(kube, namespace)["workerScaling"]["short"]["mode"] == "autoscaled"
        assert "erp-worker-short" in scaled_objects(kube, namespace)
        events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=erp").items
        assert "Autoscaled" in {e.reason for e in events}
    finally:
        kube.kubectl("delete", "lease", "operator.keda.sh", "-n", "keda", "--ignore-not-found")
