"""The whole FrappeBench: every component reconciled, kept in sync, with honest status."""

import base64
import json
import threading
import time

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from support import REPO, configured, converge, reconcile, reconcile_until, wait_until

PROCESSES = ("gunicorn", "nginx", "socketio", "scheduler", "worker-short", "worker-long", "worker-default")


def example_bench(namespace):
    obj = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    obj["metadata"]["namespace"] = namespace
    return obj


def bench_object(kube, namespace, name="erp"):
    return kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", name)


def conditions(kube, namespace):
    return {c["type"]: c for c in bench_object(kube, namespace)["status"]["conditions"]}


def bench_deployments(kube, namespace):
    return {d.metadata.name: d for d in kube.apps.list_namespaced_deployment(
        namespace, label_selector="vyogo.tech/bench=erp").items}


def _record_phases(kube, namespace, phases, stop):
    """Append every status.phase the bench shows, as a user's watch would see them."""
    stream = watch.Watch()
    for event in stream.stream(kube.custom.list_namespaced_custom_object, "vyogo.tech", "v1alpha1", namespace,
                               "frappebenches", timeout_seconds=120):
        phase = event["object"].get("status", {}).get("phase")
        if phase and (not phases or phases[-1] != phase):
            phases.append(phase)
        if stop.is_set():
            stream.stop()


