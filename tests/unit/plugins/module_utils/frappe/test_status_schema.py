"""Every status field the roles write is in its CRD's schema: the API server prunes unknown fields silently."""

import json
from pathlib import Path

import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import backup_plan, backup_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import bench_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.restore_plan import restore_plan, restore_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import site_status

import test_backup_plan as backup_case
import test_bench_plan as bench_case
import test_restore_plan as restore_case
import test_site_plan as site_case
from test_bench_status import healthy

CRDS = Path(__file__).resolve().parents[5] / "config" / "crd" / "bases"


def status_schema(crd):
    doc = yaml.safe_load((CRDS / crd).read_text())
    return doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]


def unknown_fields(value, schema, path="status"):
    """Paths of `value` that `schema` would prune."""
    if not isinstance(value, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    properties, extra = schema.get("properties"), schema.get("additionalProperties")
    out = []
    for key, item in value.items():
        if properties is not None and key in properties:
            out += unknown_fields(item, properties[key], "%s.%s" % (path, key))
        elif isinstance(extra, dict):
            out += unknown_fields(item, extra, "%s.%s" % (path, key))
        else:
            out.append("%s.%s" % (path, key))
    return out


def test_the_bench_status_fits_the_frappebench_schema():
    plan = bench_case.plan()
    plan["routes"]["map"] = {"erp.example.org": "erp.example.com"}
    result = bench_status(plan, healthy(plan), bench_case.bench(), bench_case.SETTINGS)
    assert unknown_fields(result["status"], status_schema("vyogo.tech_frappebenches.yaml")) == []


def test_the_site_status_fits_the_frappesite_schema():
    plan = site_case.plan()
    result = site_status(plan, site_case.site())
    assert unknown_fields(result["status"], status_schema("vyogo.tech_frappesites.yaml")) == []


def test_the_check_finds_a_field_the_schema_lacks():
    assert unknown_fields({"phase": "Ready", "nope": 1}, status_schema("vyogo.tech_frappesites.yaml")) == \
        ["status.nope"]


def test_the_backup_status_fits_the_sitebackup_schema():
    plan = backup_plan(backup_case.live_backup(schedule="0 2 * * *"), backup_case.live(), backup_case.SETTINGS)
    outcome = json.dumps({"set": "20261202T020000Z", "location": "/backups/x/", "kept": ["20261202T020000Z"]})
    live = backup_case.live(jobs=[backup_case.job("j", "Complete", completed="2026-12-02T02:01:00Z")],
                            pods=[backup_case.pod("j", outcome)])
    result = backup_status(plan, live, backup_case.live_backup())
    assert result["status"]["keptSets"] and result["status"]["storageLocation"] and result["status"]["image"]
    assert unknown_fields(result["status"], status_schema("vyogo.tech_sitebackups.yaml")) == []


def test_the_restore_status_fits_the_siterestore_schema():
    plan = restore_plan(restore_case.restore(backupRef={"name": "nightly"}, force=True), restore_case.live(),
                        restore_case.SETTINGS)
    outcome = json.dumps({"set": "20261202T020000Z", "location": "s3://b/x/", "migrated": True,
                          "encryptionKey": "replaced", "previousKeySealed": "0a1b"})
    job = {"metadata": {"name": plan["job"]["name"]},
           "status": {"completionTime": "2026-12-02T02:01:00Z", "conditions": [{"type": "Complete", "status": "True"}]}}
    pod = {"metadata": {"labels": {"batch.kubernetes.io/job-name": plan["job"]["name"]}},
           "status": {"containerStatuses": [{"state": {"terminated": {"message": outcome}}}]}}
    result = restore_status(plan, {"jobs": [job], "pods": [pod]}, restore_case.restore())
    assert result["status"]["restoredSet"] and result["status"]["previousKeySecret"]
    assert unknown_fields(result["status"], status_schema("vyogo.tech_siterestores.yaml")) == []
