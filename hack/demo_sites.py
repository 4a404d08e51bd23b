"""The sites part of the main job on the embedded local cluster: examples/frappe-sites.yaml on a real MariaDB.

    python3 hack/demo_sites.py <ansible-playbook> [extra ansible-playbook arguments]

The example's sites name a MariaDB "mariadb" of the MariaDB Operator; fake
nodes run no database server, so here "mariadb" is an ExternalMariaDB that
points at a MariaDB server on this host, and the MariaDB Operator runs on this
host too, both for the length of the demo. Everything goes into the namespace
frappe-demo, which is made afresh each time (its FrappeSites' finalizers are
dropped first: the server that held their databases is gone).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack" / "localcluster"))

import localcluster  # noqa: E402

NAMESPACE = "frappe-demo"


def say(msg):
    print("[run] %s" % msg, file=sys.stderr, flush=True)


def fresh_namespace(kubectl):
    if kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0:
        say("removing the namespace %s of an earlier run" % NAMESPACE)
        sites = json.loads(kubectl("get", "frappesites", "-n", NAMESPACE, "-o", "json", check=False).stdout
                           or '{"items": []}')["items"]
        for site in sites:
            kubectl("patch", "frappesite", site["metadata"]["name"], "-n", NAMESPACE, "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}', check=False)
        kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s")
    kubectl("create", "namespace", NAMESPACE)


def example_documents():
    """examples/frappe-sites.yaml, its MariaDB turned into the ExternalMariaDB of this host."""
    items = []
    for doc in yaml.safe_load_all((REPO / "examples" / "frappe-sites.yaml").read_text()):
        items.extend(doc["items"] if doc and doc.get("kind") == "List" else [doc] if doc else [])
    for item in items:
        ref = ((item.get("spec") or {}).get("dbConfig") or {}).get("mariadbRef")
        if item["kind"] == "FrappeSite" and ref:
            ref["kind"] = "ExternalMariaDB"
        item["metadata"]["namespace"] = NAMESPACE
    return items


def main(argv):
    playbook, extra = argv[0], argv[1:]
    cluster = localcluster.LocalCluster(os.environ.get("LOCALCLUSTER_NAME", localcluster.DEFAULT_CLUSTER))
    kubectl = localcluster.Kubectl(cluster.kubeconfig)
    started = time.monotonic()
    say("building (or reusing) the MariaDB Operator")
    localcluster.build(["mariadb-operator"])
    localcluster.install_mariadb_operator_crds(kubectl)
    with tempfile.TemporaryDirectory(prefix="frappe-demo-") as tmp:
        server = localcluster.MariaDBServer(logdir=Path(tmp) / "mariadb").start()
        operator = None
        try:
            operator = localcluster.MariaDBOperator(cluster, logdir=Path(tmp) / "operator").start()
            say("MariaDB %s:%d and the MariaDB Operator run on this host (%.1f s)"
                % (server.host, server.port, time.monotonic() - started))
            fresh_namespace(kubectl)
            kubectl("create", "secret", "generic", "mariadb-root", "-n", NAMESPACE,
                    "--from-literal=password=%s" % server.root_password)
            kubectl("create", "secret", "generic", "crm-admin-password", "-n", NAMESPACE,
                    "--from-literal=password=admin-%s" % NAMESPACE)
            kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump({
                "apiVersion": "k8s.mariadb.com/v1alpha1", "kind": "ExternalMariaDB", "metadata": {"name": "mariadb"},
                "spec": {"host": server.host, "port": server.port, "username": server.root_user,
                         "passwordSecretKeyRef": {"name": "mariadb-root", "key": "password"}}}))
            manifest = Path(tmp) / "frappe-sites.yaml"
            manifest.write_text(yaml.safe_dump_all(example_documents()))
            say("reconciling examples/frappe-sites.yaml (a bench and two sites) in namespace %s" % NAMESPACE)
            step = time.monotonic()
            proc = subprocess.run([playbook, str(REPO / "playbooks" / "site.yml"), "-e", "frappe_manifest=%s" % manifest]
                                  + extra, cwd=str(REPO), check=False)
            if proc.returncode != 0:
                return proc.returncode
            say("bench and sites reconciled in %.1f s" % (time.monotonic() - step))
            print(kubectl("get", "frappesites", "-n", NAMESPACE, "-o", "custom-columns=SITE:.spec.siteName,"
                          "PHASE:.status.phase,URL:.status.siteURL,DATABASE:.status.databaseName").stdout)
            print(server.sql("SELECT SCHEMA_NAME AS site_database, DEFAULT_COLLATION_NAME FROM "
                             "information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '\\_%'"))
        finally:
            if operator:
                operator.stop()
            server.stop()
    say("the MariaDB server and operator stopped; the cluster keeps the objects (make cluster-down removes them)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
