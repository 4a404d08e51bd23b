"""Unit tests of site_plan and site_status: names, database, domains, refusals and status of a site's reconcile."""

import json
import re

import pytest
import yaml
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import database_name
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_plan, site_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import (
    site_settled, site_status, site_writes_needed)

from role_settings import REPO, role_settings, role_variables as _role_variables

SETTINGS = role_settings("frappe_site", "frappe_site_settings")
UID = "5a5a5a5a-1111-2222-3333-444455556666"


def site(name="erp", namespace="shop", status=None, **spec):
    body = {"benchRef": {"name": "shop"}, "siteName": "erp.example.com", "dbConfig": {"mariadbRef": {"name": "mariadb"}}}
    body.update(spec)
    obj = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite",
           "metadata": {"name": name, "namespace": namespace, "uid": UID, "generation": 1,
                        "creationTimestamp": "2026-11-27T10:00:00Z"}, "spec": body}
    if status:
        obj["status"] = status
    return obj


def ready(kind, obj_name, **spec):
    return {"kind": kind, "metadata": {"name": obj_name}, "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]}}


def bench(configured=True, ready_=True, **spec):
    body = {"frappeVersion": "version-15", "apps": [{"name": "frappe"}, {"name": "erpnext"}, {"name": "hrms"}]}
    body.update(spec)
    status = {"image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-sites", "sitesAccessMode": "ReadWriteOnce",
              "frontend": {"service": "shop-nginx", "port": 8080},
              "conditions": [{"type": "ConfigReady", "status": "True" if configured else "False"},
                             {"type": "Ready", "status": "True" if ready_ else "False"}]}
    return {"kind": "FrappeBench", "metadata": {"name": "shop"}, "spec": body, "status": status}


def live(**overrides):
    state = {"bench": [bench()], "server": [ready("MariaDB", "mariadb", port=3307)],
             "database": [ready("Database", "erp-db")], "user": [ready("User", "erp-user")],
             "grant": [ready("Grant", "erp-grant")],
             # Secrets as k8s_multi_info reads them: the keys, never the values.
             "db_secret": [{"metadata": {"name": "erp-db-credentials"}, "data": {"password": ""}}],
             "admin_secret": [{"metadata": {"name": "erp-admin"}, "data": {"password": ""}}], "jobs": [],
             "api_groups": {"k8s.mariadb.com/v1alpha1": True, "cert-manager.io/v1": True}}
    state.update(overrides)
    return state


def plan(s=None, mode="apply", **overrides):
    return site_plan(s or site(), live=live(**overrides), settings=SETTINGS, mode=mode,
                     new_site_script="echo new", drop_site_script="echo drop")


def test_settings_that_copy_the_bench_role_agree_with_it():
    bench_vars, site_vars = _role_variables("frappe_bench"), _role_variables("frappe_site")
    assert site_vars["frappe_site_bench_dir"] == bench_vars["frappe_bench_bench_dir"]
    assert site_vars["frappe_site_run_as_user"] == bench_vars["frappe_bench_run_as_user"]


def test_the_api_groups_the_roles_ask_about_are_the_ones_the_plans_use():
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import bench_plan as bench_plan_module
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import site_plan as site_plan_module
    assert _role_variables("frappe_bench")["frappe_bench_api_groups"] == [bench_plan_module.KEDA_API]
    assert _role_variables("frappe_site")["frappe_site_api_groups"] == [
        site_plan_module.MARIADB_API, site_plan_module.CERT_MANAGER_API]
    # playbooks/site.yml reads for all its benches and sites at once and asks the same.
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import API_GROUPS
    assert API_GROUPS == {"FrappeBench": _role_variables("frappe_bench")["frappe_bench_api_groups"],
                          "FrappeSite": _role_variables("frappe_site")["frappe_site_api_groups"]}
    # ... and finds KEDA's Lease where the bench role looks by default.
    defaults = yaml.safe_load((REPO / "roles" / "frappe_bench" / "defaults" / "main.yml").read_text())
    assert (bench_plan_module.KEDA_NAMESPACE, bench_plan_module.KEDA_LEASE) == (
        defaults["frappe_bench_keda_namespace"], defaults["frappe_bench_keda_lease"])


def test_the_finalizer_is_the_one_watches_yaml_names():
    watches = yaml.safe_load((REPO / "watches.yaml").read_text())
    entry = [w for w in watches if w["kind"] == "FrappeSite"][0]
    assert entry["finalizer"]["name"] == _role_variables("frappe_site")["frappe_site_finalizer"]
    assert entry["role"] == entry["finalizer"]["role"] == "vyogotech.frappe.frappe_site"


def test_a_site_on_a_ready_database_gets_its_job_with_names_kept_from_the_go_operator():
    p = plan()
    assert p["errors"] == [] and p["job_allowed"]
    assert [(s["kind"], s["name"]) for s in p["render"]] == [
        ("Database", "erp-db"), ("User", "erp-user"), ("Grant", "erp-grant"), ("Job", p["job"]["name"])]
    assert p["job"]["name"].startswith("erp-new-site-")
    # One database name per namespace and site, a valid MariaDB user name too.
    assert p["database"]["name"] == p["database"]["user"] == database_name("shop", "erp")
    assert re.fullmatch(r"_[0-9a-f]{16}", p["database"]["name"])
    assert database_name("other", "erp") != p["database"]["name"]
    assert p["server"]["host"] == "mariadb.shop.svc.cluster.local" and p["server"]["port"] == 3307
    assert p["bench"]["apps"] == ["erpnext", "hrms"]
    # Retain (the default): the MariaDB Operator must never drop anything.
    assert p["database"]["cleanup_policy"] == "Skip"
    assert p["database"]["max_user_connections"] == 100


def test_the_recorded_database_name_is_kept():
    p = plan(site(status={"databaseName": "_recorded"}))
    assert p["database"]["name"] == "_recorded"


def test_the_job_name_follows_its_inputs():
    first = plan()["job"]["name"]
    assert plan()["job"]["name"] == first
    assert plan(bench=[bench(apps=[{"name": "erpnext"}])])["job"]["name"] != first


def test_delete_policy_on_a_mariadb_lets_the_operator_drop_but_not_on_an_external_one():
    assert plan(site(deletionPolicy="Delete"))["database"]["cleanup_policy"] == "Delete"
    external = site(deletionPolicy="Delete", dbConfig={"mariadbRef": {"name": "ext", "kind": "ExternalMariaDB"}})
    p = plan(external, server=[ready("ExternalMariaDB", "ext", host="10.0.0.5", port=3306, username="admin",
                                     passwordSecretKeyRef={"name": "ext-root", "key": "password"})])
    assert p["errors"] == [] and p["database"]["cleanup_policy"] == "Skip"
    assert p["server"]["host"] == "10.0.0.5"
    assert p["server"]["admin"] == {"secret": "ext-root", "password_key": "password", "username": "admin"}


def test_delete_policy_on_an_external_server_of_another_namespace_is_refused():
    external = site(deletionPolicy="Delete",
                    dbConfig={"mariadbRef": {"name": "ext", "namespace": "db", "kind": "ExternalMariaDB"}})
    p = plan(external, server=[ready("ExternalMariaDB", "ext", host="h", username="admin",
                                     passwordSecretKeyRef={"name": "ext-root", "key": "password"})])
    assert len(p["errors"]) == 1 and "deletionPolicy" in p["errors"][0] and "namespace shop" in p["errors"][0]


def test_without_the_mariadb_operator_the_site_waits_and_nothing_is_provisioned():
    p = plan(api_groups={"k8s.mariadb.com/v1alpha1": False, "cert-manager.io/v1": True},
             database=[], user=[], grant=[], server=[],
             db_secret=[], admin_secret=[])
    assert p["errors"] == [] and not p["provision"] and not p["job_allowed"]
    assert [s["kind"] for s in p["render"]] == ["Job"]  # rendered, never applied without job_allowed
    assert p["database"]["reason"] == "MariaDBOperatorMissing"
    assert "connectionSecretRef" in p["database"]["message"] and "install" in p["database"]["message"]
    result = site_status(p, site())
    assert result["phase"] == "Pending"
    assert {c["type"]: c["status"] for c in result["conditions"]}["DatabaseReady"] == "False"


def test_a_connection_secret_makes_the_job_create_the_database():
    s = site(dbConfig={"connectionSecretRef": {"name": "db-admin"}})
    p = plan(s, connection_secret=[{"metadata": {"name": "db-admin"},
                                    "data": {"host": "", "username": "", "password": ""}}])
    assert p["errors"] == [] and p["server"]["via"] == "connection-secret" and p["job_allowed"]
    assert [s["kind"] for s in p["render"]] == ["Job"]
    missing = plan(s, connection_secret=[{"metadata": {"name": "db-admin"}, "data": {"host": ""}}])
    assert not missing["job_allowed"] and missing["database"]["reason"] == "ConnectionSecretInvalid"
    assert "username, password" in missing["database"]["message"]


def test_unsupported_input_is_refused_with_the_field_and_the_fix():
    for spec, words in (
            ({"dbConfig": {"provider": "postgres", "mariadbRef": {"name": "m"}}}, "provider: mariadb"),
            ({"dbConfig": {"provider": "sqlite"}}, "sqlite"),
            ({"benchRef": {"name": "shop", "namespace": "elsewhere"}}, "namespace of its bench"),
            ({"dbConfig": {"mode": "dedicated", "connectionSecretRef": {"name": "x"}}}, "contradicts"),
            ({"dbConfig": {"mode": "dedicated", "image": "MariaDB 11"}}, "spec.dbConfig.image 'MariaDB 11' is not")):
        p = plan(site(**spec))
        assert len(p["errors"]) == 1 and words in p["errors"][0] and "Nothing was changed" in p["errors"][0], p["errors"]


def test_a_shared_site_that_names_no_server_uses_the_go_operators_default_mariadb_of_its_namespace():
    s = site(dbConfig={"mode": "shared"})
    [read] = [r for r in site_reads(s) if r["key"] == "server"]
    assert (read["kind"], read["namespace"], read["name"]) == ("MariaDB", "shop", "frappe-mariadb")
    p = plan(s, server=[ready("MariaDB", "frappe-mariadb")])
    assert p["errors"] == [] and p["server"]["host"] == "frappe-mariadb.shop.svc.cluster.local" and p["job_allowed"]
    assert [r["kind"] for r in p["render"]][:3] == ["Database", "User", "Grant"]
    missing = plan(s, server=[])
    assert missing["database"]["reason"] == "DatabaseServerNotFound" and not missing["provision"]
    assert "uses the MariaDB frappe-mariadb of its namespace, as the Go operator does" in missing["database"]["message"]
    # Only a shared MariaDB site: another provider or mode names its own server.
    assert "server" not in [r["key"] for r in site_reads(site(dbConfig={"mode": "dedicated"}))]


def test_domains_resolve_explicit_then_bench_suffix_then_site_name():
    p = plan(site(domain="crm.example.org"))
    assert p["domain"] == {"resolved": "crm.example.org", "source": "explicit"}
    assert p["host_name"] == "http://crm.example.org"
    p = plan(site(siteName="erp"), bench=[bench(domainConfig={"suffix": ".example.com"})])
    assert p["domain"] == {"resolved": "erp.example.com", "source": "bench-suffix"}
    p = plan()
    assert p["domain"] == {"resolved": "erp.example.com", "source": "sitename-default"} and p["host_name"] == ""


def test_a_second_site_claiming_a_served_domain_is_refused_and_the_first_keeps_it():
    first = site(name="erp", siteName="erp.example.com")
    second = site(name="erp2", siteName="erp2.example.com", domain="erp.example.com")
    second["metadata"]["creationTimestamp"] = "2026-11-27T11:00:00Z"
    assert plan(first, sites=[first, second])["errors"] == []
    p = plan(second, sites=[first, second])
    assert len(p["errors"]) == 1 and "already taken by FrappeSite erp " in p["errors"][0]


def test_the_job_waits_for_the_bench_configuration_and_the_database():
    assert not plan(bench=[bench(configured=False)])["job_allowed"]
    p = plan(database=[{"kind": "Database", "metadata": {"name": "erp-db"}}])
    assert not p["job_allowed"] and p["database"]["reason"] == "Provisioning"
    assert not plan(bench=[])["job_allowed"]


def test_ingress_goes_to_the_bench_nginx_with_tls_from_cert_manager():
    p = plan(site(ingress={"enabled": True, "className": "nginx", "tls": {"enabled": True, "issuer": "le"}}),
             api_groups={"k8s.mariadb.com/v1alpha1": True, "cert-manager.io/v1": False})
    assert p["ingress"]["annotations"] == {"cert-manager.io/cluster-issuer": "le"}
    assert p["site_url"] == "https://erp.example.com" and ("Ingress", "erp-ingress") in [
        (s["kind"], s["name"]) for s in p["render"]]
    assert any("cert-manager" in w for w in p["warnings"])


def test_old_site_jobs_this_site_controls_are_pruned():
    owner = [{"controller": True, "uid": UID}]
    old = {"metadata": {"name": "erp-new-site-0000000000", "ownerReferences": owner}}
    foreign = {"metadata": {"name": "erp-new-site-1111111111", "ownerReferences": [{"controller": True, "uid": "x"}]}}
    p = plan(jobs=[old, foreign])
    assert p["delete"] == [{"api_version": "batch/v1", "kind": "Job", "name": "erp-new-site-0000000000"}]


def test_status_ready_once_the_job_completed_and_unchanged_when_stored():
    p = plan()
    p["job"]["state"] = "Complete"
    # Before the completed Job's pods are read (the plan's own check) the reconcile is not done.
    assert site_status(p, site())["outcome_unread"] and not site_settled(site_status(p, site()))
    # The status step reads them once (here they say nothing: kwok's pods), and records that it did.
    result = site_status(p, site(), pods=[])
    assert result["phase"] == "Ready", result["conditions"]
    assert result["status"]["databaseName"] == p["database"]["name"]
    assert result["status"]["siteURL"] == "http://erp.example.com"
    assert result["status"]["schema"] == {"job": p["job"]["name"]}
    stored = site(status=dict(result["status"], conditions=[dict(c, lastTransitionTime="2026-11-27T10:00:00Z")
                                                            for c in result["conditions"]]))
    p = plan(stored)
    p["job"]["state"] = "Complete"
    assert p["job"]["outcome_read"] and site_status(p, stored)["unchanged"]
    assert site_settled(site_status(p, stored)) and not site_settled(result)
    p["job"]["state"] = "Failed"
    failed = site_status(p, site())
    assert failed["phase"] == "Failed"
    assert not site_settled(failed)
    assert "kubectl logs" in {c["type"]: c for c in failed["conditions"]}["SiteCreated"]["message"]


def failed_pod(name, finished, exit_code, message, restarted=False):
    ended = {"terminated": {"exitCode": exit_code, "reason": "Error", "finishedAt": finished, "message": message}}
    container = {"name": "new-site", "state": {"running": {}} if restarted else ended}
    if restarted:
        container["lastState"] = ended
    return {"metadata": {"name": name, "creationTimestamp": finished},
            "status": {"phase": "Failed", "containerStatuses": [container]}}


def test_a_failed_site_job_puts_its_reason_and_the_end_of_its_log_in_the_status():
    p = plan()
    p["job"]["state"] = "Failed"
    log = "\n".join(["line %d" % i for i in range(40)] + [
        "Database _0123 already holds 2 tables but no complete Frappe site (frappe is not in its installed_apps),",
        "Drop that database, or restore the site (bench restore into a new site) instead; nothing was written."])
    pods = [failed_pod("erp-new-site-abc-x1", "2026-11-27T10:00:00Z", 1, "an older attempt"),
            failed_pod("erp-new-site-abc-x2", "2026-11-27T10:05:00Z", 1, log)]
    result = site_status(p, site(), pods=pods)
    conditions = {c["type"]: c for c in result["conditions"]}
    assert result["phase"] == "Failed"
    for kind in ("SiteCreated", "Ready"):
        message = conditions[kind]["message"]
        assert "new-site of pod erp-new-site-abc-x2 exited 1 (Error)" in message, message
        assert "already holds 2 tables" in message and "nothing was written" in message
        assert "an older attempt" not in message and "line 20" not in message  # the newest pod, the end of its log
        assert "kubectl logs" in message
    assert conditions["Ready"]["reason"] == "JobFailed"
    # A pod that says nothing (deleted, or not run yet) leaves the plain advice.
    plain = {c["type"]: c for c in site_status(p, site(), pods=[])["conditions"]}["SiteCreated"]["message"]
    assert plain.startswith("Job %s failed. See kubectl logs" % p["job"]["name"])


def test_the_site_role_reads_the_pods_of_a_failed_or_newly_completed_job_and_may_by_the_shipped_role():
    tasks = yaml.safe_load((REPO / "roles" / "frappe_site" / "tasks" / "status.yml").read_text())
    [read] = [t for t in tasks if "vyogotech.frappe.k8s_multi_info" in t]
    [pods] = read["vyogotech.frappe.k8s_multi_info"]["reads"]
    assert (pods["api_version"], pods["kind"]) == ("v1", "Pod")
    assert pods["label_selectors"] == ["batch.kubernetes.io/job-name={{ frappe_site_reconcile.plan.job.name }}"]
    assert read["when"] == ("frappe_site_reconcile.plan.job.state == 'Failed' or (frappe_site_reconcile.plan.job.state == 'Complete' and "
                            "not frappe_site_reconcile.plan.job.outcome_read)")
    role = yaml.safe_load((REPO / "config" / "rbac" / "role.yaml").read_text())
    # Under the Ansible Operator SDK the proxy answers reads from an informer cache: list and watch.
    assert [r["verbs"] for r in role["rules"] if "pods" in r["resources"]] == [["get", "list", "watch"]]


def test_reads_are_by_name_and_follow_the_database_mode():
    keys = {r["key"]: r for r in site_reads(site())}
    assert keys["server"]["kind"] == "MariaDB" and keys["server"]["name"] == "mariadb"
    assert keys["database"]["name"] == "erp-db" and "label_selectors" in keys["jobs"]
    keys = {r["key"] for r in site_reads(site(dbConfig={"connectionSecretRef": {"name": "x"}}))}
    assert "connection_secret" in keys and "server" not in keys
    keys = {r["key"] for r in site_reads(site(dbConfig={"mode": "dedicated"}))}
    assert "dedicated_mariadb" in keys


def test_a_site_on_another_domain_waits_for_its_nginx_route_and_asks_the_bench_for_it():
    s = site(domain="erp.example.org")
    p = plan(s)
    assert not p["route_ready"] and p["route_request"] == "erp.example.com=erp.example.org"
    p["job"]["state"] = "Complete"
    conditions = {c["type"]: c for c in site_status(p, s)["conditions"]}
    assert conditions["IngressReady"]["reason"] == "RoutePending" and conditions["Ready"]["status"] == "False"
    routed = bench()
    routed["status"]["routes"] = {"erp.example.org": "erp.example.com"}
    p = plan(s, bench=[routed])
    assert p["route_ready"]


def test_a_site_asks_the_bench_until_its_socketio_pods_resolve_its_hosts():
    """socket.io calls back <Origin> on the site's host: the bench's hostAliases must hold it (realtimeHosts)."""
    s = site(domain="erp.example.org")
    assert not plan(s)["realtime_ready"]
    routed = bench()
    routed["status"]["routes"] = {"erp.example.org": "erp.example.com"}
    routed["status"]["realtimeHosts"] = ["erp.example.org"]
    # The domain alone is not enough: Frappe may be reached on the site name too.
    assert not plan(s, bench=[routed])["realtime_ready"]
    routed["status"]["realtimeHosts"] = ["erp.example.com", "erp.example.org", "other.test"]
    p = plan(s, bench=[routed])
    assert p["realtime_ready"] and p["route_ready"]


def test_a_database_and_user_already_there_are_adopted_with_their_password_secret():
    """A site of the Go frappe-operator, or one retained and created again: nothing is renamed or re-passworded."""
    database = ready("Database", "erp-db", name="erp_legacy")
    user = ready("User", "erp-user", name="erp_legacy_user", passwordSecretKeyRef={"name": "erp-db-pw", "key": "pw"})
    p = plan(database=[database], user=[user], db_secret=[])
    assert (p["database"]["name"], p["database"]["user"]) == ("erp_legacy", "erp_legacy_user")
    assert p["database"]["password_secret"] == {"name": "erp-db-pw", "key": "pw"}
    # Its own Secret is not created: the User's is the one in use.
    assert p["secrets"]["db"]
    p["job"]["state"] = "Complete"
    assert site_status(p, site())["status"]["databaseCredentialsSecret"] == "erp-db-pw"


def test_an_adopted_user_keeps_its_name_and_password_on_every_later_reconcile():
    """After the first apply the adopted objects carry this collection's labels: they stay adopted all the same."""
    database = ready("Database", "erp-db", name="erp_legacy")
    user = ready("User", "erp-user", name="erp_legacy_user", passwordSecretKeyRef={"name": "erp-db-pw", "key": "pw"})
    for obj in (database, user):
        obj["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "vyogotech.frappe"}
    p = plan(site(status={"databaseName": "erp_legacy"}), database=[database], user=[user], db_secret=[])
    assert (p["database"]["name"], p["database"]["user"]) == ("erp_legacy", "erp_legacy_user")
    assert p["database"]["password_secret"] == {"name": "erp-db-pw", "key": "pw"} and p["secrets"]["db"]


def test_two_sites_of_a_bench_never_share_a_site_name_and_two_benches_never_share_a_database():
    first = site(name="a", siteName="erp.example.com", domain="a.example.org")
    second = site(name="b", siteName="erp.example.com", domain="b.example.org")
    second["metadata"]["creationTimestamp"] = "2026-11-27T11:00:00Z"
    p = plan(second, sites=[first, second])
    assert len(p["errors"]) == 1 and "siteName erp.example.com" in p["errors"][0]
    # On another bench the same siteName is another directory on another volume, with its own database.
    other = site(name="b", siteName="erp.example.com", benchRef={"name": "staging"})
    assert database_name("shop", "a") != database_name("shop", "b")
    assert plan(other, sites=[first, other], bench=[])["errors"] == []


def test_a_password_secret_without_its_key_holds_the_job_with_a_reason():
    p = plan(admin_secret=[{"metadata": {"name": "erp-admin"}, "data": {"other": ""}}])
    assert not p["job_allowed"] and p["secret_problem"][0] == "PasswordSecretInvalid"
    assert site_status(p, site())["phase"] == "Pending"
    s = site(adminPasswordSecretRef={"name": "mine", "key": "pw"})
    p = plan(s, admin_secret=[])
    assert p["secret_problem"][0] == "AdminSecretNotFound" and "mine" in p["secret_problem"][1]


def test_a_created_site_stays_created_while_a_job_of_new_inputs_runs():
    p = plan()
    p["job"]["state"] = "Running"
    stored = site(status={"conditions": [{"type": "SiteCreated", "status": "True", "reason": "Created",
                                          "lastTransitionTime": "2026-11-27T10:00:00Z"}]})
    result = site_status(p, stored)
    created = {c["type"]: c for c in result["conditions"]}["SiteCreated"]
    assert (created["status"], created["reason"]) == ("True", "Updating")


def test_the_live_ingress_is_kept_while_the_bench_has_not_published_its_service():
    owned = {"metadata": {"name": "erp-ingress", "ownerReferences": [{"controller": True, "uid": UID}]}}
    unpublished = bench()
    unpublished["status"].pop("frontend")
    p = plan(site(ingress={"enabled": True}), bench=[unpublished], ingresses=[owned])
    assert p["ingress_waiting"] and p["delete"] == []


def test_the_drop_job_is_named_after_the_frappesite_uid():
    assert plan()["drop_job"]["name"] == "erp-drop-site-" + UID[:8]


def test_input_that_is_no_frappesite_is_refused_by_the_filter():
    with pytest.raises(InvalidInput, match="expects a FrappeSite object"):
        site_plan({"metadata": {}}, settings=SETTINGS)
    with pytest.raises(InvalidInput, match="mode must be apply or render"):
        site_plan(site(), settings=SETTINGS, mode="dry")


def test_an_adopted_name_that_is_no_plain_identifier_is_refused():
    database = ready("Database", "erp-db", name="erp`; DROP DATABASE mysql; --")
    p = plan(database=[database])
    # The user is named like the database here, so both are refused.
    assert p["errors"] and all("not a plain identifier" in e for e in p["errors"])
    assert "existing Database erp-db" in p["errors"][0] and p["render"] == []


def test_what_must_outlive_the_site_is_taken_off_it_where_a_reference_to_it_is_found():
    # What the Ansible Operator SDK's proxy appends on a create, and someone else's reference.
    to_site = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "name": "erp", "uid": UID}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "keeper", "uid": "u-9"}

    def owned(obj, *refs):
        return dict(obj, apiVersion="x/v1", metadata=dict(obj["metadata"], namespace="shop", ownerReferences=list(refs)))
    p = plan(database=[owned(ready("Database", "erp-db"), to_site, other)],
             db_secret=[owned({"kind": "Secret", "metadata": {"name": "erp-db-credentials"}, "data": {}}, to_site)],
             user=[owned(ready("User", "erp-user"), other)])
    assert [(f["kind"], f["metadata"]["name"], f["metadata"]["ownerReferences"]) for f in p["owner_fixes"]] == [
        ("Database", "erp-db", [other]), ("Secret", "erp-db-credentials", None)]
    assert plan()["owner_fixes"] == []
    # A password Secret the user gave is theirs: left as it is.
    mine = plan(s=site(adminPasswordSecretRef={"name": "mine", "key": "pw"}),
                admin_secret=[owned({"kind": "Secret", "metadata": {"name": "mine"}, "data": {"pw": ""}}, to_site)])
    assert mine["owner_fixes"] == []


