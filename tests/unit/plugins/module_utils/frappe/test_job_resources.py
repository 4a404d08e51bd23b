"""Job resources: one source (plugins/module_utils/frappe/job_resources.py) for the bench's and the site's Jobs."""

import copy

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.go_operator_fields import REFUSED_BENCH

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import bench_spec_errors
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import job_resources as jr

from role_settings import REPO, role_settings

BENCH_SETTINGS = role_settings("frappe_bench", "frappe_bench_settings")
SITE_SETTINGS = role_settings("frappe_site", "frappe_site_settings")
CRD = REPO / "config" / "crd" / "bases" / "vyogo.tech_frappebenches.yaml"

SITE_INIT = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "6Gi"}}
DEFAULT = {"requests": {"cpu": "50m", "memory": "192Mi"}, "limits": {"memory": "384Mi"}}


def bench(**spec):
    body = {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext", "tag": "v15.45.0"}}
    body.update(spec)
    status = {"image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-sites",
              "conditions": [{"type": "ConfigReady", "status": "True"}, {"type": "Ready", "status": "True"}]}
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": "shop", "namespace": "shop", "uid": "b-uid"}, "spec": body, "status": status}


def site():
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite",
            "metadata": {"name": "erp", "namespace": "shop", "uid": "5a5a5a5a-1111", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"benchRef": {"name": "shop"}, "siteName": "erp.example.com",
                     "dbConfig": {"connectionSecretRef": {"name": "db-admin"}}}}


def plans(b):
    live_site = {"bench": [b], "connection_secret": [{"metadata": {"name": "db-admin"},
                                                      "data": {"host": "", "username": "", "password": ""}}],
                 "db_secret": [{"metadata": {"name": "erp-db-credentials"}, "data": {"password": ""}}],
                 "admin_secret": [{"metadata": {"name": "erp-admin"}, "data": {"password": ""}}],
                 "api_groups": {"k8s.mariadb.com/v1alpha1": True, "cert-manager.io/v1": True}}
    bp = bench_plan(b, live={"storage_classes": []}, settings=BENCH_SETTINGS, mode="render", config_script="echo c")
    sp = site_plan(site(), live=live_site, settings=SITE_SETTINGS, mode="apply", new_site_script="echo n",
                   drop_site_script="echo d")
    assert bp["errors"] == [] and sp["errors"] == [], (bp["errors"], sp["errors"])
    return bp, sp


def test_every_kind_has_requests_and_limits_of_cpu_and_memory_by_default():
    for kind in jr.KINDS:
        resources = jr.job_resources({}, kind)
        for part in ("requests", "limits"):
            assert set(resources[part]) == {"cpu", "memory"}, (kind, part)
        assert not jr.job_resources_errors({"jobResources": {kind: resources}})
    # bench new-site with ERPNext is the heavy one.
    assert jr.job_resources({}, "siteInit")["limits"]["memory"] == "3Gi"


def test_a_kind_takes_its_own_entry_else_default_else_the_built_in_sizing():
    spec = {"jobResources": {"siteInit": SITE_INIT, "default": DEFAULT}}
    assert jr.job_resources(spec, "siteInit") == SITE_INIT
    assert jr.job_resources(spec, "maintenance") == DEFAULT
    assert jr.job_resources({"jobResources": {"siteInit": SITE_INIT}}, "maintenance") == jr.DEFAULTS["maintenance"]
    # An empty entry sizes nothing: the next one does.
    assert jr.job_resources({"jobResources": {"siteInit": {}, "default": DEFAULT}}, "siteInit") == DEFAULT
    with pytest.raises(Exception, match="kind must be one of"):
        jr.job_resources({}, "cron")


def test_the_bench_and_its_sites_take_their_job_resources_from_the_same_function():
    for spec in ({}, {"jobResources": {"default": DEFAULT}}, {"jobResources": {"siteInit": SITE_INIT, "default": DEFAULT}},
                 {"jobResources": {"maintenance": SITE_INIT}}):
        b = bench(**spec)
        bp, sp = plans(b)
        assert bp["config"]["resources"] == jr.job_resources(b["spec"], "maintenance")
        assert sp["drop_job"]["resources"] == bp["config"]["resources"]
        assert sp["job"]["resources"] == jr.job_resources(b["spec"], "siteInit")


def test_new_resources_are_a_new_job_whose_pod_template_could_not_change():
    bp, sp = plans(bench())
    bp2, sp2 = plans(bench(jobResources={"default": DEFAULT}))
    assert bp2["config"]["job"] != bp["config"]["job"] and sp2["job"]["name"] != sp["job"]["name"]


