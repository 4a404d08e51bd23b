"""FrappeSite against the real MariaDB Operator and a real MariaDB server.

The MariaDB Operator runs on this host against the local control plane and
reaches a loopback mariadbd through an ExternalMariaDB; every claim about the
database is checked with SQL on that server. kwok completes the site and drop
Jobs without running them, so the drop Job's script is run by the script
harness against the same server.
"""

import base64
import os
import sys
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from support import (REPO, AnsibleOperator, bound_service_account, manager_proxy_args, ready, run_playbook, run_until,
                     shipped_cluster_role, wait_until, write_manifest)

sys.path.insert(0, str(REPO / "tests" / "harness"))
from podscripts import ImageBench, pod_spec, run_container  # noqa: E402

pytestmark = [pytest.mark.mariadb]


def bench(namespace):
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": namespace},
            "spec": {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext",
                                                                    "tag": "v15.45.0"},
                     "apps": [{"name": "erpnext", "source": "image"}], "domainConfig": {"suffix": "example.com"}}}


def site(namespace, name, **spec):
    body = {"benchRef": {"name": "shop"}, "siteName": name,
            "dbConfig": {"mariadbRef": {"name": "mariadb", "kind": "ExternalMariaDB"}}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def external_mariadb(kube, namespace, server):
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mariadb-root", "namespace": namespace},
                "stringData": {"password": server.root_password}})
    kube.apply({"apiVersion": "k8s.mariadb.com/v1alpha1", "kind": "ExternalMariaDB",
                "metadata": {"name": "mariadb", "namespace": namespace},
                "spec": {"host": server.host, "port": server.port, "username": server.root_user,
                         "passwordSecretKeyRef": {"name": "mariadb-root", "key": "password"}}})
    wait_until(lambda: _ready(kube.custom.get_namespaced_custom_object(
        "k8s.mariadb.com", "v1alpha1", namespace, "externalmariadbs", "mariadb")), 60,
        "the ExternalMariaDB to be Ready")


def _ready(obj):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def frappe_site(kube, namespace, name):
    return kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", name)


def secret_value(kube, namespace, name, key):
    return base64.b64decode(kube.core.read_namespaced_secret(name, namespace).data[key]).decode()


def site_yml(kube, tmp_path, *objects, kubeconfig=None, **extra_vars):
    run = run_playbook(kube, "site.yml", dict(extra_vars, frappe_manifest=str(write_manifest(tmp_path, *objects))),
                       kubeconfig)
    assert run.rc == 0, run.explain()
    return run


@pytest.fixture
def shipped_role(kube, namespace, tmp_path):
    """A kubeconfig of a ServiceAccount bound to config/rbac/role.yaml, and nothing else."""
    yield bound_service_account(kube, namespace, shipped_cluster_role(), tmp_path / "operator.kubeconfig",
                                ("create", "databases.k8s.mariadb.com", "-n", namespace))
    kube.kubectl("delete", "clusterrolebinding", "frappe-operator-" + namespace, "--ignore-not-found")


