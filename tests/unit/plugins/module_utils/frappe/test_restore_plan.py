"""restore_plan: a SiteRestore in one shape, the administrative login it needs, its one Job, and its status."""

import json

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import restore_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.restore_plan import (
    restore_plan, restore_server_reads, restore_spec, restore_status)
from role_settings import role_settings

SETTINGS = role_settings("frappe_site_restore", "frappe_site_restore_settings")
CREDS = {"accessKeyIdSecretKeyRef": {"name": "s3", "key": "id"},
         "secretAccessKeySecretKeyRef": {"name": "s3", "key": "secret"}}


def restore(status=None, **spec):
    obj = {"metadata": {"name": "back", "namespace": "shop", "uid": "r-uid", "generation": 1},
           "spec": dict({"site": "erp.example.com"}, **spec)}
    if status:
        obj["status"] = status
    return obj


def site(db=None, phase="Ready"):
    return {"metadata": {"name": "erp", "namespace": "shop"},
            "spec": {"benchRef": {"name": "shop"}, "siteName": "erp.example.com",
                     "dbConfig": db or {"connectionSecretRef": {"name": "db-admin"}}},
            "status": {"phase": phase}}


BENCH = {"metadata": {"name": "shop"}, "spec": {},
         "status": {"image": "frappe/erpnext@sha256:abc", "sitesClaim": "shop-sites"}}
BUCKET = dict(CREDS, bucket="sets", endpoint="s3:8333", prefix="prod", tls={"enabled": False})
BACKUP = {"metadata": {"name": "nightly"}, "spec": {"site": "erp", "storage": {"type": "s3", "s3": BUCKET}}}


def live(**more):
    return dict({"sites": [site()], "benches": [BENCH], "backups": [BACKUP], "jobs": [], "pods": []}, **more)


def test_the_go_operators_fields_become_sources_and_a_local_path_must_stay_in_the_bench():
    spec, errors = restore_spec(restore(benchRef={"name": "shop"}, force=True,
                                        databaseBackupSource={"s3": dict(CREDS, bucket="b", key="x/db.sql.gz")},
                                        publicFilesSource={"localPath": "sites/erp/private/backups/files.tar"},
                                        adminPasswordSecretRef={"name": "admin", "key": "password"}))
    assert errors == []
    assert spec["sources"]["database"]["key"] == "x/db.sql.gz"
    assert spec["sources"]["files"] == {"type": "local", "path": "sites/erp/private/backups/files.tar"}
    assert spec["force"] and spec["bench"] == "shop" and spec["admin_password"] == {"name": "admin", "key": "password"}
    _spec, errors = restore_spec(restore(databaseBackupSource={"localPath": "../../etc/passwd"}))
    assert errors and "relative to the bench directory" in errors[0]


@pytest.mark.parametrize("spec, words", [
    ({}, "give databaseBackupSource"),
    ({"backupRef": {"name": "nightly"}, "publicFilesSource": {"localPath": "x.tar"}}, "leave out"),
    ({"databaseBackupSource": {"localPath": "a", "s3": {"bucket": "b", "key": "k"}}}, "exactly one of localPath"),
    ({"databaseBackupSource": {"s3": {"bucket": "b", "key": "k"}}}, "s3.accessKeyIdSecretKeyRef is missing"),
])
def test_what_the_schema_cannot_refuse_is_refused_before_anything_is_written(spec, words):
    plan = restore_plan(restore(**spec), live(), SETTINGS)
    assert plan["render"] == [] and words in plan["errors"][0] and "Nothing was changed" in plan["errors"][0]