@pytest.mark.parametrize("spec,words", [
    ({"siteInit": {"requests": {"memory": "4Gi"}, "limits": {"memory": "2Gi"}}},
     "spec.jobResources.siteInit.requests.memory (4Gi) is more than its limit (2Gi)"),
    ({"default": {"requests": {"cpu": "1500m"}, "limits": {"cpu": "1"}}},
     "spec.jobResources.default.requests.cpu (1500m) is more than its limit (1)"),
    ({"maintenance": {"limits": {"memory": "-1Gi"}}}, "spec.jobResources.maintenance.limits.memory must not be negative"),
    ({"default": {"requests": {"cpu": "lots"}}}, "spec.jobResources.default.requests.cpu must be a Kubernetes quantity"),
])
def test_job_resources_no_pod_could_have_are_refused_by_bench_and_site(spec, words):
    b = bench(jobResources=spec)
    errors = bench_spec_errors(b)
    assert len(errors) == 1 and words in errors[0], errors
    bp = bench_plan(b, live={"storage_classes": []}, settings=BENCH_SETTINGS, mode="render", config_script="echo c")
    assert len(bp["errors"]) == 1 and words in bp["errors"][0] and "Nothing was changed" in bp["errors"][0]
    sp = site_plan(site(), live={"bench": [b]}, settings=SITE_SETTINGS, mode="render", new_site_script="n",
                   drop_site_script="d")
    assert len(sp["errors"]) == 1 and words in sp["errors"][0] and "Fix the bench" in sp["errors"][0], sp["errors"]
    assert "job" not in sp


def test_equal_request_and_limit_and_exact_milli_quantities_are_fine():
    assert jr.job_resources_errors({"jobResources": {"default": {"requests": {"cpu": "1001m"}, "limits": {"cpu": "1001m"}}}}) == []
    assert jr.job_resources_errors({"jobResources": {"default": {"requests": {"cpu": "1001m"}, "limits": {"cpu": "1002m"}}}}) == []


def test_the_crd_accepts_exactly_the_kinds_the_plan_knows():
    schema = yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    job_resources = schema["properties"]["spec"]["properties"]["jobResources"]
    # The Go operator's kinds without a Job here are in the schema so that they are refused with a reason.
    refused = set(f.rsplit(".", 1)[1] for f in REFUSED_BENCH if f.startswith("spec.jobResources."))
    assert refused == {"appInstall", "cron"}
    assert set(job_resources["properties"]) == {"default"} | set(jr.KINDS) | refused
    component = schema["properties"]["spec"]["properties"]["componentResources"]["properties"]["gunicorn"]
    for kind, prop in job_resources["properties"].items():
        # The same {requests, limits} of quantities as every container's resources.
        assert prop["properties"] == component["properties"], kind


def test_the_go_operators_finer_kinds_keep_what_a_bench_sized_before_they_existed():
    spec = {"jobResources": {"maintenance": {"requests": {"cpu": "300m"}}, "backup": {"limits": {"memory": "2Gi"}}}}
    assert jr.job_resources(spec, "benchInit") == jr.job_resources(spec, "migration") == {"requests": {"cpu": "300m"}}
    assert jr.job_resources(spec, "restore") == {"limits": {"memory": "2Gi"}}
    own = dict(spec["jobResources"], migration={"requests": {"cpu": "2"}})
    assert jr.job_resources({"jobResources": own}, "migration") == {"requests": {"cpu": "2"}}
    assert jr.job_resources({}, "benchInit") == jr.DEFAULTS["maintenance"]
    assert jr.job_resources({}, "restore") == jr.DEFAULTS["backup"]


def test_the_plans_do_not_share_the_defaults_they_hand_out():
    before = copy.deepcopy(jr.DEFAULTS)
    jr.job_resources({}, "siteInit")["limits"]["memory"] = "1Ki"
    assert jr.DEFAULTS == before


def test_the_docs_give_the_built_in_sizing_the_code_uses():
    text = (REPO / "docs" / "FRAPPEBENCH.md").read_text()
    for kind, sizing in jr.DEFAULTS.items():
        row = [line for line in text.splitlines() if line.startswith("| `%s` |" % kind)]
        assert len(row) == 1, kind
        cells = [c.strip() for c in row[0].strip("|").split("|")]
        for cell, part in zip(cells[2:4], ("requests", "limits")):
            assert cell == ", ".join("%s %s" % (r, sizing[part][r]) for r in ("cpu", "memory")), (kind, part)