def test_sites_get_their_database_on_a_real_mariadb_and_are_dropped_only_when_asked(
        kube, namespace, frappe_crds, keda_crds, mariadb_operator, mariadb_server, shipped_role, tmp_path):
    """Reconciled with nothing but the shipped ClusterRole (config/rbac/role.yaml)."""
    external_mariadb(kube, namespace, mariadb_server)
    # crm is backed up nightly: before it is dropped, its SiteBackup takes one more backup.
    nightly = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteBackup",
               "metadata": {"name": "crm-nightly", "namespace": namespace},
               "spec": {"site": "crm.acme.test", "schedule": "0 2 * * *"}}
    objects = [bench(namespace), site(namespace, "erp", ingress={"enabled": True, "className": "nginx"}),
               site(namespace, "crm.acme.test", domain="crm.acme.test", deletionPolicy="Delete"), nightly]

    started = time.monotonic()
    # A reconcile waits for no Job of the bench: run again until everything is Ready, as a user would.
    first = run_until(kube, tmp_path, objects[:3], ready, kubeconfig=shipped_role)
    assert first.rc == 0, first.explain()
    first_s = time.monotonic() - started
    erp, crm = frappe_site(kube, namespace, "erp"), frappe_site(kube, namespace, "crm.acme.test")
    for obj in (erp, crm):
        conditions = {c["type"]: c for c in obj["status"]["conditions"]}
        assert obj["status"]["phase"] == "Ready", (first_s, conditions)
        assert all(c["status"] == "True" for c in conditions.values()), conditions
    # erp is served on erp.example.com (the bench's suffix), and Frappe is told so.
    assert (erp["status"]["resolvedDomain"], erp["status"]["domainSource"]) == ("erp.example.com", "bench-suffix")
    assert erp["status"]["siteURL"] == "http://erp.example.com"
    # The bench's nginx maps erp.example.com to the site directory erp (crm is served on its own name).
    routes = kube.core.read_namespaced_config_map("shop-nginx", namespace).data["frappe.conf"]
    assert "erp.example.com erp;" in routes and "crm.acme.test;" not in routes
    bench_status = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches",
                                                            "shop")["status"]
    assert bench_status["routes"] == {"erp.example.com": "erp"}
    # socket.io resolves every site name and domain to the nginx Service, from the
    # reconcile that created the Service on (Frappe's callback to <Origin>).
    nginx_ip = kube.core.read_namespaced_service("shop-nginx", namespace).spec.cluster_ip
    aliases = kube.apps.read_namespaced_deployment("shop-socketio", namespace).spec.template.spec.host_aliases
    assert [(a.ip, a.hostnames) for a in aliases or []] == [(nginx_ip, ["crm.acme.test", "erp", "erp.example.com"])]
    assert bench_status["realtimeHosts"] == ["crm.acme.test", "erp", "erp.example.com"]
    # Its Ingress goes to the bench's nginx, which routes by Host.
    rule = client.NetworkingV1Api(kube.api).read_namespaced_ingress("erp-ingress", namespace).spec.rules[0]
    assert rule.host == "erp.example.com" and rule.http.paths[0].backend.service.name == "shop-nginx"

    db = {}
    for obj in (erp, crm):
        name = obj["metadata"]["name"]
        db_name = obj["status"]["databaseName"]
        assert obj["status"]["databaseCredentialsSecret"] == "%s-db-credentials" % name
        password = secret_value(kube, namespace, "%s-db-credentials" % name, "password")
        db[name] = (db_name, password)
        # The database, with Frappe's character set, made by the MariaDB Operator.
        assert mariadb_server.sql(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = '%s'" % db_name).split() == ["utf8mb4", "utf8mb4_unicode_ci"]
        # Its user is named like it, logs in with the password of its Secret and holds its grant.
        assert mariadb_server.sql("SELECT DATABASE()", user=db_name, password=password, database=db_name).strip() \
            == db_name
        grants = mariadb_server.sql("SHOW GRANTS FOR '%s'@'%%'" % db_name)
        assert "GRANT ALL PRIVILEGES ON `%s`.* TO `%s`@`%%`" % (db_name, db_name) in grants, grants
        assert mariadb_server.sql("SELECT max_user_connections FROM mysql.user WHERE user = '%s'"
                                  % db_name).strip() == "100"
        # The site Job ran (kwok completes it) with passwords from Secrets only.
        [job] = [j for j in kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=%s" % name).items
                 if j.metadata.name.startswith(name + "-new-site-")]
        assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or [])
        env = {e.name: e for e in job.spec.template.spec.containers[0].env}
        assert env["DB_PASSWORD"].value_from.secret_key_ref.name == "%s-db-credentials" % name
        assert env["ADMIN_PASSWORD"].value_from.secret_key_ref.name == "%s-admin" % name
        assert env["DB_HOST"].value == mariadb_server.host and env["DB_PORT"].value == str(mariadb_server.port)
        assert env["INSTALL_APPS"].value == "erpnext"
        # Its outcome was read once, when it completed; kwok's pod reported none, so no versions are claimed.
        assert obj["status"]["schema"] == {"job": job.metadata.name}, obj["status"]
    versions = {n: kube.core.read_namespaced_secret("%s-db-credentials" % n, namespace).metadata.resource_version
                for n in db}

    # The SiteBackup, whose reconcile needs the site Ready, gets its CronJob.
    site_yml(kube, tmp_path, *objects, kubeconfig=shipped_role)
    assert kube.batch.read_namespaced_cron_job("crm-nightly-backup", namespace).spec.schedule == "0 2 * * *"
    # Idempotent, and the generated passwords are never regenerated.
    again = site_yml(kube, tmp_path, *objects, kubeconfig=shipped_role)
    assert again.changed == 0, [t["task"]["name"] for p in again.json["plays"] for t in p["tasks"]
                                if t["hosts"]["localhost"].get("changed")]
    assert versions == {n: kube.core.read_namespaced_secret("%s-db-credentials" % n, namespace).metadata.resource_version
                        for n in db}

    # Deleting both: erp (Retain, the default) keeps everything, crm (Delete) is backed up, then dropped.
    crm_uid = crm["metadata"]["uid"]
    for name in db:
        kube.custom.delete_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", name)
    site_yml(kube, tmp_path, objects[0], kubeconfig=shipped_role)
    for name in db:
        with pytest.raises(ApiException) as gone:
            frappe_site(kube, namespace, name)
        assert gone.value.status == 404
    # No site on another domain is left: the map is empty and nginx routes by Host alone.
    routes = kube.core.read_namespaced_config_map("shop-nginx", namespace).data["frappe.conf"]
    assert "erp.example.com erp;" not in routes and "map $host $frappe_site_name {\n    default $host;\n}" in routes

    erp_db, erp_password = db["erp"]
    assert mariadb_server.sql("SELECT 1", user=erp_db, password=erp_password, database=erp_db).strip() == "1"
    assert secret_value(kube, namespace, "erp-db-credentials", "password") == erp_password
    database = kube.custom.get_namespaced_custom_object("k8s.mariadb.com", "v1alpha1", namespace, "databases", "erp-db")
    assert database["spec"]["cleanupPolicy"] == "Skip"

    # crm: its objects and Secrets are gone; the drop Job the role ran (kwok
    # completes it) is run for real here, on a bench directory holding the site.
    crm_db = db["crm.acme.test"][0]
    for plural in ("databases", "users", "grants"):
        names = [o["metadata"]["name"] for o in kube.custom.list_namespaced_custom_object(
            "k8s.mariadb.com", "v1alpha1", namespace, plural)["items"]]
        assert not [n for n in names if n.startswith("crm.acme.test-")], (plural, names)
    with pytest.raises(ApiException):
        kube.core.read_namespaced_secret("crm.acme.test-db-credentials", namespace)
    [drop] = [j for j in kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=crm.acme.test").items
              if j.metadata.name.startswith("crm.acme.test-drop-site-")]
    assert not drop.metadata.owner_references and drop.spec.ttl_seconds_after_finished
    final = kube.batch.read_namespaced_job("crm-nightly-final-" + crm_uid[:8], namespace)
    assert final.status.succeeded and final.status.completion_time <= drop.metadata.creation_timestamp
    assert final.spec.template.spec.containers[0].args[3:5] == ["site-backup", "crm.acme.test"]
    image = ImageBench(tmp_path / "bench")
    (image.sites / "crm.acme.test").mkdir()
    (image.sites / "crm.acme.test" / "site_config.json").write_text('{"db_name": "%s"}' % crm_db)
    job = kube.api.sanitize_for_serialization(drop)
    run = run_container(image, job, pod_spec(job)["containers"][0],
                        {"mariadb-root": {"password": mariadb_server.root_password}},
                        harness_env={"HARNESS_MARIADB_REAL": "1"})
    assert run.rc == 0, run.explain()
    assert mariadb_server.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '%s'"
                              % crm_db).strip() == "0"
    assert mariadb_server.sql("SELECT COUNT(*) FROM mysql.user WHERE user = '%s'" % crm_db).strip() == "0"
    assert not (image.sites / "crm.acme.test").exists()
    assert [p.name.split(".2")[0] for p in (image.sites / "archived_sites").iterdir()] == ["crm.acme.test"]
    # erp's database is untouched by crm's drop.
    assert mariadb_server.sql("SELECT 1", user=erp_db, password=erp_password, database=erp_db).strip() == "1"