def test_a_set_of_a_sitebackup_is_fetched_from_its_bucket_with_credentials_only_as_environment():
    plan = restore_plan(restore(backupRef={"name": "nightly", "set": "20261203T021500Z"}), live(), SETTINGS)
    assert plan["errors"] == [] and plan["waiting"] == ""
    assert [s["kind"] for s in plan["render"]] == ["ConfigMap", "Job"]
    assert plan["job"]["name"] == restore_names("back")["job"]
    source = plan["config"]["set"]
    assert source["site"] == "erp.example.com" and source["prefix"] == "prod" and source["stamp"] == "20261203T021500Z"
    assert source["storage"]["s3"]["endpoint"] == "http://s3:8333"
    assert source["passphraseFile"], "S3 sets are encrypted by default"
    names = [e["name"] for e in plan["env"]]
    assert names == ["RESTORE_SET_ACCESS_KEY_ID", "RESTORE_SET_SECRET_ACCESS_KEY", "DB_ROOT_USERNAME",
                     "DB_ROOT_PASSWORD"]
    assert all("valueFrom" in e for e in plan["env"])
    # The ConfigMap names where the credentials are, never what they are.
    assert source["storage"]["s3"]["credentials"] == {"accessKeyId": "RESTORE_SET_ACCESS_KEY_ID",
                                                      "secretAccessKey": "RESTORE_SET_SECRET_ACCESS_KEY"}
    assert "SecretKeyRef" not in str(plan["config"])


def test_the_administrative_login_comes_from_the_sites_server():
    operator_site = site(db={"mariadbRef": {"name": "shared"}})
    reads = restore_server_reads(restore(), {"sites": [operator_site]})
    assert [(r["kind"], r["name"]) for r in reads] == [("MariaDB", "shared")]
    server = {"kind": "MariaDB", "spec": {"rootPasswordSecretKeyRef": {"name": "shared-root", "key": "pw"}}}
    plan = restore_plan(restore(backupRef={"name": "nightly"}), live(sites=[operator_site], server=[server]), SETTINGS)
    assert plan["env"][-2:] == [{"name": "DB_ROOT_USERNAME", "value": "root"},
                                {"name": "DB_ROOT_PASSWORD",
                                 "valueFrom": {"secretKeyRef": {"name": "shared-root", "key": "pw"}}}]
    elsewhere = site(db={"mariadbRef": {"name": "shared", "namespace": "databases"}})
    assert restore_server_reads(restore(), {"sites": [elsewhere]}) == []
    plan = restore_plan(restore(backupRef={"name": "nightly"}), live(sites=[elsewhere]), SETTINGS)
    assert "administrative login" in plan["errors"][0]


def test_it_waits_for_a_ready_site_and_a_restore_runs_once():
    plan = restore_plan(restore(backupRef={"name": "nightly"}), live(sites=[site(phase="Provisioning")]), SETTINGS)
    assert plan["render"] == [] and "not Ready" in plan["waiting"]
    job = {"metadata": {"name": restore_names("back")["job"]}, "status": {}}
    plan = restore_plan(restore(backupRef={"name": "nightly"}), live(jobs=[job]), SETTINGS)
    assert plan["render"] == [], "a Job that exists is never applied again"
    done = restore(status={"phase": "Completed", "restoreJob": "back-restore"}, backupRef={"name": "nightly"})
    assert restore_plan(done, live(), SETTINGS)["render"] == []
    refused_before = restore(status={"phase": "Failed", "message": "refused"}, backupRef={"name": "nightly"})
    assert restore_plan(refused_before, live(), SETTINGS)["render"], "a refusal that was corrected runs"