@pytest.mark.parametrize("spec,site_url,host_name", [
    # Frappe's get_url makes http://<site name> without host_name: right only for a plain http site on its name.
    ({}, "http://erp.example.com", ""),
    ({"domain": "crm.example.org"}, "http://crm.example.org", "http://crm.example.org"),
    ({"ingress": {"enabled": True, "tls": {"enabled": True}}}, "https://erp.example.com", "https://erp.example.com"),
    ({"tls": {"enabled": True}, "ingress": {"enabled": True}}, "https://erp.example.com", "https://erp.example.com"),
    # TLS given by the owner's own proxy in front of the bench (no Ingress of the site).
    ({"tls": {"enabled": True}}, "https://erp.example.com", "https://erp.example.com"),
    ({"tls": {"enabled": True}, "domain": "crm.example.org"}, "https://crm.example.org", "https://crm.example.org"),
    # ingress.tls, when given, is the site's TLS setting.
    ({"tls": {"enabled": True}, "ingress": {"enabled": True, "tls": {"enabled": False}}}, "http://erp.example.com", ""),
])
def test_a_site_served_with_tls_or_on_another_domain_gets_its_public_url_as_host_name(spec, site_url, host_name):
    p = plan(site(**spec))
    assert p["errors"] == [] and (p["site_url"], p["host_name"]) == (site_url, host_name)


