"""Wall time of a first and a no-op reconcile, against the floor and against kubectl.

    python hack/benchmarks/reconcile.py [--manifest examples/frappebench.yaml] [--rounds 5]
                                        [--benches N] [--profile]
    python hack/benchmarks/reconcile.py --operator --benches 20

Uses the cluster KUBECONFIG names, or starts (and afterwards stops) the
embedded local control plane (named by LOCALCLUSTER_NAME, else "benchmark").
Each round uses fresh namespaces:
  1. site.yml, first reconcile (applies the FrappeBench and creates everything)
  2. site.yml again, nothing to change (no-op reconcile)
  3. the floor: hack/benchmarks/floor/one-k8s-info-task.yml, a playbook of one
     kubernetes.core.k8s_info task, right after step 2: what any reconcile made
     of Ansible tasks pays at least (start ansible-playbook, one module run)
  4. render.yml, then `kubectl apply --server-side` of the rendered objects
     into another fresh namespace (the same objects, without the role)
  5. kubectl doing what a first reconcile must wait for, in a third
     namespace: the Redis password Secret, the volume, Redis and the
     configuration Job, `kubectl wait` for the Job to complete, then the
     processes and their autoscaling, and `kubectl wait` for the Deployments
     to be available: the floor of a first reconcile on this cluster
With --benches N the manifest's bench is copied N times (<name>-0 ...) into
the namespace, so one site.yml run reconciles N benches.

Every site.yml run uses the json stdout callback, which records each task's
start and end and each result; a module run is a result (a loop's items
counted one by one) that carries a module's invocation, or is hidden by
no_log; controller-side actions (set_fact, debug, include_tasks,
requeue_after) are not module runs. With --profile the slowest tasks of the
last round's first and no-op reconcile are printed, each with its module runs.

The last line of the output is one JSON object; every time is the median
over the rounds, every ratio a ratio of two such medians:
  first_s, noop_s      step 1 and step 2, seconds
  floor_s              step 3, seconds
  noop_floor_ratio     noop_s / floor_s: how far a no-op reconcile is from the
                       cheapest reconcile Ansible allows (1.0 would be one
                       module run and nothing else)
  kubectl_s            step 4 (kubectl apply alone), seconds
  first_ratio, noop_ratio   first_s and noop_s over kubectl_s
  first_module_runs, noop_module_runs   module runs of steps 1 and 2
  benches, rounds
and with one bench, step 5:
  kubectl_ordered_s    step 5, seconds
  ordered_ratio        kubectl_ordered_s / kubectl_s (what the waits cost kubectl)
  first_ratio_ordered  first_s / kubectl_ordered_s: a first reconcile against
                       kubectl doing the same ordered work with its waits
hack/benchmarks/sites.py counts the module runs of a no-op reconcile of one
bench with 1 and with 10 sites (it needs a MariaDB server on this host).

With --operator, the real ansible-operator binary runs watches.yaml instead:
the N benches are created at once and the time until every one reports
Ready is printed, then the operator's CPU seconds (its own and its finished
children's) per minute over --idle-seconds with nothing to change (JSON:
operator_ready_s, operator_idle_cpu_s_per_min, benches, max_concurrent); on
timeout, how many are Ready, Failed and Pending and the message of each
one that is not Ready. On the local cluster, claims beyond its pool of
volumes are served by its provisioner (hack/localcluster/localcluster.py).
Run it from the environment `make test` builds (it needs ansible-playbook).
A benchmark, not a test: it prints numbers and asserts nothing about them.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack" / "localcluster"))
sys.path.insert(0, str(REPO / "tests"))

import localcluster  # noqa: E402
import conftest as collection_path  # noqa: E402  (sets ANSIBLE_COLLECTIONS_PATH to this checkout)

sys.path.insert(0, str(REPO / "tests" / "integration"))
from support import manager_proxy_args  # noqa: E402  (the shipped manager's proxy flags)
from playbook_report import module_runs, slowest_tasks  # noqa: E402,F401  (beside this script; sites.py imports them here)


# The stages of a first reconcile (bench_plan's render plan): these kinds go
# before the configuration Job completes, with it; the Redis Services too.
FIRST_STAGE_KINDS = ("PersistentVolumeClaim", "StatefulSet", "NetworkPolicy", "Job", "ConfigMap")


def _secret_refs(value):
    """Names of the Secrets that secretKeyRef entries anywhere in `value` point to."""
    if isinstance(value, dict):
        found = {value["secretKeyRef"]["name"]} if isinstance(value.get("secretKeyRef"), dict) else set()
        for item in value.values():
            found |= _secret_refs(item)
        return found
    if isinstance(value, list):
        return set().union(*[_secret_refs(item) for item in value]) if value else set()
    return set()


def kubectl_ordered(kubectl, objects, namespace, workdir):
    """Seconds for kubectl to do, in a first reconcile's order, what it must wait for."""
    first = [o for o in objects if o["kind"] in FIRST_STAGE_KINDS or (
        o["kind"] == "Service" and o["metadata"]["labels"].get("app.kubernetes.io/component", "").startswith("redis"))]
    rest = [o for o in objects if o not in first]
    for name, part in (("first.yaml", first), ("rest.yaml", rest)):
        (Path(workdir) / name).write_text(yaml.safe_dump_all(
            [dict(o, metadata=dict(o["metadata"], namespace=namespace)) for o in part]))
    jobs = [o["metadata"]["name"] for o in first if o["kind"] == "Job"]
    bench = objects[0]["metadata"]["labels"]["vyogo.tech/bench"]
    start = time.monotonic()
    for secret in sorted(_secret_refs(first)):
        kubectl("create", "secret", "generic", secret, "-n", namespace, "--from-literal=password=benchmark")
    kubectl("apply", "--server-side", "-f", Path(workdir) / "first.yaml")
    kubectl("wait", "--for=condition=complete", "--timeout=300s", "-n", namespace, *["job/%s" % j for j in jobs])
    kubectl("apply", "--server-side", "-f", Path(workdir) / "rest.yaml")
    kubectl("wait", "--for=condition=available", "--timeout=300s", "-n", namespace, "deployment",
            "-l", "vyogo.tech/bench=%s" % bench)
    return time.monotonic() - start