@pytest.mark.operator
def test_the_operator_reconciles_a_site_and_runs_its_finalizer(
        kube, namespace, frappe_crds, no_keda_crds, mariadb_operator, mariadb_server, tmp_path):
    external_mariadb(kube, namespace, mariadb_server)
    # As shipped: the proxy injects owner references (and so watches dependents).
    operator = AnsibleOperator(kube, REPO / "watches.yaml", namespace, tmp_path,
                               collections_path=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0],
                               extra_args=manager_proxy_args()).start()
    try:
        kube.custom.create_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches",
                                                    bench(namespace))
        kube.custom.create_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites",
                                                    site(namespace, "erp.example.com", ingress={"enabled": True}))

        def ready():
            operator.check_alive()
            status = frappe_site(kube, namespace, "erp.example.com").get("status", {})
            return status.get("phase") == "Ready" and status
        status = wait_until(ready, 300, lambda: "the operator to make the site Ready (status %s, log %s)" % (
            frappe_site(kube, namespace, "erp.example.com").get("status"), operator.logfile))
        db_name = status["databaseName"]
        password = secret_value(kube, namespace, "erp.example.com-db-credentials", "password")
        assert mariadb_server.sql("SELECT DATABASE()", user=db_name, password=password, database=db_name).strip() \
            == db_name
        # The SDK added the finalizer watches.yaml names; the role names the same one.
        site_obj = frappe_site(kube, namespace, "erp.example.com")
        assert site_obj["metadata"]["finalizers"] == ["vyogo.tech/site-cleanup"]
        # One owner reference, the role's, on what the site owns; none on what
        # must outlive it, though the proxy added one to each on create.
        networking = client.NetworkingV1Api(kube.api)
        owned = kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=erp.example.com").items
        assert len(owned) == 1
        owned.append(networking.read_namespaced_ingress("erp.example.com-ingress", namespace))
        for obj in owned:
            assert [(o.kind, o.uid, o.controller) for o in obj.metadata.owner_references] == [
                ("FrappeSite", site_obj["metadata"]["uid"], True)], obj.metadata
        database_objects = [
            kube.custom.get_namespaced_custom_object("k8s.mariadb.com", "v1alpha1", namespace, plural, name)
            for plural, name in (("databases", "erp.example.com-db"), ("users", "erp.example.com-user"),
                                 ("grants", "erp.example.com-grant"))]
        outliving = [o["metadata"].get("ownerReferences") for o in database_objects]
        outliving += [kube.core.read_namespaced_secret(n, namespace).metadata.owner_references
                      for n in ("erp.example.com-db-credentials", "erp.example.com-admin")]
        assert outliving == [None] * 5, outliving
        # A deleted Ingress is back well before reconcilePeriod (5 minutes): the proxy watches Ingresses.
        networking.delete_namespaced_ingress("erp.example.com-ingress", namespace)
        wait_until(lambda: networking.read_namespaced_ingress("erp.example.com-ingress", namespace), 60,
                   lambda: "the deleted Ingress of the site to be repaired (log %s)" % operator.logfile)

        kube.custom.delete_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites",
                                                    "erp.example.com")

        def gone():
            operator.check_alive()
            try:
                frappe_site(kube, namespace, "erp.example.com")
            except ApiException as exc:
                return exc.status == 404
            return False
        wait_until(gone, 120, lambda: "the operator to run the finalizer (log %s)" % operator.logfile)
        # Retain: the database and its password stay.
        assert mariadb_server.sql("SELECT 1", user=db_name, password=password, database=db_name).strip() == "1"
        assert secret_value(kube, namespace, "erp.example.com-db-credentials", "password") == password
    finally:
        operator.stop()