def test_a_change_of_tls_or_domain_is_a_new_site_job():
    names = set(plan(site(**spec))["job"]["name"] for spec in (
        {}, {"tls": {"enabled": True}}, {"domain": "crm.example.org"},
        {"domain": "crm.example.org", "tls": {"enabled": True}}))
    assert len(names) == 4


# A database server in another namespace: that namespace's consent (annotation vyogo.tech/allow-sites-from).
def elsewhere(deletionPolicy="Retain", deleting=False, status=None):
    s = site(deletionPolicy=deletionPolicy, status=status,
             dbConfig={"mariadbRef": {"name": "mariadb", "namespace": "db"}})
    if deleting:
        s["metadata"]["deletionTimestamp"] = "2026-11-27T11:00:00Z"
    return s


def server_in_db(allow=None):
    obj = ready("MariaDB", "mariadb")
    obj["metadata"]["namespace"] = "db"
    if allow is not None:
        obj["metadata"]["annotations"] = {"vyogo.tech/allow-sites-from": allow}
    return obj


def on_db_server(kind, obj_name):
    """A Database, User or Grant of the site already on the server of namespace db."""
    obj = ready(kind, obj_name, mariaDbRef={"name": "mariadb", "namespace": "db", "kind": "MariaDB"})
    obj["metadata"]["namespace"] = "shop"
    return obj