def timed(cmd, env):
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(REPO), check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s\n%s" % (" ".join(cmd), proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed, proc


PLURALS = {"FrappeBench": "frappebenches", "FrappeSite": "frappesites"}


def _cpu_seconds(pid):
    """CPU seconds of process `pid` and of the children it has reaped (ansible-runner, ansible-playbook)."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted from the state field (3).
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _not_ready(listed):
    """Objects that are not Ready, by phase, each with the messages of its conditions that are not True."""
    by_phase = {}
    for obj in listed:
        status = obj.get("status") or {}
        phase = status.get("phase") or "(no status)"
        if phase == "Ready":
            continue
        messages = sorted({c.get("message", "") for c in status.get("conditions") or []
                           if c.get("status") != "True" and c.get("message")})
        by_phase.setdefault(phase, []).append((obj["metadata"]["name"], messages))
    return by_phase


def operator_run(kubectl, env, docs, max_concurrent, timeout=1800, namespace=None, idle_seconds=0):
    """Run ansible-operator on `docs`, all created at once, until every one reports Ready.

    Returns the seconds that took, and with `idle_seconds` also the
    operator's CPU seconds (its own and its reaped children's) per minute
    over that many seconds after all are Ready: what idling costs it. On
    timeout, exits saying how many are Ready and why the others are not.
    Without `namespace` a fresh one is made (and deleted afterwards).
    """
    owned = namespace is None
    if owned:
        namespace = "operator-%s" % uuid.uuid4().hex[:6]
        kubectl("create", "namespace", namespace)
    with tempfile.TemporaryDirectory() as tmp:
        operator_env = dict(env, WATCH_NAMESPACE=namespace, ANSIBLE_LOCAL_TEMP=str(Path(tmp) / "ansible-tmp"),
                            PATH="%s:%s" % (Path(sys.executable).parent, env.get("PATH", "")),
                            MAX_CONCURRENT_RECONCILES_FRAPPEBENCH_VYOGO_TECH=str(max_concurrent),
                            MAX_CONCURRENT_RECONCILES_FRAPPESITE_VYOGO_TECH=str(max_concurrent))
        operator_env.pop("ANSIBLE_STDOUT_CALLBACK", None)
        # The kubeconfig ansible-operator hands to ansible-runner names localhost:8888.
        operator = localcluster.ManagedProcess("ansible-operator", [
            localcluster.binary("ansible-operator"), "run", "--watches-file", REPO / "watches.yaml",
            "--leader-elect=false", "--proxy-port", "8888", *manager_proxy_args(),
            "--ansible-collections-path", collection_path.COLLECTIONS_ROOT,
            "--metrics-bind-address", "127.0.0.1:%d" % localcluster.free_port(),
            "--health-probe-bind-address", "127.0.0.1:%d" % localcluster.free_port(),
        ], env=operator_env, logdir=tempfile.mkdtemp(prefix="benchmark-operator-")).start()
        try:
            time.sleep(5)
            operator.check_alive()
            manifest = Path(tmp) / "objects.yaml"
            manifest.write_text(yaml.safe_dump_all([dict(d, metadata=dict(d["metadata"], namespace=namespace))
                                                    for d in docs]))
            kinds = sorted(set(d["kind"] for d in docs))
            start = time.monotonic()
            kubectl("apply", "--server-side", "-f", manifest)
            reported = start
            while True:
                operator.check_alive()
                listed = [o for kind in kinds for o in json.loads(
                    kubectl("get", PLURALS[kind], "-n", namespace, "-o", "json").stdout)["items"]]
                not_ready = _not_ready(listed)
                ready = len(listed) - sum(len(objs) for objs in not_ready.values())
                if ready == len(docs):
                    break
                now = time.monotonic()
                if now - reported >= 60:
                    reported = now
                    print("%4d s: %d Ready, %s" % (now - start, ready, ", ".join(
                        "%d %s" % (len(objs), phase) for phase, objs in sorted(not_ready.items()))),
                        file=sys.stderr, flush=True)
                if now - start > timeout:
                    sys.exit("only %d of %d objects Ready after %d s (operator log: %s):\n%s" % (
                        ready, len(docs), timeout, operator.logfile, "\n".join(
                            "  %s %s: %s" % (phase, name, " / ".join(messages) or "(no message)")
                            for phase, objs in sorted(not_ready.items()) for name, messages in objs)))
                time.sleep(2)
            figures = {"ready_s": time.monotonic() - start}
            if idle_seconds:
                before = _cpu_seconds(operator.proc.pid)
                time.sleep(idle_seconds)
                operator.check_alive()
                figures["idle_cpu_s_per_min"] = (_cpu_seconds(operator.proc.pid) - before) * 60 / idle_seconds
            return figures
        finally:
            operator.stop()
            if owned:
                kubectl("delete", "namespace", namespace, "--wait=false")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--manifest", default=str(REPO / "examples" / "frappebench.yaml"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--benches", type=int, default=1, help="copies of the manifest's bench in one run")
    parser.add_argument("--profile", action="store_true",
                        help="print the slowest tasks of the last round's first and no-op reconcile")
    parser.add_argument("--operator", action="store_true", help="time ansible-operator bringing the benches to Ready")
    parser.add_argument("--idle-seconds", type=int, default=120,
                        help="with --operator: how long to measure the operator's CPU once all are Ready")
    parser.add_argument("--max-concurrent", type=int, default=4,
                        help="with --operator: MAX_CONCURRENT_RECONCILES_FRAPPEBENCH_VYOGO_TECH")
    args = parser.parse_args()

    cluster = None
    if not os.environ.get("KUBECONFIG"):
        cluster = localcluster.LocalCluster(os.environ.get("LOCALCLUSTER_NAME") or "benchmark")
        kubeconfig = str(cluster.up(nodes=2))
        # With KEDA's CRDs the role also creates the ScaledObjects.
        localcluster.install_keda_crds(localcluster.Kubectl(kubeconfig))
    else:
        kubeconfig = os.environ["KUBECONFIG"]
    kubectl = localcluster.Kubectl(kubeconfig)
    env = dict(os.environ, KUBECONFIG=kubeconfig, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_COLLECTIONS_PATH=collection_path.COLLECTIONS_ROOT)
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    docs = [d for d in yaml.safe_load_all(Path(args.manifest).read_text()) if d]
    if args.benches > 1:
        docs = [dict(d, metadata=dict(d["metadata"], name="%s-%d" % (d["metadata"]["name"], i)))
                for i in range(args.benches) for d in docs]
    profile = None
    if args.operator:
        try:
            kubectl("apply", "--server-side", "--force-conflicts", "-k", REPO / "config" / "crd")
            localcluster.wait_established(kubectl, ["frappebenches.vyogo.tech", "frappesites.vyogo.tech"])
            # No pool refill here: as with the operator shipped, claims beyond the
            # start-up pool wait for the local cluster's provisioner.
            figures = operator_run(kubectl, env, docs, args.max_concurrent, idle_seconds=args.idle_seconds)
        finally:
            if cluster:
                cluster.down()
        print("ansible-operator, %d benches created at once, %d reconciled at a time: all Ready in %.1f s;"
              " then %.1f CPU seconds per idle minute" % (len(docs), args.max_concurrent, figures["ready_s"],
                                                          figures.get("idle_cpu_s_per_min", float("nan"))))
        print(json.dumps({"operator_ready_s": round(figures["ready_s"], 1),
                          "operator_idle_cpu_s_per_min": round(figures.get("idle_cpu_s_per_min", 0), 2),
                          "benches": len(docs), "max_concurrent": args.max_concurrent}))
        return
    results = {"first reconcile": [], "no-op reconcile": [], "floor (one k8s_info task)": [],
               "kubectl apply --server-side": [], "kubectl, a first reconcile's order": []}
    runs = {"first": [], "noop": []}
    floor = [playbook, str(REPO / "hack" / "benchmarks" / "floor" / "one-k8s-info-task.yml")]
    try:
        kubectl("apply", "--server-side", "--force-conflicts", "-k", REPO / "config" / "crd")
        localcluster.wait_established(kubectl, ["frappebenches.vyogo.tech", "frappesites.vyogo.tech"])
        keda = kubectl("get", "--raw", "/apis/keda.sh", check=False).returncode == 0
        for _round in range(args.rounds):
            if cluster:
                # Two claims per bench (sites, queue Redis), in two namespaces: fake nodes provision none.
                cluster.ensure_free_volumes(per_class=6 * len(docs) + 4)
            with tempfile.TemporaryDirectory() as tmp:
                ns, ns_kubectl = "bench-%s" % uuid.uuid4().hex[:6], "kubectl-%s" % uuid.uuid4().hex[:6]
                ns_ordered = "ordered-%s" % uuid.uuid4().hex[:6]
                for name in (ns, ns_kubectl, ns_ordered):
                    kubectl("create", "namespace", name)
                manifest = Path(tmp) / "manifest.yaml"
                manifest.write_text(yaml.safe_dump_all(
                    [dict(d, metadata=dict(d["metadata"], namespace=ns)) for d in docs]))
                site = [playbook, "playbooks/site.yml", "-e", "frappe_manifest=%s" % manifest]
                first, first_proc = timed(site, env)
                noop, proc = timed(site, env)
                reports = {"first": json.loads(first_proc.stdout), "noop": json.loads(proc.stdout)}
                changed = reports["noop"]["stats"]["localhost"]["changed"]
                if changed:
                    sys.exit("the second reconcile changed %d things; it should be a no-op" % changed)
                # Right after the no-op reconcile, on the same machine state: the pair the ratio compares.
                results["floor (one k8s_info task)"].append(timed(floor, env)[0])
                for kind, report in reports.items():
                    runs[kind].append(module_runs(report))
                timed([playbook, "playbooks/render.yml", "-e", "frappe_manifest=%s" % manifest,
                       "-e", "frappe_render_dir=%s" % tmp, "-e", "frappe_keda_available=%s" % keda], env)
                rendered = (Path(tmp) / "manifests.yaml").read_text().replace(
                    "namespace: %s" % ns, "namespace: %s" % ns_kubectl)
                (Path(tmp) / "kubectl.yaml").write_text(rendered)
                start = time.monotonic()
                kubectl("apply", "--server-side", "-f", Path(tmp) / "kubectl.yaml")
                apply = time.monotonic() - start
                ordered = None
                if args.benches == 1:
                    ordered = kubectl_ordered(kubectl, [d for d in yaml.safe_load_all(rendered) if d], ns_ordered, tmp)
                if args.profile and _round == args.rounds - 1:
                    profile = reports
                results["first reconcile"].append(first)
                results["no-op reconcile"].append(noop)
                results["kubectl apply --server-side"].append(apply)
                if ordered is not None:
                    results["kubectl, a first reconcile's order"].append(ordered)
                for name in (ns, ns_kubectl, ns_ordered):
                    kubectl("delete", "namespace", name, "--wait=false")
    finally:
        if cluster:
            cluster.down()

    base = statistics.median(results["kubectl apply --server-side"])
    if profile:
        for kind, title in (("first", "first"), ("noop", "no-op")):
            print("slowest tasks of the last %s reconcile (%d module runs in all):" % (title, module_runs(profile[kind])))
            print("%10s %12s  %s" % ("seconds", "module runs", "task"))
            for seconds, count, name in slowest_tasks(profile[kind]):
                print("%10.2f %12d  %s" % (seconds, count, name))
    print("manifest: %s, benches: %d, rounds: %d, cluster: %s, KEDA CRDs: %s" % (
        os.path.relpath(args.manifest, REPO), args.benches, args.rounds,
        "local control plane" if cluster else "KUBECONFIG", "yes" if keda else "no"))
    print("%-30s %10s %10s %10s %14s" % ("step", "median s", "min s", "max s", "x kubectl"))
    for step, values in results.items():
        if not values:
            continue
        median = statistics.median(values)
        print("%-30s %10.2f %10.2f %10.2f %14.1f" % (step, median, min(values), max(values), median / base))
    first, noop = statistics.median(results["first reconcile"]), statistics.median(results["no-op reconcile"])
    floor_s = statistics.median(results["floor (one k8s_info task)"])
    figures = {"first_s": round(first, 3), "noop_s": round(noop, 3), "floor_s": round(floor_s, 3),
               "noop_floor_ratio": round(noop / floor_s, 2), "kubectl_s": round(base, 3),
               "first_ratio": round(first / base, 2), "noop_ratio": round(noop / base, 2),
               "first_module_runs": statistics.median(runs["first"]),
               "noop_module_runs": statistics.median(runs["noop"]),
               "benches": args.benches, "rounds": args.rounds}
    if results["kubectl, a first reconcile's order"]:
        ordered = statistics.median(results["kubectl, a first reconcile's order"])
        figures.update(kubectl_ordered_s=round(ordered, 3), ordered_ratio=round(ordered / base, 2),
                       first_ratio_ordered=round(first / ordered, 2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
