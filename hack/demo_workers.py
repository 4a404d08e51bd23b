"""The serverless-worker part of the main job on the embedded local cluster: a worker at zero wakes for a job.

    python3 hack/demo_workers.py <ansible-playbook> [extra ansible-playbook arguments]

Runs the real KEDA operator and a Redis on this host (fake nodes run no
containers, and KEDA outside the cluster reaches the queue only on this host),
reconciles a demo bench (hack/demo/workers-bench.yaml) whose queue is that Redis
and whose short worker has a short cooldown, then:
  1. enqueues a job with the real rq library, as Frappe does (queue <bench_id>:short);
  2. waits for KEDA to scale the short worker from 0 to 1;
  3. runs a real rq worker on this host in the place of the pod, which takes the job;
  4. waits for KEDA to scale the worker back to 0 once the cooldown has passed.
Everything goes into the namespace frappe-demo-workers, made afresh each time.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import yaml
from rq import Queue

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack" / "localcluster"))

import localcluster  # noqa: E402

NAMESPACE = "frappe-demo-workers"
MANIFEST = REPO / "hack" / "demo" / "workers-bench.yaml"
T0 = time.monotonic()


def say(msg):
    print("[demo %5.1fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def replicas(kubectl, name):
    out = kubectl("get", "deployment", name, "-n", NAMESPACE, "-o", "jsonpath={.spec.replicas}", check=False)
    return int(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def wait(predicate, timeout, what, progress=None):
    start = time.monotonic()
    last = -10.0
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        if progress and time.monotonic() - last >= 5:
            say("  ... %s (%s)" % (what, progress()))
            last = time.monotonic()
        time.sleep(0.5)
    raise SystemExit("[demo] timed out after %d s waiting for %s" % (timeout, what))


def main(argv):
    playbook, extra = argv[0], argv[1:]
    cluster = localcluster.LocalCluster(os.environ.get("LOCALCLUSTER_NAME", localcluster.DEFAULT_CLUSTER))
    kubectl = localcluster.Kubectl(cluster.kubeconfig)
    bench = yaml.safe_load(MANIFEST.read_text())
    bench["metadata"]["namespace"] = NAMESPACE
    bench_id = bench["spec"]["benchId"]
    short = bench["spec"]["workerAutoscalingConfig"]["short"]
    worker_name = "%s-worker-short" % bench["metadata"]["name"]
    with tempfile.TemporaryDirectory(prefix="frappe-demo-workers-") as tmp:
        say("building (or reusing) the KEDA operator")
        localcluster.build(["keda"])
        localcluster.install_keda_crds(kubectl)
        server = localcluster.RedisServer(password="demo-%s" % os.urandom(6).hex(), logdir=Path(tmp) / "redis").start()
        keda = None
        try:
            keda = localcluster.KedaOperator(cluster, logdir=Path(tmp) / "keda").start()
            say("the KEDA operator and Redis %s run on this host" % server.address)
            kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s")
            kubectl("create", "namespace", NAMESPACE)
            cluster.ensure_free_volumes()
            kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-redis"},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in
                         {"host": server.host, "port": str(server.port), "password": server.password}.items()}}))
            manifest = Path(tmp) / "bench.yaml"
            manifest.write_text(yaml.safe_dump(bench))
            say("reconciling the demo bench %s (queue: that Redis; short worker: cooldown %d s, polling %d s)"
                % (bench["metadata"]["name"], short["cooldownPeriod"], short["pollingInterval"]))
            proc = subprocess.run([playbook, str(REPO / "playbooks" / "site.yml"), "-e", "frappe_manifest=%s" % manifest]
                                  + extra, cwd=str(REPO), check=False, stdout=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise SystemExit("[demo] the reconcile failed; run it again with -v to see why")

            def scaled_object_ready():
                out = kubectl("get", "scaledobject.keda.sh", worker_name, "-n", NAMESPACE, "-o", "json", check=False)
                conditions = json.loads(out.stdout).get("status", {}).get("conditions", []) if out.returncode == 0 else []
                return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            wait(scaled_object_ready, 90, "KEDA to read the short queue")
            wait(lambda: replicas(kubectl, worker_name) == 0, 60, "the idle short worker to be at 0",
                 lambda: "replicas %s" % replicas(kubectl, worker_name))
            say("%s is at 0 replicas: nothing is queued" % worker_name)

            connection = redis.Redis(host=server.host, port=server.port, password=server.password)
            queue = Queue("%s:short" % bench_id, connection=connection)
            job_seconds = 5
            queue.enqueue("time.sleep", job_seconds, job_timeout=120)
            say("enqueued one job with rq into %s (Redis list %s)" % (queue.name, queue.key))
            woke = wait(lambda: replicas(kubectl, worker_name) == 1, 60, "KEDA to wake the worker",
                        lambda: "replicas %s" % replicas(kubectl, worker_name))
            say("KEDA woke %s: 0 -> 1 replica in %.1f s" % (worker_name, woke))

            say("a real rq worker on this host takes the job (the pod's place: fake nodes run no containers)")
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url",
                            "redis://:%s@%s:%d/0" % (server.password, server.host, server.port), queue.name],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            say("the job ran (%.1f s) and the queue is empty" % (time.monotonic() - started))
            back = wait(lambda: replicas(kubectl, worker_name) == 0, short["cooldownPeriod"] + 60,
                        "KEDA to scale the idle worker back to 0",
                        lambda: "replicas %s" % replicas(kubectl, worker_name))
            say("KEDA scaled %s back to 0 replicas %.1f s after the job (cooldown %d s)"
                % (worker_name, back, short["cooldownPeriod"]))
        finally:
            if keda:
                keda.stop()
                keda.forget_lease()
            server.stop()
    say("done; the KEDA operator and Redis stopped (the bench stays in namespace %s)" % NAMESPACE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