NEW = {"database": [], "user": [], "grant": []}
EXISTING = {"database": [on_db_server("Database", "erp-db")], "user": [on_db_server("User", "erp-user")],
            "grant": [on_db_server("Grant", "erp-grant")]}


@pytest.mark.parametrize("allow", [None, "", "other", "other, shopping", "shop-2,*shop"])
def test_a_new_site_on_a_server_of_another_namespace_without_its_consent_is_refused(allow):
    p = plan(elsewhere(), server=[server_in_db(allow)], **NEW)
    assert len(p["errors"]) == 1 and p["render"] == []
    message = p["errors"][0]
    assert "MariaDB db/mariadb" in message and "vyogo.tech/allow-sites-from" in message
    assert "kubectl annotate mariadb mariadb -n db vyogo.tech/allow-sites-from=shop" in message
    assert "Nothing was changed" in message and "database" not in p


def test_a_new_site_on_a_missing_server_of_another_namespace_is_refused_and_told_of_the_consent():
    p = plan(elsewhere(), server=[], **NEW)
    assert len(p["errors"]) == 1 and "does not exist" in p["errors"][0]
    assert "vyogo.tech/allow-sites-from" in p["errors"][0] and "database" not in p


@pytest.mark.parametrize("allow", ["shop", "*", "other,shop", " other , shop ", "other,*"])
def test_consent_by_name_in_a_list_or_star_lets_the_site_use_the_server(allow):
    p = plan(elsewhere(deletionPolicy="Delete"), server=[server_in_db(allow)], **NEW)
    assert p["errors"] == [] and p["warnings"] == []
    assert p["consent"]["given"] and [s["kind"] for s in p["render"]][:3] == ["Database", "User", "Grant"]
    assert p["server"]["host"] == "mariadb.db.svc.cluster.local"
    # With consent, deletionPolicy Delete lets the MariaDB Operator drop it there.
    assert p["database"]["cleanup_policy"] == "Delete"
    status = site_status(p, elsewhere())
    consent = [c for c in status["conditions"] if c["type"] == "DatabaseConsent"][0]
    assert consent["status"] == "True" and consent["reason"] == "Consented" and status["events"] == []