def test_the_status_reports_what_the_job_restored_or_why_it_failed():
    plan = restore_plan(restore(backupRef={"name": "nightly"}), live(), SETTINGS)
    name = plan["job"]["name"]

    def pod(message):
        return {"metadata": {"labels": {"batch.kubernetes.io/job-name": name}},
                "status": {"containerStatuses": [{"state": {"terminated": {"message": message}}}]}}

    done = {"metadata": {"name": name},
            "status": {"completionTime": "2026-12-03T02:20:00Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}}
    status = restore_status(plan, {"jobs": [done], "pods": [pod(
        '{"set": "20261203T021500Z", "location": "s3://sets/x/", "migrated": true, "encryptionKey": "restored"}')]},
        restore())
    assert status["phase"] == "Completed" and status["status"]["restoredSet"] == "20261203T021500Z"
    assert status["status"]["migrated"] is True and status["status"]["encryptionKey"] == "restored"
    failed = {"metadata": {"name": name}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    status = restore_status(plan, {"jobs": [failed], "pods": [pod('{"error": "the key differs"}')]}, restore())
    assert status["phase"] == "Failed" and "the key differs" in status["status"]["message"]
    assert status["conditions"][0]["status"] == "False"


def test_only_a_forced_restore_mounts_the_one_time_pad_and_its_status_keeps_the_replaced_key_in_a_secret():
    plain = restore_plan(restore(backupRef={"name": "nightly"}), live(), SETTINGS)
    assert plain["key_pad"] == "" and "keyPadFile" not in plain["config"]
    assert not [m for m in plain["secret_files"] if m["volume"] == "key-pad"]
    plan = restore_plan(restore(backupRef={"name": "nightly"}, force=True), live(), SETTINGS)
    names = restore_names("back")
    assert plan["key_pad"] == names["key_pad"] and plan["config"]["keyPadFile"].endswith("/pad")
    pad = [m for m in plan["secret_files"] if m["volume"] == "key-pad"]
    assert pad == [{"volume": "key-pad", "secret": names["key_pad"], "key": "pad", "dir": pad[0]["dir"],
                    "file": "pad", "optional": True}]
    name = plan["job"]["name"]
    done = {"metadata": {"name": name}, "status": {"completionTime": "2026-12-03T02:20:00Z",
                                                   "conditions": [{"type": "Complete", "status": "True"}]}}

    def outcome(**more):
        message = dict({"set": "20261203T021500Z", "location": "s3://sets/x/", "migrated": False,
                        "encryptionKey": "replaced", "keptConfig": "site_config.before-restore.20261203T022000Z.json",
                        "previousKeySealed": ""}, **more)
        pod = {"metadata": {"labels": {"batch.kubernetes.io/job-name": name}},
               "status": {"containerStatuses": [{"state": {"terminated": {"message": json.dumps(message)}}}]}}
        return {"jobs": [done], "pods": [pod]}

    status = restore_status(plan, outcome(previousKeySealed="0a1b"), restore())
    assert status["kept_key"] == {"sealed": "0a1b", "kept_config": "sites/erp.example.com/site_config.before-restore."
                                  "20261203T022000Z.json"}
    assert status["status"]["previousKeySecret"] == names["previous_key"] and names["previous_key"] in \
        status["status"]["message"]
    # No pad reached the Job: the status says where the key is instead, and claims no Secret.
    status = restore_status(plan, outcome(), restore())
    assert status["kept_key"] is None and "previousKeySecret" not in status["status"]
    assert "site_config.before-restore.20261203T022000Z.json on the sites volume" in status["status"]["message"]
    done_before = restore(status={"phase": "Completed", "restoreJob": name}, backupRef={"name": "nightly"}, force=True)
    plan = restore_plan(done_before, live(), SETTINGS)
    assert restore_status(plan, outcome(previousKeySealed="0a1b"), done_before)["kept_key"] is None


def test_a_completed_restore_gives_the_site_the_versions_its_restored_schema_is_made_for():
    plan = restore_plan(restore(backupRef={"name": "nightly"}), live(), SETTINGS)
    name = plan["job"]["name"]
    done = {"metadata": {"name": name}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    message = json.dumps({"set": "s", "location": "l", "migrated": True, "encryptionKey": "restored",
                          "schemaVersions": {"frappe": "15.60.0"}})
    pod = {"metadata": {"labels": {"batch.kubernetes.io/job-name": name}},
           "status": {"containerStatuses": [{"state": {"terminated": {"message": message}}}]}}
    recorded = site()
    recorded["status"]["schema"] = {"job": "erp-site-1", "versions": {"frappe": "15.55.1", "hrms": "15.30.0"}}
    status = restore_status(plan, {"jobs": [done], "pods": [pod], "sites": [recorded]}, restore())
    assert status["site_schema"] == {"job": name, "versions": {"frappe": "15.60.0", "hrms": None}}
    # Running, or done before: nothing to record.
    assert restore_status(plan, {"jobs": [], "pods": []}, restore())["site_schema"] is None
