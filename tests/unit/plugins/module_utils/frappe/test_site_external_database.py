"""provider: external (the Go frappe-operator's way to a database its owner made): the Secret is the site's own
login, the Job installs the site into that database without an administrative login, and nothing is ever dropped."""

import base64

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.restore_plan import restore_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import (
    shared_read_of, shared_reads)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_plan, site_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import site_status
from role_settings import role_settings

SETTINGS = role_settings("frappe_site", "frappe_site_settings")
UID = "5a5a5a5a-1111-2222-3333-444455556666"


def site(status=None, **db):
    obj = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite",
           "metadata": {"name": "external-db-site", "namespace": "shop", "uid": UID,
                        "creationTimestamp": "2026-11-27T10:00:00Z"},
           "spec": {"benchRef": {"name": "shop"}, "siteName": "external.example.com",
                    "dbConfig": dict({"provider": "external", "connectionSecretRef": {"name": "external-db-creds"}},
                                     **db)}}
    if status:
        obj["status"] = status
    return obj


def secret(**values):
    """The Secret as k8s_multi_info returns it for this read: the values it was asked for, base64; the rest ''."""
    data = dict((k, base64.b64encode(v.encode()).decode() if k != "password" else "") for k, v in values.items())
    return {"kind": "Secret", "metadata": {"name": "external-db-creds"}, "data": data}


BENCH = {"kind": "FrappeBench", "metadata": {"name": "shop"}, "spec": {"frappeVersion": "version-15"},
         "status": {"image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-sites",
                    "conditions": [{"type": "ConfigReady", "status": "True"}, {"type": "Ready", "status": "True"}]}}
GO_EXAMPLE = dict(host="db.example.com", port="3306", database="site1_db", username="site1_db", password="x")


def plan(s, creds, mode="apply"):
    live = {"bench": [BENCH], "connection_secret": [creds] if creds else [], "jobs": [],
            "admin_secret": [{"metadata": {"name": "external-db-site-admin"}, "data": {"password": ""}}],
            "api_groups": {"k8s.mariadb.com/v1alpha1": False, "cert-manager.io/v1": False}}
    return site_plan(s, live=live, settings=SETTINGS, mode=mode, new_site_script="echo new",
                     drop_site_script="echo drop")


def test_the_go_operators_example_installs_into_its_database_with_the_sites_own_login():
    p = plan(site(), secret(**GO_EXAMPLE))
    assert p["errors"] == [] and p["job_allowed"]
    assert p["server"]["via"] == "site-login" and (p["server"]["host"], p["server"]["port"]) == ("db.example.com", 3306)
    assert p["database"]["name"] == "site1_db" and p["database"]["user"] == "site1_db"
    assert p["database"]["password_secret"] == {"name": "external-db-creds", "key": "password"}
    # No MariaDB Operator object, no generated database password: only the site Job (no administrative login).
    assert [r["kind"] for r in p["render"]] == ["Job"] and p["secrets"]["db"]


def test_the_address_may_come_from_the_spec_and_the_database_defaults_to_the_site_name_as_the_go_operator_reads_it():
    p = plan(site(host="mariadb.external-services.svc.cluster.local", port="3307"),
             secret(username="external_site", password="x", database="external_site"))
    assert p["errors"] == [] and p["server"]["host"] == "mariadb.external-services.svc.cluster.local"
    assert p["server"]["port"] == 3307
    # The Secret's host wins over the spec's (controllers/database/external_provider.go EnsureDatabase).
    p = plan(site(host="spec.example.com"), secret(**GO_EXAMPLE))
    assert p["server"]["host"] == "db.example.com"
    # Without a key database the siteName is the database's name, which has dots: the Secret must name it.
    p = plan(site(), secret(host="db", username="u", password="x"))
    assert not p["job_allowed"] and p["database"]["reason"] == "ConnectionSecretInvalid"
    assert "'external.example.com' (the siteName, as no key database is given)" in p["database"]["message"]