def test_a_server_of_the_sites_own_namespace_needs_no_consent():
    p = plan(site(dbConfig={"mariadbRef": {"name": "mariadb", "namespace": "shop"}}), **NEW)
    assert p["errors"] == [] and p["consent"] is None
    assert "DatabaseConsent" not in [c["type"] for c in site_status(p, site())["conditions"]]


def test_a_site_whose_database_is_there_already_keeps_reconciling_with_a_warning_and_one_event():
    s = elsewhere(deletionPolicy="Delete", status={"databaseName": database_name("shop", "erp")})
    p = plan(s, server=[server_in_db("other")], **EXISTING)
    assert p["errors"] == [] and p["job_allowed"]
    assert p["consent"] == dict(p["consent"], given=False, existing=True)
    assert len(p["warnings"]) == 1 and "vyogo.tech/allow-sites-from" in p["warnings"][0]
    # Nothing is ever dropped there without consent, whatever deletionPolicy says.
    assert p["database"]["cleanup_policy"] == "Skip"
    status = site_status(p, s)
    consent = [c for c in status["conditions"] if c["type"] == "DatabaseConsent"][0]
    assert consent["status"] == "False" and consent["reason"] == "ConsentMissing"
    assert "kubectl annotate mariadb mariadb -n db" in consent["message"]
    assert [(e["type"], e["reason"]) for e in status["events"]] == [("Warning", "ConsentMissing")]
    # Recorded once: the next reconcile, with the condition stored, records no other Event.
    s["status"]["conditions"] = status["conditions"]
    assert site_status(p, s)["events"] == []