def test_without_the_mariadb_operator_a_site_waits_and_nothing_is_provisioned(
        kube, namespace, frappe_crds, no_mariadb_crds, tmp_path):
    objects = [bench(namespace), site(namespace, "erp")]
    # Until the bench is Ready (its reconcile waits for no Job), then the site says why it waits.
    run = run_until(kube, tmp_path, objects, lambda status: ready(status) or status.get("phase") == "Pending")
    assert run.rc == 0, run.explain()
    status = frappe_site(kube, namespace, "erp")["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Pending", conditions
    database = conditions["DatabaseReady"]
    assert (database["status"], database["reason"]) == ("False", "MariaDBOperatorMissing")
    assert "install" in database["message"] and "connectionSecretRef" in database["message"]
    assert not run.failures
    # No password generated, no Job: nothing waits on a database nobody can make.
    secrets = [s.metadata.name for s in kube.core.list_namespaced_secret(namespace).items]
    assert not [s for s in secrets if s.startswith("erp-")], secrets
    assert kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=erp").items == []
    again = site_yml(kube, tmp_path, *objects)
    assert again.changed == 0, [t["task"]["name"] for p in again.json["plays"] for t in p["tasks"]
                                if t["hosts"]["localhost"].get("changed")]


def test_a_dedicated_mariadb_is_made_for_the_site_and_the_site_waits_for_it_with_a_reason(
        kube, namespace, frappe_crds, mariadb_operator, tmp_path):
    """Fake nodes run no MariaDB, so the dedicated server never becomes Ready here: its object and the wait are checked.

    One round: a site whose server is being made is on its way, and site.yml
    would keep reconciling it for frappe_converge_seconds.
    """
    objects = [bench(namespace), site(namespace, "erp", dbConfig={"mode": "dedicated", "storageSize": "5Gi"})]
    site_yml(kube, tmp_path, *objects, frappe_converge_seconds=0)
    server = kube.custom.get_namespaced_custom_object("k8s.mariadb.com", "v1alpha1", namespace, "mariadbs", "erp-mariadb")
    assert server["spec"]["storage"]["size"] == "5Gi"
    assert server["spec"]["rootPasswordSecretKeyRef"] == {"name": "erp-mariadb-root", "key": "password", "generate": True}
    assert not server["metadata"].get("ownerReferences")  # it holds the data: no garbage collection with the site
    database = kube.custom.get_namespaced_custom_object("k8s.mariadb.com", "v1alpha1", namespace, "databases", "erp-db")
    assert database["spec"]["mariaDbRef"]["name"] == "erp-mariadb" and database["spec"]["cleanupPolicy"] == "Skip"
    status = frappe_site(kube, namespace, "erp")["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] in ("Pending", "Provisioning")
    assert conditions["DatabaseReady"]["reason"] == "DatabaseServerNotReady", conditions["DatabaseReady"]
    assert "erp-mariadb" in conditions["DatabaseReady"]["message"]
    assert kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site=erp").items == []


def test_deleting_the_bench_drops_no_database_and_a_failed_cleanup_keeps_the_finalizer(
        kube, namespace, frappe_crds, mariadb_operator, mariadb_server, tmp_path):
    external_mariadb(kube, namespace, mariadb_server)
    shop = bench(namespace)
    erp = site(namespace, "erp", deletionPolicy="Delete")
    assert run_until(kube, tmp_path, [shop, erp]).rc == 0
    status = frappe_site(kube, namespace, "erp")["status"]
    assert status["phase"] == "Ready", status
    db_name = status["databaseName"]
    password = secret_value(kube, namespace, "erp-db-credentials", "password")

    kube.custom.delete_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "shop")
    wait_until(lambda: not kube.custom.list_namespaced_custom_object(
        "vyogo.tech", "v1alpha1", namespace, "frappebenches")["items"], 60, "the bench to go")
    # The bench's objects go with it; the site's database does not.
    assert mariadb_server.sql("SELECT 1", user=db_name, password=password, database=db_name).strip() == "1"

    # Delete needs the bench's image and volume for its drop Job: without them the
    # cleanup stops, says why, and keeps the finalizer (and the data).
    kube.custom.delete_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", "erp")
    run = run_playbook(kube, "site.yml", {"frappe_manifest": str(write_manifest(tmp_path, erp, name="site-only.yaml"))})
    assert run.rc != 0 and "deletionPolicy" in run.failure_message and "Recreate the bench" in run.failure_message
    obj = frappe_site(kube, namespace, "erp")
    assert obj["metadata"]["finalizers"] == ["vyogo.tech/site-cleanup"]
    ready = {c["type"]: c for c in obj["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "CleanupFailed")
    assert mariadb_server.sql("SELECT 1", user=db_name, password=password, database=db_name).strip() == "1"

    # Keeping the data instead, as the message says, lets it go.
    kube.custom.patch_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", "erp",
                                               {"spec": {"deletionPolicy": "Retain"}})
    site_yml(kube, tmp_path, shop)
    with pytest.raises(ApiException):
        frappe_site(kube, namespace, "erp")
    assert mariadb_server.sql("SELECT 1", user=db_name, password=password, database=db_name).strip() == "1"


def test_a_site_stopped_midway_by_the_api_server_is_completed_by_the_next_reconcile(
        kube, namespace, frappe_crds, mariadb_operator, mariadb_server, tmp_path):
    """An API error after the first writes (here RBAC refusing the Ingress, the last object of the site) leaves
    objects the next reconcile completes: the same database, the same generated passwords, then the rest."""
    external_mariadb(kube, namespace, mariadb_server)
    shipped = shipped_cluster_role()
    role_name = "frappe-operator-midway-" + namespace
    refusing = dict(shipped, metadata={"name": role_name})
    refusing["rules"] = [dict(r, verbs=["get", "list", "watch"])
                         if r.get("apiGroups") == ["networking.k8s.io"] and "ingresses" in r["resources"] else r
                         for r in shipped["rules"]]
    assert refusing["rules"] != shipped["rules"]
    account = "system:serviceaccount:%s:operator" % namespace
    try:
        kubeconfig = bound_service_account(kube, namespace, refusing, tmp_path / "operator.kubeconfig",
                                           ("create", "databases.k8s.mariadb.com", "-n", namespace), binding=role_name)
        objects = [bench(namespace), site(namespace, "erp", ingress={"enabled": True, "className": "nginx"})]
        manifest = write_manifest(tmp_path, *objects)

        stopped = run_playbook(kube, "site.yml", {"frappe_manifest": str(manifest)}, kubeconfig)
        assert stopped.rc != 0 and "forbidden" in stopped.failure_message.lower(), stopped.explain()
        ready = {c["type"]: c for c in frappe_site(kube, namespace, "erp")["status"]["conditions"]}["Ready"]
        assert ready["status"] == "False" and "ingresses" in ready["message"], ready
        # Written before the refusal: the password Secrets (generated once) and the database.
        password = secret_value(kube, namespace, "erp-db-credentials", "password")
        admin = secret_value(kube, namespace, "erp-admin", "password")
        with pytest.raises(ApiException):
            client.NetworkingV1Api(kube.api).read_namespaced_ingress("erp-ingress", namespace)

        # The API server allows it again: the next reconcile completes the same site.
        kube.apply(dict(refusing, rules=shipped["rules"]))
        wait_until(lambda: kube.kubectl("auth", "can-i", "patch", "ingresses.networking.k8s.io", "-n", namespace,
                                        "--as", account, check=False).stdout.strip() == "yes", 60, "the new rules")
        done = run_playbook(kube, "site.yml", {"frappe_manifest": str(manifest)}, kubeconfig)
        assert done.rc == 0, done.explain()
        status = frappe_site(kube, namespace, "erp")["status"]
        assert status["phase"] == "Ready", status
        assert secret_value(kube, namespace, "erp-db-credentials", "password") == password
        assert secret_value(kube, namespace, "erp-admin", "password") == admin
        db_name = status["databaseName"]
        assert mariadb_server.sql("SELECT DATABASE()", user=db_name, password=password, database=db_name).strip() \
            == db_name
        client.NetworkingV1Api(kube.api).read_namespaced_ingress("erp-ingress", namespace)
    finally:
        kube.kubectl("delete", "clusterrolebinding", role_name, "--ignore-not-found")
        kube.kubectl("delete", "clusterrole", role_name, "--ignore-not-found")
