"""Wall time of reconciling one bench with 1 ... N sites in one site.yml run, on a real MariaDB.

    python hack/benchmarks/sites.py [--sites 1,10] [--rounds 3]
    python hack/benchmarks/sites.py --operator --sites 10

Starts (and afterwards stops) the embedded local control plane, the MariaDB
Operator and a MariaDB server on this host (an ExternalMariaDB points at it),
as the tests do. Each round of each size uses a fresh namespace:
  1. site.yml, first reconcile of the bench and its N sites (databases, users,
     grants by the MariaDB Operator; the site Jobs, which kwok completes)
  2. site.yml again, nothing to change (no-op reconcile)
The bench alone is timed the same way, so the table shows what the sites add
(per site), and each size's no-op reconcile is counted in module runs (the
json callback's results that carry a module's invocation, as
reconcile.py counts them): a reconcile whose cost grows with objects, not
tasks, makes as many module runs with 10 sites as with 1
(`--sites 1,10 --rounds 1` is enough for the counts). The last line is one
JSON object (per size: first_s, noop_s, noop_module_runs, ...). A
benchmark, not a test.
With --operator, the real ansible-operator binary runs watches.yaml instead:
the bench and its N sites are created at once and the time until all report
Ready is printed (JSON: operator_ready_s, sites, max_concurrent).
Run it from the environment `make test` builds (it needs ansible-playbook).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

# The checkout, the local cluster's helpers and timed() as the reconcile benchmark has them.
from reconcile import REPO, collection_path, localcluster, module_runs, operator_run, timed  # noqa: E402  (beside this script)


def documents(namespace, sites):
    bench = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": namespace},
             "spec": {"frappeVersion": "version-15", "apps": [{"name": "erpnext", "source": "image"}]}}
    return [bench] + [
        {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "site-%d" % i, "namespace": namespace},
         "spec": {"benchRef": {"name": "shop"}, "siteName": "site-%d.example.com" % i,
                  "dbConfig": {"mariadbRef": {"name": "mariadb", "kind": "ExternalMariaDB"}}}}
        for i in range(sites)]


def external_mariadb(kubectl, namespace, server):
    """A namespace whose ExternalMariaDB "mariadb" is the server on this host."""
    kubectl("create", "namespace", namespace)
    kubectl("create", "secret", "generic", "mariadb-root", "-n", namespace,
            "--from-literal=password=%s" % server.root_password)
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "k8s.mariadb.com/v1alpha1", "kind": "ExternalMariaDB", "metadata": {"name": "mariadb"},
        "spec": {"host": server.host, "port": server.port, "username": server.root_user,
                 "passwordSecretKeyRef": {"name": "mariadb-root", "key": "password"}}}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sites", default="1,10", help="comma-separated numbers of sites")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--operator", action="store_true", help="time ansible-operator bringing them to Ready")
    parser.add_argument("--max-concurrent", type=int, default=4,
                        help="with --operator: MAX_CONCURRENT_RECONCILES_<KIND>_VYOGO_TECH")
    args = parser.parse_args()
    sizes = [0] + [int(n) for n in args.sites.split(",")]

    cluster = localcluster.LocalCluster(os.environ.get("LOCALCLUSTER_NAME") or "benchmark")
    kubeconfig = str(cluster.up(nodes=2))
    kubectl = localcluster.Kubectl(kubeconfig)
    env = dict(os.environ, KUBECONFIG=kubeconfig, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_COLLECTIONS_PATH=collection_path.COLLECTIONS_ROOT)
    env.pop("K8S_AUTH_KUBECONFIG", None)
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    results = dict((n, {"first": [], "noop": [], "noop_module_runs": []}) for n in sizes)
    with tempfile.TemporaryDirectory() as tmp:
        server = operator = None
        try:
            localcluster.build(["mariadb-operator"])
            kubectl("apply", "--server-side", "--force-conflicts", "-k", REPO / "config" / "crd")
            localcluster.wait_established(kubectl, ["frappebenches.vyogo.tech", "frappesites.vyogo.tech"])
            localcluster.install_mariadb_operator_crds(kubectl)
            server = localcluster.MariaDBServer(logdir=Path(tmp) / "mariadb").start()
            operator = localcluster.MariaDBOperator(cluster, logdir=Path(tmp) / "operator").start()
            if args.operator:
                localcluster.build(["ansible-operator"])
                n = max(sizes)
                cluster.ensure_free_volumes(per_class=4)
                namespace = "operator-sites-%s" % uuid.uuid4().hex[:6]
                external_mariadb(kubectl, namespace, server)
                seconds = operator_run(kubectl, env, documents(namespace, n), args.max_concurrent,
                                       namespace=namespace)["ready_s"]
                print("ansible-operator, a bench and %d sites created at once, %d reconciled at a time per kind: "
                      "all Ready in %.1f s" % (n, args.max_concurrent, seconds))
                print(json.dumps({"operator_ready_s": round(seconds, 1), "sites": n,
                                  "max_concurrent": args.max_concurrent}))
                return
            for _round in range(args.rounds):
                for n in sizes:
                    cluster.ensure_free_volumes(per_class=4)
                    namespace = "sites-%d-%s" % (n, uuid.uuid4().hex[:6])
                    external_mariadb(kubectl, namespace, server)
                    manifest = Path(tmp) / ("%s.yaml" % namespace)
                    manifest.write_text(yaml.safe_dump_all(documents(namespace, n)))
                    site = [playbook, "playbooks/site.yml", "-e", "frappe_manifest=%s" % manifest]
                    first = timed(site, env)[0]
                    ready = json.loads(kubectl("get", "frappesites", "-n", namespace, "-o", "json").stdout)["items"]
                    not_ready = [s["metadata"]["name"] for s in ready if s.get("status", {}).get("phase") != "Ready"]
                    if not_ready:
                        sys.exit("sites not Ready after the first reconcile: %s" % not_ready)
                    noop, proc = timed(site, env)
                    changed = json.loads(proc.stdout)["stats"]["localhost"]["changed"]
                    if changed:
                        sys.exit("the second reconcile changed %d things; it should be a no-op" % changed)
                    results[n]["first"].append(first)
                    results[n]["noop"].append(noop)
                    results[n]["noop_module_runs"].append(module_runs(json.loads(proc.stdout)))
        finally:
            for proc in (operator, server):
                if proc:
                    proc.stop()
            cluster.down()

    print("one bench and N sites on a real MariaDB (MariaDB Operator, ExternalMariaDB), rounds: %d" % args.rounds)
    print("%-8s %14s %14s %18s %16s %18s" % ("sites", "first med s", "no-op med s", "first per site s",
                                             "no-op per site s", "no-op module runs"))
    out = {"rounds": args.rounds}
    bench_first = statistics.median(results[0]["first"])
    bench_noop = statistics.median(results[0]["noop"])
    for n in sizes:
        first, noop = statistics.median(results[n]["first"]), statistics.median(results[n]["noop"])
        per_first = (first - bench_first) / n if n else 0.0
        per_noop = (noop - bench_noop) / n if n else 0.0
        runs = statistics.median(results[n]["noop_module_runs"])
        print("%-8s %14.2f %14.2f %18.2f %16.2f %18d" % (n if n else "0 (bench)", first, noop, per_first, per_noop, runs))
        out["sites_%d" % n] = {"first_s": round(first, 2), "noop_s": round(noop, 2), "noop_module_runs": runs,
                               "first_min_s": round(min(results[n]["first"]), 2),
                               "first_max_s": round(max(results[n]["first"]), 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