def test_database_objects_on_another_server_do_not_count_as_a_database_there():
    moved = dict((k, [dict(o, spec=dict(o["spec"], mariaDbRef={"name": "mariadb", "namespace": "shop"}))
                      for o in v]) for k, v in EXISTING.items())
    p = plan(elsewhere(), server=[server_in_db()], **moved)
    assert len(p["errors"]) == 1 and "vyogo.tech/allow-sites-from" in p["errors"][0]


def test_a_site_deleted_under_delete_without_consent_drops_nothing_across_namespaces_and_keeps_its_finalizer():
    p = plan(elsewhere(deletionPolicy="Delete", deleting=True), server=[server_in_db()], **EXISTING)
    assert len(p["errors"]) == 1 and "database" not in p
    assert "keeps its finalizer" in p["errors"][0] and "deletionPolicy\":\"Retain" in p["errors"][0]
    assert "kubectl annotate mariadb mariadb -n db vyogo.tech/allow-sites-from=shop" in p["errors"][0]
    # With consent it drops as asked; under Retain it lets go, dropping nothing.
    assert plan(elsewhere(deletionPolicy="Delete", deleting=True), server=[server_in_db("shop")],
                **EXISTING)["database"]["cleanup_policy"] == "Delete"
    retained = plan(elsewhere(deleting=True), server=[server_in_db()], **EXISTING)
    assert retained["errors"] == [] and retained["database"]["cleanup_policy"] == "Skip"