@pytest.mark.parametrize("values, words", [
    (dict(host="db", database="d", password="x"), "lacks the key(s) username"),
    (dict(database="d", username="d", password="x"), "has no key host, and spec.dbConfig.host is empty"),
    (dict(host="db", port="abc", database="d", username="d", password="x"), "gives the port 'abc', which is no TCP"),
    (dict(host="db", port="70000", database="d", username="d", password="x"), "'70000', which is no TCP port"),
    (dict(host="db", database="d", username="d", password="x", type="postgres"), "sites here are made on MariaDB"),
    (dict(host="db", database="custom_db_name", username="frappe_user", password="x"),
     "Frappe version 15 logs in to a site's database as a user named like the database"),
])
def test_a_secret_frappe_cannot_use_holds_the_site_and_says_what_to_change(values, words):
    p = plan(site(), secret(**values))
    assert p["errors"] == [] and not p["job_allowed"] and not p["provision"]
    assert p["database"]["reason"] == "ConnectionSecretInvalid" and words in p["database"]["message"]
    assert p["missing_references"] == ["spec.dbConfig.connectionSecretRef.name"]


@pytest.mark.parametrize("kind", [None, "mariadb", "MariaDB", "mysql"])
def test_a_secret_of_a_mariadb_or_mysql_type_or_none_is_taken(kind):
    values = dict(GO_EXAMPLE, **({"type": kind} if kind else {}))
    p = plan(site(), secret(**values))
    assert p["errors"] == [] and p["job_allowed"], p["database"]


@pytest.mark.parametrize("port", ["\u00b3", "0", "-1", "65536"])
def test_a_port_that_is_no_tcp_port_is_said_so_and_nothing_breaks(port):
    values = dict(GO_EXAMPLE)
    values["port"] = port
    p = plan(site(), secret(**values))
    assert not p["job_allowed"] and "which is no TCP port" in p["database"]["message"], p["database"]


def test_values_written_with_a_trailing_newline_are_taken():
    # kubectl create secret --from-file of a file written by echo: each value ends in a newline.
    p = plan(site(), secret(**dict((k, v + "\n") for k, v in GO_EXAMPLE.items())))
    assert p["job_allowed"] and (p["server"]["host"], p["server"]["port"]) == ("db.example.com", 3306)
    assert p["database"]["name"] == "site1_db"


def test_a_missing_secret_is_waited_for():
    p = plan(site(), None)
    assert p["database"]["reason"] == "ConnectionSecretNotFound" and "username and password" in p["database"]["message"]


def test_a_made_site_whose_secret_goes_missing_or_unreadable_waits_on_its_recorded_database():
    made = site(status={"databaseName": "site1_db"})
    p = plan(made, None)
    assert p["errors"] == [] and p["database"]["reason"] == "ConnectionSecretNotFound"
    assert p["database"]["name"] == "site1_db" and not p["job_allowed"]
    assert "its database is site1_db, where the site was made" in p["database"]["message"]
    for value in ("not base64!", ""):
        garbled = secret(**GO_EXAMPLE)
        garbled["data"]["database"] = value
        p = plan(made, garbled)
        assert p["errors"] == [] and p["database"]["name"] == "site1_db" and not p["job_allowed"], value
        assert "holds no text under the key(s) database" in p["database"]["message"]


def test_a_bad_port_in_the_spec_is_refused_as_the_specs():
    p = plan(site(port="abc"), secret(host="db", database="d", username="d", password="x"))
    assert len(p["errors"]) == 1 and "spec.dbConfig.port 'abc' is no TCP port" in p["errors"][0]


def test_the_database_is_recorded_once_the_site_job_may_run_on_it_and_a_secret_corrected_before_is_taken():
    unusable = plan(site(), secret(host="db", username="u", password="x"))
    assert "databaseName" not in site_status(unusable, site())["status"]
    usable = plan(site(), secret(**GO_EXAMPLE))
    assert site_status(usable, site())["status"]["databaseName"] == "site1_db"