def test_example_bench_converges_to_ready(kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = example_bench(namespace)
    phases, stop = [], threading.Event()
    watcher = threading.Thread(target=_record_phases, args=(kube, namespace, phases, stop), daemon=True)
    watcher.start()
    time.sleep(1)  # the watch is open before the bench exists
    converge(kube, tmp_path, obj)
    stop.set()
    kube.custom.patch_namespaced_custom_object(  # one more event, so the watch loop sees stop
        "vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp", {"metadata": {"labels": {"seen": "yes"}}})
    watcher.join(timeout=30)
    # Pending while the first reconcile runs, Ready once everything is available.
    assert phases[0] == "Pending" and phases[-1] == "Ready", phases
    assert set(phases) <= {"Pending", "Provisioning", "Ready"}, phases
    deployments = bench_deployments(kube, namespace)
    assert sorted(deployments) == sorted("erp-" + p for p in PROCESSES)
    assert deployments["erp-scheduler"].spec.replicas == 1
    assert deployments["erp-scheduler"].spec.strategy.type == "Recreate"
    # nginx runs the bench's own configuration: upstreams to the Services, each Host its own site.
    assert deployments["erp-nginx"].spec.template.spec.containers[0].args == [
        "nginx", "-c", "/etc/nginx/frappe/nginx.conf"]
    nginx_conf = kube.core.read_namespaced_config_map("erp-nginx", namespace).data["frappe.conf"]
    assert "server erp-gunicorn:8000 fail_timeout=0;" in nginx_conf
    assert "server erp-socketio:9000 fail_timeout=0;" in nginx_conf
    assert "map $host $frappe_site_name {\n    default $host;\n}" in nginx_conf
    services = {s.metadata.name: [p.port for p in s.spec.ports] for s in kube.core.list_namespaced_service(namespace).items}
    assert services == {"erp-gunicorn": [8000], "erp-nginx": [8080], "erp-socketio": [9000],
                        "erp-redis-cache": [6379], "erp-redis-queue": [6379]}
    statefulsets = {s.metadata.name: s for s in kube.apps.list_namespaced_stateful_set(namespace).items}
    assert sorted(statefulsets) == ["erp-redis-cache", "erp-redis-queue"]
    cache_args = statefulsets["erp-redis-cache"].spec.template.spec.containers[0].args
    assert cache_args[cache_args.index("--maxmemory") + 1] == str(256 * 2 ** 20)
    assert cache_args[cache_args.index("--maxmemory-policy") + 1] == "allkeys-lru"

    jobs = kube.batch.list_namespaced_job(namespace).items
    assert len(jobs) == 1 and jobs[0].status.succeeded == 1
    container = jobs[0].spec.template.spec.containers[0]
    assert container.command is None and container.args[:2] == ["bash", "-c"]
    assert 'bench set-config -g bench_id "$BENCH_ID"' in container.args[2]
    job_env = {e.name: e.value for e in container.env}
    assert job_env["BENCH_ID"] == namespace + ".erp" and job_env["REDIS_QUEUE_HOST"] == "erp-redis-queue"
    assert job_env["REDIS_QUEUE_PORT"] == "6379"

    pods = kube.core.list_namespaced_pod(namespace, label_selector="vyogo.tech/bench=erp").items
    running = {p.metadata.labels["app.kubernetes.io/component"] for p in pods if p.status.phase == "Running"}
    assert running >= {"gunicorn", "nginx", "socketio", "scheduler", "worker-default", "redis-cache", "redis-queue"}

    status = bench_object(kube, namespace)["status"]
    assert status["phase"] == "Ready" and status["observedGeneration"] == bench_object(kube, namespace)["metadata"]["generation"]
    # What a site of the bench needs, each name the one of the object that exists.
    kube.core.read_namespaced_persistent_volume_claim(status["sitesClaim"], namespace)
    kube.core.read_namespaced_secret(status["redis"]["passwordSecret"], namespace)
    for role in ("cache", "queue"):
        host, port = status["redis"][role].split(":")
        assert kube.core.read_namespaced_service(host, namespace).spec.ports[0].port == int(port)
    assert status["image"] == bench_deployments(kube, namespace)["erp-gunicorn"].spec.template.spec.containers[0].image
    conds = conditions(kube, namespace)
    assert {t: conds[t]["status"] for t in ("Ready", "StorageReady", "RedisReady", "ConfigReady", "WorkersReady")} == \
        dict.fromkeys(("Ready", "StorageReady", "RedisReady", "ConfigReady", "WorkersReady"), "True")
    table = kube.kubectl("get", "frappebench", "erp", "-n", namespace).stdout.split("\n")
    assert table[0].split()[:6] == ["NAME", "PHASE", "VERSION", "SHORT", "LONG", "DEFAULT"]
    assert table[1].split()[:6] == ["erp", "Ready", "version-15", "autoscaled", "autoscaled", "static"]


APPLY_TASKS = ("Apply the bench objects",)


def applied_objects(run):
    """(kind, name) of every object the bench's apply tasks sent in a run."""
    out = []
    for task in APPLY_TASKS:
        for result in run.task_results(task):
            if result.get("skipped") or result.get("action") != "vyogotech.frappe.k8s_apply":
                continue
            inner = result.get("result", {})
            for item in inner.get("results", [{"result": inner}]):
                out.append((item["result"]["kind"], item["result"]["metadata"]["name"]))
    return out


def test_a_reconcile_applies_only_what_differs_and_still_puts_an_edited_object_back(
        kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    # Nothing differs: no apply module runs at all.
    again = reconcile(kube, tmp_path, obj)
    assert again.rc == 0 and applied_objects(again) == [], applied_objects(again)
    assert all(r.get("skipped") for task in APPLY_TASKS for r in again.task_results(task))

    # An edit by hand is a difference: that object, and only it, is applied back.
    selector = kube.core.read_namespaced_service("erp-gunicorn", namespace).spec.selector
    kube.core.patch_namespaced_service("erp-gunicorn", namespace,
                                       {"spec": {"selector": dict(selector, **{"app.kubernetes.io/component": "x"})}})
    repaired = reconcile(kube, tmp_path, obj)
    assert repaired.rc == 0, repaired.explain()
    assert applied_objects(repaired) == [("Service", "erp-gunicorn")]
    assert kube.core.read_namespaced_service("erp-gunicorn", namespace).spec.selector == selector

    # A change of the spec reaches the objects it renders differently.
    obj["spec"]["imageConfig"]["tag"] = "v15.46.0"
    # A new image is a new configuration Job: the processes follow in the reconcile after it completed.
    changed = reconcile_until(kube, tmp_path, obj, configured)
    assert changed.rc == 0, changed.explain()
    assert ("Deployment", "erp-gunicorn") in applied_objects(changed)
    assert kube.apps.read_namespaced_deployment("erp-gunicorn", namespace).spec.template.spec.containers[0].image \
        .endswith(":v15.46.0")


def test_changes_roll_out_and_settle(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    first_ready = conditions(kube, namespace)["Ready"]["lastTransitionTime"]
    old_job = kube.batch.list_namespaced_job(namespace).items[0].metadata.name

    obj["spec"]["imageConfig"]["tag"] = "v15.46.0"
    converge(kube, tmp_path, obj)
    for name, d in bench_deployments(kube, namespace).items():
        assert d.spec.template.spec.containers[0].image == "docker.io/frappe/erpnext:v15.46.0", name
    for s in kube.apps.list_namespaced_stateful_set(namespace).items:
        assert s.spec.template.spec.containers[0].image.startswith("docker.io/library/redis:")
    # The image is a configuration input: a new Job ran and the old one is gone.
    jobs = [j.metadata.name for j in kube.batch.list_namespaced_job(namespace).items]
    assert len(jobs) == 1 and jobs != [old_job]
    hashes = {d.spec.template.metadata.annotations.get("vyogo.tech/config-hash")
              for name, d in bench_deployments(kube, namespace).items() if not name.endswith("nginx")}
    assert hashes == {jobs[0].rsplit("-", 1)[1]}

    obj["spec"]["componentReplicas"] = {"gunicorn": 3}
    converge(kube, tmp_path, obj)
    assert bench_deployments(kube, namespace)["erp-gunicorn"].spec.replicas == 3

    obj["spec"]["redisConfig"] = {"maxMemory": "1Gi"}
    converge(kube, tmp_path, obj)
    cache = kube.apps.read_namespaced_stateful_set("erp-redis-cache", namespace)
    args = cache.spec.template.spec.containers[0].args
    assert args[args.index("--maxmemory") + 1] == str(2 ** 30)
    assert conditions(kube, namespace)["Ready"]["status"] == "True"
    # Ready stayed Ready: the transition time only moves on a transition.
    assert conditions(kube, namespace)["Ready"]["lastTransitionTime"] == first_ready


@pytest.mark.parametrize("storage_class, mode, warned", [
    ("shared-nfs", "ReadWriteMany", False),
    ("standard", "ReadWriteOnce", True),
])
def test_sites_volume_access_mode_follows_the_storage_class(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path, storage_class, mode, warned):
    obj = example_bench(namespace)
    obj["spec"]["storageClassName"] = storage_class
    run = reconcile(kube, tmp_path, obj)
    assert run.rc == 0, run.explain()
    pvc = kube.core.read_namespaced_persistent_volume_claim("erp-sites", namespace)
    assert (pvc.spec.access_modes, pvc.spec.storage_class_name) == ([mode], storage_class)
    assert pvc.spec.resources.requests["storage"] == "10Gi"
    assert any("does not look ReadWriteMany-capable" in w for w in run.warnings) == warned


def test_external_redis_replaces_the_in_cluster_one(kube, namespace, frappe_crds, keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    assert len(kube.apps.list_namespaced_stateful_set(namespace).items) == 2

    kube.core.create_namespaced_secret(namespace, {"metadata": {"name": "redis-ext"}, "data": {
        k: base64.b64encode(v.encode()).decode()
        for k, v in {"host": "redis.example.internal", "port": "6380", "password": "pw"}.items()}})
    obj["spec"]["redisConfig"] = {"connectionSecretRef": {"name": "redis-ext"}}
    converge(kube, tmp_path, obj)
    assert kube.apps.list_namespaced_stateful_set(namespace).items == []
    assert {s.metadata.name for s in kube.core.list_namespaced_service(namespace).items} == {
        "erp-gunicorn", "erp-nginx", "erp-socketio"}
    assert client.NetworkingV1Api(kube.api).list_namespaced_network_policy(namespace).items == []
    job = kube.batch.list_namespaced_job(namespace).items[0]
    env = {e.name: e for e in job.spec.template.spec.containers[0].env}
    assert env["REDIS_QUEUE_HOST"].value_from.secret_key_ref.name == "redis-ext"
    assert env["REDIS_QUEUE_PASSWORD"].value_from.secret_key_ref.optional is True
    assert all(e.value is None or "$(" not in e.value for e in env.values())
    assert "pw" not in json.dumps(job.to_dict(), default=str)
    so = kube.custom.get_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects", "erp-worker-short")
    assert all("address" not in t["metadata"] and t["authenticationRef"]["name"] == "erp-redis-queue"
               for t in so["spec"]["triggers"])
    assert conditions(kube, namespace)["RedisReady"]["reason"] == "External"


@pytest.mark.parametrize("change, field, fix", [
    ({"componentReplicas": {"gunicorn": -1}}, "spec.componentReplicas.gunicorn", "greater than or equal to 0"),
    ({"imageConfig": {"pullPolicy": "Sometimes"}}, "spec.imageConfig.pullPolicy", "Unsupported value"),
])
def test_invalid_change_is_refused_and_deletes_nothing(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path, change, field, fix):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    generation = bench_object(kube, namespace)["metadata"]["generation"]
    before = {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()}
    bad = json.loads(json.dumps(obj))
    bad["spec"].update(change)
    run = reconcile(kube, tmp_path, bad)
    assert run.rc != 0
    assert field in run.failure_message and fix in run.failure_message, run.explain()
    # The API server refused the change: the stored bench and everything it owns are as they were.
    assert bench_object(kube, namespace)["metadata"]["generation"] == generation
    assert {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()} == before
    assert bench_object(kube, namespace)["status"]["phase"] == "Ready"


def test_unknown_storage_class_is_reported_in_the_status(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    converge(kube, tmp_path, example_bench(namespace))
    before = {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()}
    other = example_bench(namespace)
    other["metadata"]["name"] = "other"
    other["spec"]["storageClassName"] = "no-such-class"
    run = reconcile(kube, tmp_path, other)
    assert run.rc != 0
    message = run.failure_message
    assert "spec.storageClassName" in message and "StorageClass no-such-class does not exist" in message, run.explain()
    status = bench_object(kube, namespace, "other")["status"]
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert status["phase"] == "Failed" and ready["status"] == "False"
    assert "StorageClass no-such-class does not exist" in ready["message"]
    # Nothing of the failed bench was written, nothing of the other bench touched.
    assert kube.apps.list_namespaced_deployment(namespace, label_selector="vyogo.tech/bench=other").items == []
    assert {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()} == before


@pytest.mark.parametrize("policy, kept", [(None, True), ("Delete", False)])
def test_deleting_the_bench_collects_its_objects(kube, namespace, frappe_crds, no_keda_crds, tmp_path, policy, kept):
    obj = example_bench(namespace)
    if policy:
        obj["metadata"]["annotations"] = {"vyogo.tech/sites-deletion-policy": policy}
    converge(kube, tmp_path, obj)
    kube.custom.delete_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")

    def collected():
        left = json.loads(kube.kubectl("get", "deployments,statefulsets,services,jobs", "-n", namespace,
                                       "-l", "vyogo.tech/bench=erp", "-o", "json").stdout)["items"]
        return not left
    wait_until(collected, 90, "the garbage collector to delete the bench's objects")
    if kept:
        pvc = kube.core.read_namespaced_persistent_volume_claim("erp-sites", namespace)
        assert pvc.metadata.deletion_timestamp is None
    else:
        def gone():
            try:
                kube.core.read_namespaced_persistent_volume_claim("erp-sites", namespace)
            except ApiException as exc:
                return exc.status == 404
            return False
        wait_until(gone, 90, "the sites volume to follow the bench")


def test_read_write_once_sites_volume_keeps_every_pod_on_one_node(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    obj["metadata"]["annotations"] = {"vyogo.tech/sites-access-mode": "ReadWriteOnce"}
    obj["spec"]["componentReplicas"] = {"gunicorn": 3, "nginx": 2}
    converge(kube, tmp_path, obj)
    assert kube.core.read_namespaced_persistent_volume_claim("erp-sites", namespace).spec.access_modes == [
        "ReadWriteOnce"]
    nodes = [n.metadata.name for n in kube.core.list_node().items]
    assert len(nodes) == 2  # there is a second node the pods could have gone to

    def running_pods():
        listed = kube.core.list_namespaced_pod(namespace, label_selector="vyogo.tech/sites-volume=erp-sites").items
        pods = [p for p in listed
                if p.status.phase not in ("Succeeded", "Failed") and not p.metadata.deletion_timestamp]
        # gunicorn 3, nginx 2, socketio, the scheduler and three static workers
        return len(pods) == 10 and all(p.spec.node_name for p in pods) and pods

    def one_node(pods):
        assert len({p.spec.node_name for p in pods}) == 1, [(p.metadata.name, p.spec.node_name) for p in pods]
        return pods[0].spec.node_name

    node = one_node(wait_until(running_pods, 90, "every process that mounts the sites volume to be scheduled"))
    # The first configuration Job ran before any other pod (it matched only itself); a new one,
    # started while the processes run, joins their node, and so do the pods of the rollout.
    obj["spec"]["imageConfig"]["tag"] = "v15.46.0"
    converge(kube, tmp_path, obj)
    assert one_node(wait_until(running_pods, 90, "the rolled-out processes to be scheduled")) == node
    jobs = kube.batch.list_namespaced_job(namespace).items
    assert len(jobs) == 1
    [job_pod] = kube.core.list_namespaced_pod(namespace, label_selector="job-name=%s" % jobs[0].metadata.name).items
    assert job_pod.spec.node_name == node
    storage = conditions(kube, namespace)["StorageReady"]
    assert "ReadWriteOnce" in storage["message"] and "vyogo.tech/sites-volume" in storage["message"]


def test_bench_id_is_chosen_once_and_never_changes_under_queued_jobs(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    # A namespace name holds no dot: same-named benches of two namespaces never share RQ keys.
    assert bench_object(kube, namespace)["status"]["benchId"] == namespace + ".erp"
    worker = bench_deployments(kube, namespace)["erp-worker-short"]
    assert worker.spec.template.metadata.annotations["vyogo.tech/config-hash"]
    before = {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()}

    renamed = json.loads(json.dumps(obj))
    renamed["spec"]["benchId"] = "other"
    run = reconcile(kube, tmp_path, renamed)
    assert run.rc != 0
    message = run.failure_message
    assert "spec.benchId cannot change from %s.erp to other" % namespace in message, run.explain()
    assert "rq:queue:%s.erp:* would never run" % namespace in message
    assert {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()} == before
    assert bench_object(kube, namespace)["status"]["benchId"] == namespace + ".erp"

    # Naming the bench_id it already has is no change.
    renamed["spec"]["benchId"] = namespace + ".erp"
    assert reconcile(kube, tmp_path, renamed).rc == 0
    assert {name: d.metadata.resource_version for name, d in bench_deployments(kube, namespace).items()} == before


def test_a_bench_that_ran_before_bench_ids_were_recorded_keeps_its_name(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    kube.apply(obj)
    # What an earlier version of the collection left: a phase, no status.benchId.
    kube.custom.patch_namespaced_custom_object_status("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp",
                                                      {"status": {"phase": "Ready"}})
    converge(kube, tmp_path, obj)
    assert bench_object(kube, namespace)["status"]["benchId"] == "erp"
    job = kube.batch.list_namespaced_job(namespace).items[0]
    assert {e.name: e.value for e in job.spec.template.spec.containers[0].env}["BENCH_ID"] == "erp"


def test_redis_password_is_generated_once_and_never_regenerated(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    secret = kube.core.read_namespaced_secret("erp-redis", namespace)
    password = base64.b64decode(secret.data["password"]).decode()
    assert len(password) == 40 and password.isalnum()
    assert [(o.kind, o.name, o.controller) for o in secret.metadata.owner_references] == [("FrappeBench", "erp", True)]
    # A change that re-runs the configuration and rolls the processes keeps the password.
    obj["spec"]["imageConfig"]["tag"] = "v15.46.0"
    converge(kube, tmp_path, obj)
    again = kube.core.read_namespaced_secret("erp-redis", namespace)
    assert again.metadata.uid == secret.metadata.uid and again.data == secret.data
    job = kube.batch.list_namespaced_job(namespace).items[0]
    env = {e.name: e for e in job.spec.template.spec.containers[0].env}
    assert env["REDIS_QUEUE_PASSWORD"].value_from.secret_key_ref.name == "erp-redis"
    assert password not in json.dumps([d.to_dict() for d in kube.apps.list_namespaced_deployment(namespace).items]
                                      + [s.to_dict() for s in kube.apps.list_namespaced_stateful_set(namespace).items]
                                      + [job.to_dict()], default=str)
    queue = kube.apps.read_namespaced_stateful_set("erp-redis-queue", namespace)
    assert [t.metadata.name for t in queue.spec.volume_claim_templates] == ["data"]
    assert conditions(kube, namespace)["QueuePersistent"]["reason"] == "AppendOnlyFile"
    policies = {p.metadata.name for p in client.NetworkingV1Api(kube.api).list_namespaced_network_policy(namespace).items}
    assert policies == {"erp-redis-cache", "erp-redis-queue"}


def test_an_in_memory_queue_redis_of_an_earlier_version_is_kept_until_moved(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    # What an earlier version left: the queue Redis without a volume or a password.
    labels = {"vyogo.tech/bench": "erp", "app.kubernetes.io/component": "redis-queue"}
    kube.apply({"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "erp-redis-queue", "namespace": namespace, "labels": labels},
                "spec": {"serviceName": "erp-redis-queue", "replicas": 1, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {
                             "securityContext": {"runAsNonRoot": True, "runAsUser": 999,
                                                 "seccompProfile": {"type": "RuntimeDefault"}},
                             "containers": [{"name": "redis", "image": "docker.io/library/redis:7.4.2-alpine",
                                             "args": ["--save", "", "--appendonly", "no"],
                                             "securityContext": {"allowPrivilegeEscalation": False,
                                                                 "capabilities": {"drop": ["ALL"]}}}]}}}})
    before = kube.apps.read_namespaced_stateful_set("erp-redis-queue", namespace)
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    kept = kube.apps.read_namespaced_stateful_set("erp-redis-queue", namespace)
    assert kept.metadata.generation == before.metadata.generation  # not restarted: its jobs are in memory
    persistent = conditions(kube, namespace)["QueuePersistent"]
    assert persistent["status"] == "False" and persistent["reason"] == "InMemory"
    step = "kubectl delete statefulset -n %s erp-redis-queue" % namespace
    assert step in persistent["message"]
    env = {e.name for e in kube.batch.list_namespaced_job(namespace).items[0].spec.template.spec.containers[0].env}
    assert "REDIS_CACHE_PASSWORD" in env and "REDIS_QUEUE_PASSWORD" not in env

    # The documented step, once the queue is empty: the next reconcile makes it persistent.
    kube.kubectl(*step.split()[1:])
    converge(kube, tmp_path, obj)
    moved = kube.apps.read_namespaced_stateful_set("erp-redis-queue", namespace)
    assert [t.metadata.name for t in moved.spec.volume_claim_templates] == ["data"]
    assert "--requirepass" in moved.spec.template.spec.containers[0].args
    assert conditions(kube, namespace)["QueuePersistent"]["reason"] == "AppendOnlyFile"
    env = {e.name for e in kube.batch.list_namespaced_job(namespace).items[0].spec.template.spec.containers[0].env}
    assert "REDIS_QUEUE_PASSWORD" in env


def test_a_refused_sites_volume_is_reported_as_such_not_as_a_failed_configuration_job(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    # A quota that admits no claim: the API server refuses the sites volume.
    kube.core.create_namespaced_resource_quota(namespace, {
        "metadata": {"name": "no-claims"}, "spec": {"hard": {"persistentvolumeclaims": "0"}}})
    run = reconcile(kube, tmp_path, example_bench(namespace))
    assert run.rc != 0 and "erp-sites" in run.failure_message and "quota" in run.failure_message, run.explain()
    found = conditions(kube, namespace)
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "ApplyFailed"), found
    assert "ConfigReady" not in found, found
    assert kube.batch.list_namespaced_job(namespace).items == []


def test_a_new_queue_volume_size_is_refused_with_the_way_to_grow_it(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    queue = kube.apps.read_namespaced_stateful_set("erp-redis-queue", namespace)
    obj["spec"]["redisConfig"] = {"storageSize": "2Gi"}
    run = reconcile(kube, tmp_path, obj)
    assert run.rc != 0, run.explain()
    message = run.failure_message
    assert "spec.redisConfig.storageSize cannot change from 1Gi to 2Gi" in message, message
    assert "kubectl delete statefulset --cascade=orphan -n %s erp-redis-queue" % namespace in message
    ready = conditions(kube, namespace)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "Refused")
    after = kube.apps.read_namespaced_stateful_set("erp-redis-queue", namespace)
    assert after.metadata.resource_version == queue.metadata.resource_version
    # The size it has is accepted again.
    obj["spec"]["redisConfig"] = {"storageSize": "1024Mi"}
    assert reconcile(kube, tmp_path, obj).rc == 0


def _set_nodes_unschedulable(kube, value):
    for node in kube.core.list_node().items:
        kube.core.patch_node(node.metadata.name, {"spec": {"unschedulable": value}})


def test_an_unwritable_sites_volume_is_reported_in_the_status_with_what_to_do(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    """kwok completes every pod of a Job and writes no termination message; here the nodes take no
    pod, and the test stands in for the kubelet of a node whose volume the frappe user cannot write."""
    import sys
    sys.path.insert(0, str(REPO / "tests" / "harness"))
    from podscripts import ImageBench, run_container

    obj = example_bench(namespace)
    _set_nodes_unschedulable(kube, True)
    try:
        # A reconcile waits for no Job: it creates it and says where it is (one
        # round of site.yml: no pod is ever placed here, so its rounds would go on).
        first = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
        assert first.rc == 0, first.explain()
        pod = wait_until(lambda: (kube.core.list_namespaced_pod(
            namespace, label_selector="app.kubernetes.io/component=config").items or [None])[0], 120,
            "the configuration Job's pod")
        wait_until(lambda: any(c.type == "PodScheduled" and c.status == "False" for c in (kube.core.read_namespaced_pod(
            pod.metadata.name, namespace).status.conditions or [])), 60, "the scheduler to give up on the pod")
        # A pod no node takes is reported at once, in the scheduler's own words;
        # site.yml reconciles it in rounds while a claim might still bind, and
        # at the end of its bound succeeds with a warning that says where it is.
        waited = reconcile(kube, tmp_path, obj, frappe_converge_seconds=15)
        assert waited.rc == 0, waited.explain()
        assert any("FrappeBench %s/erp is still on its way" % namespace in w and "Unschedulable" in w
                   for w in waited.warnings), waited.warnings
        found = conditions(kube, namespace)
        assert (found["ConfigReady"]["status"], found["ConfigReady"]["reason"]) == ("False", "Unschedulable"), found
        assert "nodes are available" in found["ConfigReady"]["message"], found
        assert found["Ready"]["reason"] == "Unschedulable" and pod.metadata.name in found["Ready"]["message"], found
        # What the kubelet of such a node reports: the check's own words from
        # /dev/termination-log, produced by running the rendered init container.
        check = next(c for c in pod.spec.init_containers if c.name == "sites-check")
        image = ImageBench(tmp_path / "image")
        image.sites.chmod(0o555)
        try:
            container = kube.api.sanitize_for_serialization(check)
            ran = run_container(image, {}, container, as_image_user=True)
        finally:
            image.sites.chmod(0o755)
        assert ran.rc == 3, ran.explain()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        terminated = {"exitCode": 3, "reason": "Error", "message": ran.stderr.strip(),
                      "startedAt": now, "finishedAt": now}
        kube.core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {
            "phase": "Failed",
            "initContainerStatuses": [{"name": "sites-check", "image": check.image, "imageID": "", "ready": False,
                                       "restartCount": 0, "state": {"terminated": terminated}}],
            "containerStatuses": [{"name": "config", "image": pod.spec.containers[0].image, "imageID": "",
                                   "ready": False, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}]}})
        wait_until(lambda: kube.batch.read_namespaced_job(pod.metadata.labels["batch.kubernetes.io/job-name"],
                                                          namespace).status.failed, 60, "the Job to fail")
        run = reconcile(kube, tmp_path, obj)
    finally:
        _set_nodes_unschedulable(kube, False)
    assert run.rc != 0, run.explain()
    found = conditions(kube, namespace)
    assert (found["ConfigReady"]["status"], found["ConfigReady"]["reason"]) == ("False", "JobFailed"), found
    message = found["ConfigReady"]["message"]
    assert "failed: container sites-check of pod" in message and "exited 3" in message, message
    assert "its log ends with:\nThe sites volume is not writable by uid" in message, message
    assert "spec.sitesVolume.fixPermissions: true" in message and "anonuid=1000" in message, message
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "ConfigJobFailed")
    # The Job failed at once (podFailurePolicy), not after its retries; no process was started on that volume.
    job = kube.batch.list_namespaced_job(namespace).items[0]
    assert job.status.failed == 1 and any(c.type == "Failed" and c.reason == "PodFailurePolicy"
                                          for c in job.status.conditions), job.status
    assert bench_deployments(kube, namespace) == {}


def test_the_processes_run_the_digest_the_configuration_job_ran_on(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    """The configuration Job is the probe of the bench's image (image_probe.py). kwok completes its pod
    with no imageID and no termination message; the test gives it what a kubelet would: the repository
    digest the tag resolved to, and the script's last words, from running the rendered container."""
    import hashlib
    import sys
    sys.path.insert(0, str(REPO / "tests" / "harness"))
    from podscripts import ImageBench, run_container

    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    status = bench_object(kube, namespace)["status"]
    written = status["image"]
    # The Job completed, but nothing reported a digest or versions: the processes run the image as written.
    assert "@" not in written, status
    assert (status["imageProbe"]["digest"], status["imageProbe"]["versions"]) == ("", {}), status
    assert {d.spec.template.spec.containers[0].image for d in bench_deployments(kube, namespace).values()} == {written}

    pod = kube.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=config").items[0]
    assert pod.status.phase == "Succeeded"
    job = kube.api.sanitize_for_serialization(
        kube.batch.read_namespaced_job(pod.metadata.labels["batch.kubernetes.io/job-name"], namespace))
    password = base64.b64decode(kube.core.read_namespaced_secret("erp-redis", namespace).data["password"]).decode()
    ran = run_container(ImageBench(tmp_path / "image"), job, kube.api.sanitize_for_serialization(pod.spec.containers[0]),
                        {"erp-redis": {"password": password}})
    assert ran.rc == 0, ran.explain()
    last_words = ran.stdout[ran.stdout.rfind("\n[") + 1:]  # all of it when nothing came before
    digest = "sha256:" + hashlib.sha256(b"the image the tag named today").hexdigest()
    repository = written.rsplit(":", 1)[0]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kube.core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {"containerStatuses": [{
        "name": "config", "image": written, "imageID": "%s@%s" % (repository, digest), "ready": False,
        "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": last_words,
                                                    "startedAt": now, "finishedAt": now}}}]}})

    # The next reconcile pins every process to that digest, and says what the image runs.
    converge(kube, tmp_path, obj)
    pinned = "%s@%s" % (repository, digest)
    status = bench_object(kube, namespace)["status"]
    assert status["image"] == pinned, status
    assert status["imageProbe"] == {"reference": written, "digest": digest, "job": job["metadata"]["name"],
                                    "versions": {"erpnext": "15.45.0", "frappe": "15.55.1"}, "checkedAt": now}, status
    assert {d.spec.template.spec.containers[0].image for d in bench_deployments(kube, namespace).values()} == {pinned}
    # The Job that found it stays on the image as written: it is the probe of the next image too.
    assert kube.batch.read_namespaced_job(job["metadata"]["name"], namespace).spec.template.spec.containers[0].image \
        == written

    # Its pod gone, the status remembers: nothing changes.
    kube.core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
    wait_until(lambda: not kube.core.list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=config").items, 60, "the pod to go")
    again = reconcile(kube, tmp_path, obj)
    assert again.rc == 0 and again.changed == 0, again.explain()
    assert bench_object(kube, namespace)["status"]["image"] == pinned


def test_the_root_chown_is_refused_in_a_namespace_that_enforces_restricted(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    kube.core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    obj = example_bench(namespace)
    obj["spec"]["sitesVolume"] = {"fixPermissions": True}
    run = reconcile(kube, tmp_path, obj)
    assert run.rc != 0, run.explain()
    assert "pod-security.kubernetes.io/enforce=restricted" in run.failure_message, run.explain()
    assert "Nothing was changed" in run.failure_message
    ready = conditions(kube, namespace)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "Refused")
    # Nothing of the bench was written.
    assert kube.batch.list_namespaced_job(namespace).items == []
    assert kube.apps.list_namespaced_stateful_set(namespace).items == []