def test_an_external_server_of_another_namespace_needs_consent_too():
    s = site(dbConfig={"mariadbRef": {"name": "ext", "namespace": "db", "kind": "ExternalMariaDB"}})
    ext = ready("ExternalMariaDB", "ext", host="10.0.0.5")
    assert "kubectl annotate externalmariadb ext -n db" in plan(s, server=[ext], **NEW)["errors"][0]
    ext["metadata"]["annotations"] = {"vyogo.tech/allow-sites-from": "shop"}
    assert plan(s, server=[ext], **NEW)["errors"] == []


def test_consent_is_not_checked_in_render_mode_which_sees_no_server():
    p = site_plan(elsewhere(), live={"bench": [bench()]}, settings=SETTINGS, mode="render")
    assert p["errors"] == [] and p["consent"] is None


def test_a_site_converges_while_it_moves_on_by_itself_under_a_ready_bench():
    making = plan(database=[{"kind": "Database", "metadata": {"name": "erp-db"}}])
    assert site_status(making, site())["converging"]
    running = plan()
    running["job"]["state"] = "Running"
    assert site_status(running, site())["converging"]
    # Waiting for a person (no MariaDB Operator), a failed Job, a Ready site, or a bench not Ready: no.
    waiting = plan(api_groups={"k8s.mariadb.com/v1alpha1": False, "cert-manager.io/v1": True},
                   database=[], user=[], grant=[], server=[], db_secret=[], admin_secret=[])
    assert not site_status(waiting, site())["converging"]
    running["job"]["state"] = "Failed"
    assert not site_status(running, site())["converging"]
    running["job"]["state"] = "Complete"
    assert site_status(running, site())["phase"] == "Ready" and not site_status(running, site())["converging"]
    unready_bench = plan(bench=[bench(ready_=False)])
    assert site_status(unready_bench, site())["phase"] == "Provisioning"
    assert not site_status(unready_bench, site())["converging"]


def test_a_site_has_something_to_write_until_its_finalizer_secrets_objects_and_routes_are_in_place():
    finalizer = "vyogo.tech/site-cleanup"
    p = plan()
    p.update(route_ready=True, realtime_ready=True, delete=[], owner_fixes=[])
    placed = site()
    placed["metadata"]["finalizers"] = [finalizer]
    assert not site_writes_needed(p, placed, [], finalizer)
    assert site_writes_needed(p, site(), [], finalizer), "the finalizer is added first"
    assert site_writes_needed(p, placed, [{"stage": "database", "object": {}}], finalizer)
    for change in ({"route_ready": False}, {"realtime_ready": False}, {"delete": [{"kind": "Job", "name": "old"}]},
                   {"owner_fixes": [{"kind": "Job"}]}, {"secrets": dict(p["secrets"], admin=False)}):
        assert site_writes_needed(dict(p, **change), placed, [], finalizer), change