def test_a_site_never_moves_to_another_database_its_secret_names_later():
    moved = dict(GO_EXAMPLE)
    moved.update(database="other", username="other")
    p = plan(site(status={"databaseName": "site1_db"}), secret(**moved))
    assert len(p["errors"]) == 1 and "never moves between databases" in p["errors"][0]
    assert "Put database: site1_db back" in p["errors"][0] and "Nothing was changed" in p["errors"][0]
    # A key database taken out of the Secret names the siteName, which is another database too.
    keyless = dict(GO_EXAMPLE)
    del keyless["database"]
    p = plan(site(status={"databaseName": "site1_db"}), secret(**keyless))
    assert len(p["errors"]) == 1 and "(the siteName, as it has no key database)" in p["errors"][0]


@pytest.mark.parametrize("db, spec, words", [
    ({"connectionSecretRef": None}, {}, "provider: external needs spec.dbConfig.connectionSecretRef"),
    ({"mariadbRef": {"name": "m"}}, {}, "mariadbRef contradicts it"),
    ({"mode": "dedicated"}, {}, "contradicts mode: dedicated"),
    ({}, {"deletionPolicy": "Delete"}, "Delete cannot drop a database of provider: external"),
])
def test_what_contradicts_an_owners_database_is_refused(db, spec, words):
    s = site(**db)
    s["spec"].update(spec)
    p = plan(s, secret(**GO_EXAMPLE))
    assert len(p["errors"]) == 1 and words in p["errors"][0] and "Nothing was changed" in p["errors"][0], p["errors"]


def test_the_read_asks_for_the_values_the_plan_needs_and_never_the_password():
    read = [r for r in site_reads(site()) if r["key"] == "connection_secret"][0]
    assert sorted(read["secret_values"]) == ["database", "host", "port", "type", "username"]
    admin = site()
    admin["spec"]["dbConfig"] = {"connectionSecretRef": {"name": "external-db-creds"}}
    assert "secret_values" not in [r for r in site_reads(admin) if r["key"] == "connection_secret"][0]
    # Two sites naming one Secret, one as its own login and one as an administrative login, read it apart.
    admin["metadata"] = dict(admin["metadata"], name="other")
    shared = shared_reads([site(), admin])
    secrets = [r for r in shared["reads"] if r["kind"] == "Secret" and r["name"] == "external-db-creds"]
    assert len(secrets) == 2
    answer = {"objects": dict((r["key"], [secret(**GO_EXAMPLE)] if r.get("secret_values") else []) for r in shared["reads"])}
    assert shared_read_of(answer, site())["objects"]["connection_secret"] != []


def test_rendering_without_the_secret_says_what_it_assumed():
    p = plan(site(host="db.example.com"), None, mode="render")
    assert any("rendering does not read" in w and "external.example.com" in w for w in p["warnings"]), p["warnings"]


def test_a_restore_into_an_owners_database_is_refused_naming_the_way():
    owned = site(status={"phase": "Ready"})
    owned["metadata"] = {"name": "erp", "namespace": "shop"}
    backup = {"metadata": {"name": "nightly"}, "spec": {"site": "erp", "storage": {"type": "s3", "s3": {
        "bucket": "sets", "endpoint": "s3:8333", "accessKeyIdSecretKeyRef": {"name": "s3", "key": "id"},
        "secretAccessKeySecretKeyRef": {"name": "s3", "key": "secret"}}}}}
    restore = {"metadata": {"name": "back", "namespace": "shop", "uid": "r", "generation": 1},
               "spec": {"site": "erp", "backupRef": {"name": "nightly"}}}
    p = restore_plan(restore, {"sites": [owned], "benches": [BENCH], "backups": [backup], "jobs": [], "pods": []},
                     role_settings("frappe_site_restore", "frappe_site_restore_settings"))
    assert p["render"] == [] and "provider: external" in p["errors"][0] and "administrative login" in p["errors"][0]
