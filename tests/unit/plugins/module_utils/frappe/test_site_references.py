"""A reference to something that does not exist (bench, MariaDB, ExternalMariaDB, Secret) is reported in the status
with what to create, and nothing of the site is written until it exists."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import site_status

from role_settings import role_settings
from test_site_plan import live, ready, site

SETTINGS = role_settings("frappe_site", "frappe_site_settings")

CASES = [
    # (id, site spec, live overrides, field, condition type, reason, words of the message)
    ("bench", {}, {"bench": []}, "spec.benchRef.name", "BenchReady", "BenchNotFound", "create it"),
    ("mariadb", {}, {"server": []}, "spec.dbConfig.mariadbRef.name", "DatabaseReady", "DatabaseServerNotFound",
     "create it"),
    ("external-mariadb", {"dbConfig": {"mariadbRef": {"name": "mariadb", "kind": "ExternalMariaDB"}}}, {"server": []},
     "spec.dbConfig.mariadbRef.name", "DatabaseReady", "DatabaseServerNotFound", "ExternalMariaDB"),
    ("connection-secret", {"dbConfig": {"connectionSecretRef": {"name": "db"}}}, {"connection_secret": []},
     "spec.dbConfig.connectionSecretRef.name", "DatabaseReady", "ConnectionSecretNotFound", "Create it"),
    ("admin-secret", {"adminPasswordSecretRef": {"name": "admin"}}, {"admin_secret": []},
     "spec.adminPasswordSecretRef.name", "SiteCreated", "AdminSecretNotFound", "create it"),
]


def plan(spec, overrides, **live_extra):
    state = live(database=[], user=[], grant=[], db_secret=[], **dict(overrides, **live_extra))
    return site_plan(site(**spec), live=state, settings=SETTINGS, mode="apply",
                     new_site_script="echo new", drop_site_script="echo drop")


@pytest.mark.parametrize("spec, overrides, field, condition, reason, words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_missing_reference_writes_nothing_and_the_status_says_what_to_create(
        spec, overrides, field, condition, reason, words):
    p = plan(spec, overrides)
    assert p["errors"] == [] and p["missing_references"] == [field]
    assert p["provision"] is False and p["job_allowed"] is False
    status = site_status(p, site(**spec))
    found = [c for c in status["conditions"] if c["type"] == condition][0]
    assert (found["status"], found["reason"]) == ("False", reason)
    assert words in found["message"]
    assert status["phase"] == "Pending"


def test_with_every_reference_there_the_site_is_provisioned():
    p = plan({}, {})
    assert p["missing_references"] == [] and p["provision"] is True
    p = plan({"adminPasswordSecretRef": {"name": "admin"}}, {})
    assert p["missing_references"] == [] and p["provision"] is True


def test_a_server_that_exists_but_is_not_ready_is_no_missing_reference():
    not_ready = ready("MariaDB", "mariadb")
    not_ready["status"]["conditions"][0]["status"] = "False"
    p = plan({}, {"server": [not_ready]})
    assert p["missing_references"] == [] and p["provision"] is True