def site_job_pod(job, message, phase="Succeeded"):
    """The site Job's pod as the kubelet leaves it: its termination message is files/new-site.sh's outcome."""
    return {"kind": "Pod", "metadata": {"name": job + "-q2w8r", "labels": {"batch.kubernetes.io/job-name": job}},
            "status": {"phase": phase, "containerStatuses": [{"name": "new-site", "imageID": "", "state": {
                "terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "message": message}}}]}}


VERSIONS = [{"commit": "", "app": "erpnext", "branch": "", "version": "15.45.0"},
            {"commit": "", "app": "frappe", "branch": "", "version": "15.55.1"}]


def test_a_site_the_job_created_records_the_versions_its_schema_was_made_for():
    p = plan()
    p["job"]["state"] = "Complete"
    job = p["job"]["name"]
    created = json.dumps({"created": True, "versions": VERSIONS}, indent=4)
    result = site_status(p, site(), pods=[site_job_pod(job, created)])
    assert result["status"]["schema"] == {"job": job, "versions": {"erpnext": "15.45.0", "frappe": "15.55.1"}}
    # An app no longer there is taken out of the record (a merge patch keeps what it does not name).
    older = site(status={"schema": {"job": "erp-site-old", "versions": {"frappe": "15.40.0", "hrms": "15.30.0"}}})
    again = site_status(p, older, pods=[site_job_pod(job, created)])
    assert again["status"]["schema"]["versions"] == {"erpnext": "15.45.0", "frappe": "15.55.1", "hrms": None}


def test_a_site_that_existed_or_a_pod_that_says_nothing_leaves_the_record_as_it_was():
    p = plan()
    p["job"]["state"] = "Complete"
    job = p["job"]["name"]
    stored = site(status={"schema": {"job": "erp-site-old", "versions": {"frappe": "15.40.0"}}})
    for pods in ([site_job_pod(job, '{"created": false, "versions": null}')],  # it existed: not migrated here
                 [site_job_pod(job, "Site erp.example.com is installed")],  # an older script's last line
                 [site_job_pod(job, json.dumps({"created": True, "versions": None}))],  # bench version failed
                 [site_job_pod("erp-site-other", json.dumps({"created": True, "versions": VERSIONS}))],
                 []):  # the pod is gone
        assert site_status(p, stored, pods=pods)["status"]["schema"] == {"job": job}, pods


def test_a_site_its_bench_migrated_records_the_versions_it_went_to_once():
    p = plan()
    upgrade = {"phase": "Rolling", "to": {"image": "x@sha256:" + "22" * 32, "versions": {"frappe": "15.60.0"}},
               "sites": {"erp": {"phase": "Migrated", "job": "erp-migrate-0123456789", "siteName": "erp.example.com"},
                         "other": {"phase": "Migrated", "job": "erp-migrate-9876543210"}}}
    p["bench"]["upgrade"] = upgrade
    stored = site(status={"schema": {"job": "erp-site-old", "versions": {"frappe": "15.55.1", "hrms": "15.30.0"}}})
    result = site_status(p, stored)
    assert result["status"]["schema"] == {"job": "erp-migrate-0123456789",
                                          "versions": {"frappe": "15.60.0", "hrms": None}}
    assert result["status"]["migration"] == {"phase": "Migrated", "job": "erp-migrate-0123456789",
                                             "image": "x@sha256:" + "22" * 32}
    recorded = site(status={"schema": {"job": "erp-migrate-0123456789", "versions": {"frappe": "15.60.0"}}})
    assert "schema" not in site_status(p, recorded)["status"]
    # Still migrating, or failed: nothing is claimed.
    for phase in ("Migrating", "Failed", "Waiting"):
        p["bench"]["upgrade"] = dict(upgrade, sites={"erp": dict(upgrade["sites"]["erp"], phase=phase)})
        assert "schema" not in site_status(p, stored)["status"], phase
    # A failed migrate's log reaches the site's own status; a site no upgrade names has no migration.
    p["bench"]["upgrade"] = dict(upgrade, sites={"erp": dict(upgrade["sites"]["erp"], phase="Failed",
                                                             message="Job erp-migrate-0123456789 failed: exited 1")})
    assert site_status(p, stored)["status"]["migration"]["message"].endswith("exited 1")
    p["bench"]["upgrade"] = {}
    assert "migration" not in site_status(p, stored)["status"]
    assert site_status(p, site(status={"migration": {"phase": "Failed"}}))["status"]["migration"] is None


def test_a_site_its_bench_rolled_back_records_the_versions_its_backup_had():
    p = plan()
    migrated = site(status={"schema": {"job": "erp-migrate-0123456789", "versions": {"frappe": "15.60.0"}}})
    p["bench"]["upgrade"] = {
        "phase": "RolledBack", "to": {"image": "x@sha256:" + "22" * 32, "versions": {"frappe": "15.60.0"}},
        "sites": {"erp": {"phase": "RolledBack", "job": "erp-migrate-0123456789", "rollbackJob": "erp-rollback-01",
                          "fromVersions": {"frappe": "15.55.1"}, "siteName": "erp.example.com"}}}
    result = site_status(p, migrated)
    assert result["status"]["schema"] == {"job": "erp-rollback-01", "versions": {"frappe": "15.55.1"}}
    assert result["status"]["migration"]["phase"] == "RolledBack"
    assert result["status"]["migration"]["rollbackJob"] == "erp-rollback-01"


def test_an_upgrade_record_gives_a_site_its_versions_once_and_a_later_restore_is_not_undone():
    p = plan()
    p["bench"]["upgrade"] = {"phase": "Succeeded", "to": {"image": "x", "versions": {"frappe": "15.60.0"}},
                             "sites": {"erp": {"phase": "Migrated", "job": "erp-migrate-0123456789"}}}
    first = site_status(p, site(status={"schema": {"job": "erp-site-old", "versions": {"frappe": "15.55.1"}}}))
    assert first["status"]["schema"]["versions"] == {"frappe": "15.60.0"}
    # A SiteRestore since recorded what it brought back; the same entry of the record leaves it.
    restored = site(status={"schema": {"job": "back-restore", "versions": {"frappe": "15.60.0", "hrms": "15.1.0"}},
                            "migration": first["status"]["migration"]})
    assert "schema" not in site_status(p, restored)["status"]


def test_a_site_installs_the_apps_it_names_of_its_bench_and_no_app_the_bench_does_not_carry():
    assert plan()["apps"] == ["erpnext", "hrms"]
    assert plan(site(apps=["frappe", "erpnext"]))["apps"] == ["erpnext"]
    refused = plan(site(apps=["erpnext", "lms"]))
    assert refused["errors"] and "spec.apps names lms, which FrappeBench shop does not carry (its apps: erpnext, hrms)" \
        in refused["errors"][0]
    # A bench that lists no apps says nothing of its image: bench new-site is left to tell.
    assert plan(site(apps=["lms"]), bench=[bench(apps=[])])["apps"] == ["lms"]
    # The bench's apps in the Go operator's older spelling.
    older = bench(apps=None, appsJSON='["erpnext"]')
    del older["spec"]["apps"]
    assert plan(bench=[older])["apps"] == ["erpnext"]
