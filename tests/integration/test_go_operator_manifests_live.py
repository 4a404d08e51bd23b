"""Manifests written for the Go frappe-operator against the real API server: its v1 documents are taken by strict
server-side apply and read back as v1alpha1 with every field, what the CRD refuses is refused with its reason, and a
bench in the older spellings reconciles to Ready."""

import copy

import pytest
import yaml

from support import REPO, converge, ready, run_until

V1_BENCH, V1_SITE = yaml.safe_load((REPO / "examples" / "go-operator" / "bench-and-site-v1.yaml").read_text())["items"]
OLDER = yaml.safe_load((REPO / "examples" / "go-operator" / "bench-older-spellings.yaml").read_text())
EXTERNAL_SITE = yaml.safe_load((REPO / "examples" / "go-operator" / "site-external-database.yaml").read_text())


def in_namespace(obj, namespace):
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    return obj


def test_v1_documents_are_applied_strictly_and_read_back_as_v1alpha1(kube, namespace, frappe_crds):
    bench, site = in_namespace(V1_BENCH, namespace), in_namespace(V1_SITE, namespace)
    site["spec"]["dbConfig"]["mariadbRef"]["namespace"] = namespace
    kube.apply({"apiVersion": "v1", "kind": "List", "items": [bench, site]})
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "acme")
    assert stored["apiVersion"] == "vyogo.tech/v1alpha1"
    for field in ("componentAutoscaling", "podConfig", "security", "apps", "imageConfig"):
        assert stored["spec"][field] == bench["spec"][field], field
    read_site = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1", namespace, "frappesites", "erp")
    assert read_site["spec"]["apps"] == ["erpnext"] and read_site["apiVersion"] == "vyogo.tech/v1"
    # A tag pinned to its digest, as the Go operator's e2e manifests write it, passes the CRD's checks too.
    pinned = copy.deepcopy(bench)
    pinned["metadata"]["name"] = "acme-pinned"
    pinned["spec"]["imageConfig"]["tag"] = "sha-ae82c47@sha256:" + "fc7d472b" * 8
    kube.apply(pinned)


@pytest.mark.parametrize("change, reason", [
    ({"componentReplicas": {"socketio": 2}}, "spec.componentReplicas.socketio: Invalid value"),
    ({"componentReplicas": {"scheduler": 2}}, "must be 1: a bench runs one scheduler"),
    ({"observability": {"enableTelemetry": True}}, ".spec.observability: field not declared in schema"),
])
def test_the_api_server_refuses_what_would_break_a_bench_with_the_reason(kube, namespace, frappe_crds, change, reason):
    bench = in_namespace(V1_BENCH, namespace)
    bench["spec"].update(change)
    refused = kube.kubectl("apply", "--server-side", "--field-manager=pytest", "-f", "-", input=yaml.safe_dump(bench),
                           check=False)
    assert refused.returncode != 0 and reason in refused.stderr, refused.stderr
    assert kube.custom.list_namespaced_custom_object("vyogo.tech", "v1", namespace, "frappebenches")["items"] == []


def test_a_bench_in_the_older_spellings_reconciles_to_ready(kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    bench = in_namespace(OLDER, namespace)
    converge(kube, tmp_path, bench)
    deployments = {d.metadata.name: d for d in kube.apps.list_namespaced_deployment(
        namespace, label_selector="vyogo.tech/bench=legacy").items}
    assert deployments["legacy-gunicorn"].spec.replicas == 2
    assert deployments["legacy-gunicorn"].spec.template.spec.containers[0].image.startswith(
        "docker.io/frappe/erpnext")
    assert [deployments["legacy-worker-" + t].spec.replicas for t in ("short", "long", "default")] == [1, 1, 1]
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1", namespace, "frappebenches", "legacy")
    assert stored["spec"]["version"] == "v15.45.0" and stored["status"]["phase"] == "Ready"


def _database_condition(status):
    return dict((c["type"], c) for c in status.get("conditions") or []).get("DatabaseReady") or {}


def test_a_site_of_provider_external_waits_for_a_login_frappe_can_use_then_gets_its_job(
        kube, namespace, frappe_crds, no_mariadb_crds, no_keda_crds, tmp_path):
    """Without the MariaDB Operator: the Secret is read by the round's one read (its host, port, database and
    username, never the password), a login Frappe 15 cannot use holds the site saying why, and the right one gets
    the site Job on the owner's database."""
    bench, site = in_namespace(OLDER, namespace), in_namespace(EXTERNAL_SITE, namespace)

    def login(username):
        kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "external-db-creds",
                                                                       "namespace": namespace},
                    "stringData": {"host": "db.example.com", "port": "3307", "database": "shop_db",
                                   "username": username, "password": "own-pw"}})

    login("frappe_user")
    run = run_until(kube, tmp_path, [bench, site], lambda status: ready(status) or bool(_database_condition(status)))
    assert run.rc == 0, run.explain()
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites",
                                                      "external-db-site")
    condition = _database_condition(stored["status"])
    assert (condition["status"], condition["reason"]) == ("False", "ConnectionSecretInvalid"), condition
    assert "Frappe version 15 logs in to a site's database as a user named like the database" in condition["message"]
    assert "own-pw" not in run.stdout
    assert kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=external-db-site").items == []

    login("shop_db")
    run = run_until(kube, tmp_path, [bench, site],
                    lambda status: ready(status) or _database_condition(status).get("status") == "True")
    assert run.rc == 0, run.explain()
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites",
                                                      "external-db-site")
    assert stored["status"]["databaseName"] == "shop_db"
    assert stored["status"]["databaseCredentialsSecret"] == "external-db-creds"
    [job] = kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=external-db-site").items
    env = dict((e.name, e) for e in job.spec.template.spec.containers[0].env)
    assert (env["DB_NAME"].value, env["DB_HOST"].value, env["DB_PORT"].value) == ("shop_db", "db.example.com", "3307")
    assert env["DB_PASSWORD"].value_from.secret_key_ref.name == "external-db-creds"
    assert not [name for name in env if name.startswith("DB_ROOT")]
