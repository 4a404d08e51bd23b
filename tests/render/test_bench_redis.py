"""The bench's Redis as rendered: a persistent, password-protected queue, who may reach it,
and a real redis-server started with the rendered arguments losing no job across a restart."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Queue

from manifests import bench
from podscripts import expand, pod_spec, render, resolve_env

PASSWORD = "s3cret-from-the-secret"


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    return render(tmp_path_factory.mktemp("redis"), bench())


def find(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_queue_redis_keeps_its_jobs_on_a_volume_by_default(objects):
    queue = find(objects, "StatefulSet", "erp-redis-queue")
    [claim] = queue["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    args = pod_spec(queue)["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    cache = find(objects, "StatefulSet", "erp-redis-cache")
    assert "volumeClaimTemplates" not in cache["spec"]


@pytest.mark.parametrize("name", ["erp-redis-cache", "erp-redis-queue"])
def test_both_redis_servers_require_the_generated_password(objects, name):
    container = pod_spec(find(objects, "StatefulSet", name))["containers"][0]
    args = container["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert container["env"] == [{"name": "REDIS_PASSWORD",
                                 "valueFrom": {"secretKeyRef": {"name": "erp-redis", "key": "password"}}}]
    # Render mode leaves the generated Secret out (a reconcile creates it once).
    assert not [o for o in objects if o["kind"] == "Secret"]


def test_keda_reads_the_queue_with_the_password(objects):
    auth = find(objects, "TriggerAuthentication", "erp-redis-queue")
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "erp-redis", "key": "password"}]
    for worker in ("short", "long"):
        for trigger in find(objects, "ScaledObject", "erp-worker-" + worker)["spec"]["triggers"]:
            assert trigger["authenticationRef"] == {"name": "erp-redis-queue", "kind": "TriggerAuthentication"}
            assert trigger["metadata"]["address"] == "erp-redis-queue.erp-ns.svc.cluster.local:6379"


@pytest.mark.parametrize("role, sources", [
    ("cache", [{"podSelector": {"matchLabels": {"vyogo.tech/bench": "erp"}}}]),
    ("queue", [{"podSelector": {"matchLabels": {"vyogo.tech/bench": "erp"}}},
               {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}]),
])
def test_only_the_bench_and_keda_may_reach_redis(objects, role, sources):
    policy = find(objects, "NetworkPolicy", "erp-redis-" + role)
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "vyogo.tech/bench": "erp", "app.kubernetes.io/component": "redis-" + role}
    assert policy["spec"]["ingress"] == [{"from": sources, "ports": [{"protocol": "TCP", "port": 6379}]}]
    # Every pod of the bench that talks to Redis carries the label the policy admits.
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            assert obj["spec"]["template"]["metadata"]["labels"]["vyogo.tech/bench"] == "erp"


def test_external_redis_has_no_in_cluster_servers_or_policies(tmp_path):
    objects = render(tmp_path, bench(redisConfig={"connectionSecretRef": {"name": "ext"}}))
    assert not [o for o in objects if o["kind"] in ("StatefulSet", "NetworkPolicy")]
    auth = find(objects, "TriggerAuthentication", "erp-redis-queue")
    assert [r["parameter"] for r in auth["spec"]["secretTargetRef"]] == ["host", "port", "password", "username"]


# -- the rendered queue Redis, for real ----------------------------------------------

class QueueRedis:
    """redis-server with the queue StatefulSet's arguments, as the kubelet expands them."""

    def __init__(self, statefulset, data_dir):
        container = pod_spec(statefulset)["containers"][0]
        env = resolve_env(container, {"erp-redis": {"password": PASSWORD}})
        self.args = [expand(a, env) for a in container["args"]]
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = None
        self.proc = None

    def start(self):
        if self.port is None:  # the same port after a restart, as the Service keeps it
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.port = sock.getsockname()[1]
        # /data is the volume in the pod; here a directory kept across restarts.
        cmd = [shutil.which("redis-server")] + self.args + [
            "--dir", str(self.data_dir), "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("redis-server did not answer on port %d" % self.port)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, password=PASSWORD)

    def stop(self):
        # What the kubelet does to a pod: SIGTERM, then wait.
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.mark.redis
@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server (make test installs it)")
def test_a_queued_job_survives_a_queue_redis_restart_and_a_real_worker_runs_it(objects, tmp_path):
    server = QueueRedis(find(objects, "StatefulSet", "erp-redis-queue"), tmp_path / "data").start()
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port).ping()
        # Frappe enqueues into "<bench_id>:<queue>"; the bench_id of a new bench is <namespace>.<name>.
        queue = Queue("erp-ns.erp:short", connection=server.client())
        job = queue.enqueue("operator.add", 2, 3)
        assert server.client().llen("rq:queue:erp-ns.erp:short") == 1
        server.stop()
        server.start()
        assert server.client().llen("rq:queue:erp-ns.erp:short") == 1
        url = "redis://:%s@127.0.0.1:%d" % (PASSWORD, server.port)
        worker = subprocess.run([str(Path(sys.executable).parent / "rq"), "worker", "--burst", "--url", url,
                                 "erp-ns.erp:short"], capture_output=True, text=True, timeout=120, check=False)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        job.refresh()
        assert job.get_status() == "finished" and job.return_value() == 5
    finally:
        server.stop()


def test_redis_pods_get_the_image_pull_secrets_too(tmp_path):
    secrets = [{"name": "registry-credentials"}]
    objects = render(tmp_path, bench(imageConfig={"repository": "docker.io/frappe/erpnext", "tag": "v15.45.0",
                                                  "pullSecrets": secrets}))
    for role in ("cache", "queue"):
        assert pod_spec(find(objects, "StatefulSet", "erp-redis-%s" % role))["imagePullSecrets"] == secrets
