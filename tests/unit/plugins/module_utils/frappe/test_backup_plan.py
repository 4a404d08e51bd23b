"""backup_plan: a SiteBackup in one shape, whether written for the Go operator or with our fields."""

import json

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import (
    backup_plan, backup_spec, backup_status, bench_backup_args)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import (
    backup_job_name, backup_names, backups_volume_name)
from role_settings import role_settings


def backup(**spec):
    return {"metadata": {"name": "nightly", "namespace": "shop"}, "spec": dict({"site": "erp"}, **spec)}


def test_the_go_operators_fields_become_bench_backups_options_in_its_order():
    spec, errors = backup_spec(backup(withFiles=True, compress=True, verbose=True, exclude=["Error Log", "Version"],
                                      backupPathDB="/tmp/x/db.sql.gz"), "erp.example.com")
    assert errors == []
    assert spec["args"] == ["--backup-path", "/tmp/backup-set", "--with-files", "--compress", "--verbose",
                            "--backup-path-db", "/tmp/x/db.sql.gz", "--exclude", "Error Log,Version"]
    assert bench_backup_args({"backupPath": "sites/backups"}, "/scratch")[:2] == ["--backup-path", "sites/backups"]


def test_by_default_a_set_goes_to_a_backups_volume_of_the_site_unencrypted_and_every_set_is_kept():
    spec, errors = backup_spec(backup(), "erp.example.com")
    assert errors == [] and spec["schedule"] == "" and spec["deletionPolicy"] == "Retain"
    assert spec["storage"] == {"type": "pvc", "claim": backups_volume_name("erp.example.com")}
    assert spec["retention"] == {} and spec["encryption"]["enabled"] is False


def test_s3_in_the_go_operators_spelling_reads_as_the_mariadb_operators_and_is_encrypted_by_default():
    ref = {"name": "s3-creds", "key": "access"}
    go = backup(storage={"type": "s3", "s3": {"bucket": "backups", "endpoint": "https://minio:9000",
                                              "accessKeySecret": ref, "secretKeySecret": dict(ref, key="secret"),
                                              "useSSL": True}}, retention={"keepDaily": 7, "keepLast": 0})
    spec, errors = backup_spec(go, "erp")
    assert errors == []
    assert spec["storage"]["s3"] == {"bucket": "backups", "endpoint": "https://minio:9000",
                                     "accessKeyIdSecretKeyRef": ref,
                                     "secretAccessKeySecretKeyRef": dict(ref, key="secret"), "tls": {"enabled": True}}
    assert spec["retention"] == {"keepDaily": 7, "keepLast": 0}
    assert spec["encryption"] == {"enabled": True, "generated": True,
                                  "secret": {"name": backup_names("nightly")["key_secret"], "key": "passphrase"}}


def test_what_the_schema_cannot_refuse_is_refused_with_the_field_and_the_fix():
    _spec, errors = backup_spec(backup(include=["Note"], exclude=["Version"],
                                       storage={"type": "s3", "s3": {"bucket": "backups"}}), "erp")
    assert any("spec.include and spec.exclude" in e for e in errors)
    assert any("spec.storage.s3.accessKeyIdSecretKeyRef is missing" in e for e in errors)
    assert any("spec.storage.s3.secretAccessKeySecretKeyRef is missing" in e for e in errors)


SETTINGS = role_settings("frappe_site_backup", "frappe_site_backup_settings")


def live_backup(**spec):
    obj = backup(**spec)
    obj["metadata"].update(uid="bk-uid", generation=1)
    return obj


def live(site_phase="Ready", **extra):
    site = {"metadata": {"name": "erp", "namespace": "shop"},
            "spec": {"benchRef": {"name": "shop-bench"}, "siteName": "erp.example.com"},
            "status": {"phase": site_phase}}
    bench = {"metadata": {"name": "shop-bench"},
             "spec": {"imageConfig": {"pullSecrets": [{"name": "registry"}]},
                      "jobResources": {"backup": {"requests": {"cpu": "1"}}}},
             "status": {"image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-bench-sites",
                        "sitesAccessMode": "ReadWriteOnce"}}
    return dict({"sites": [site], "benches": [bench], "jobs": [], "pods": [], "claims": []}, **extra)


def test_a_site_is_found_by_its_name_or_its_site_name_and_the_job_runs_on_its_bench_image_and_volume():
    for name in ("erp", "erp.example.com"):
        p = backup_plan(live_backup(site=name), live(), SETTINGS, script="echo run")
        assert p["errors"] == [] and p["site"]["site_name"] == "erp.example.com"
    assert p["bench"]["image"] == "docker.io/frappe/erpnext:v15.45.0" and p["bench"]["sites_claim"] == "shop-bench-sites"
    assert p["bench"]["resources"] == {"requests": {"cpu": "1"}}
    assert p["job"]["args"][:5] == ["bash", "-c", "echo run", "site-backup", "erp.example.com"]
    assert p["job"]["name"] == backup_job_name("nightly", p["job"]["hash"])
    assert [s["kind"] for s in p["render"]] == ["ConfigMap", "PersistentVolumeClaim", "Job"]
    # The backups volume is made once; then it is there.
    claim = {"metadata": {"name": backups_volume_name("erp")}}
    p = backup_plan(live_backup(), live(claims=[claim]), SETTINGS)
    assert [s["kind"] for s in p["render"]] == ["ConfigMap", "Job"]


def test_a_schedule_renders_a_cronjob_and_a_changed_spec_a_new_one_off_job():
    assert [s["kind"] for s in backup_plan(live_backup(schedule="0 2 * * *"), live(), SETTINGS)["render"]][-1] == "CronJob"
    one = backup_plan(live_backup(), live(), SETTINGS)["job"]["name"]
    assert backup_plan(live_backup(withFiles=True), live(), SETTINGS)["job"]["name"] != one
    assert backup_plan(live_backup(), live(), SETTINGS)["job"]["name"] == one


def test_a_site_that_is_not_ready_waits_without_a_job_and_a_missing_site_or_claim_is_refused():
    p = backup_plan(live_backup(), live(site_phase="Provisioning"), SETTINGS)
    assert p["errors"] == [] and "not Ready" in p["waiting"] and "Job" not in [s["kind"] for s in p["render"]]
    p = backup_plan(live_backup(site="crm"), live(), SETTINGS)
    assert "spec.site crm names no FrappeSite in namespace shop" in p["errors"][0]
    p = backup_plan(live_backup(storage={"type": "pvc", "pvc": "nas"}), live(), SETTINGS)
    assert "spec.storage.pvc nas is no PersistentVolumeClaim" in p["errors"][0]


def test_the_store_step_gets_an_endpoint_url_the_passphrase_file_and_no_secret_values():
    ref = {"name": "s3", "key": "id"}
    p = backup_plan(live_backup(storage={"type": "s3", "s3": {
        "bucket": "backups", "endpoint": "minio.storage:9000", "prefix": "prod", "useSSL": False,
        "accessKeyIdSecretKeyRef": ref, "secretAccessKeySecretKeyRef": ref}}), live(), SETTINGS)
    config = p["store_config"]
    assert config["storage"]["s3"]["endpoint"] == "http://minio.storage:9000" and config["prefix"] == "prod"
    assert config["passphraseFile"] and p["key_secret_missing"]
    # Credentials reach the Job as environment from their Secrets, never through its configuration.
    assert "SecretKeyRef" not in json.dumps(config) and '"s3", "key": "id"' not in json.dumps(config)


def job(name, state=None, created="2026-12-01T02:00:00Z", completed=""):
    conditions = [{"type": state, "status": "True"}] if state else []
    status = {"conditions": conditions}
    if completed:
        status["completionTime"] = completed
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def pod(job_name, message):
    return {"metadata": {"labels": {"batch.kubernetes.io/job-name": job_name}},
            "status": {"containerStatuses": [{"state": {"terminated": {"message": message}}}]}}


def test_the_status_reports_the_newest_stored_set_and_a_failed_run_in_its_own_words():
    p = backup_plan(live_backup(schedule="0 2 * * *"), live(), SETTINGS)
    stored = json.dumps({"set": "20261202T020000Z", "location": "s3://b/shop/erp/20261202T020000Z/",
                         "kept": ["20261202T020000Z", "20261201T020000Z"], "pruned": []})
    state = live(jobs=[job("nightly-backup-1", "Complete", completed="2026-12-02T02:01:00Z")],
                 pods=[pod("nightly-backup-1", stored)])
    s = backup_status(p, state, live_backup(schedule="0 2 * * *"))
    assert s["phase"] == "Scheduled" and s["status"]["lastBackupJob"] == "nightly-backup-1"
    assert s["status"]["storageLocation"].startswith("s3://b/") and len(s["status"]["keptSets"]) == 2
    assert s["conditions"][0]["status"] == "True"
    state["jobs"].append(job("nightly-backup-2", "Failed", created="2026-12-03T02:00:00Z"))
    state["pods"].append(pod("nightly-backup-2", json.dumps({"error": "S3 refused to list the sets in bucket b: "
                                                                      "SignatureDoesNotMatch (...)"})))
    s = backup_status(p, state, live_backup(schedule="0 2 * * *"))
    assert s["phase"] == "Scheduled" and "SignatureDoesNotMatch" in s["status"]["message"]
    assert s["conditions"][0]["status"] == "False" and s["status"]["lastBackupJob"] == "nightly-backup-1"
    # bench backup's own words, when the script ended before its JSON.
    state["pods"][-1] = pod("nightly-backup-2", "Backup failed for Site erp.example.com. Database or "
                                                "site_config.json may be corrupted")
    assert "Backup failed for Site" in backup_status(p, state, live_backup())["status"]["message"]


def test_a_one_off_backup_is_pending_running_then_completed():
    p = backup_plan(live_backup(), live(), SETTINGS)
    assert backup_status(p, live(), live_backup())["phase"] == "Pending"
    name = p["job"]["name"]
    assert backup_status(p, live(jobs=[job(name)]), live_backup())["phase"] == "Running"
    done = live(jobs=[job(name, "Complete", completed="2026-12-03T10:00:00Z")])
    assert backup_status(p, done, live_backup())["phase"] == "Completed"


def test_render_mode_refuses_a_backup_whose_site_is_not_in_the_manifest_or_whose_fields_the_crd_refuses():
    from pathlib import Path

    import yaml

    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.crd_schema import render_refusals
    crd = yaml.safe_load((Path(__file__).resolve().parents[5] / "config" / "crd" / "bases"
                          / "vyogo.tech_sitebackups.yaml").read_text())
    site = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "erp", "namespace": "shop"},
            "spec": {"benchRef": {"name": "b"}, "siteName": "erp.example.com"}}
    good = dict(backup(site="erp.example.com"), apiVersion="vyogo.tech/v1alpha1", kind="SiteBackup")
    assert [e for e in render_refusals([], [site], [crd], [good]) if "SiteBackup" in e] == []
    lost = dict(good, spec={"site": "crm"})
    assert any("spec.site: no FrappeSite crm" in e for e in render_refusals([], [site], [crd], [lost]))
    typo = dict(good, spec={"site": "erp", "retention": {"keepDialy": 7}})
    assert any("spec.retention.keepDialy: unknown field" in e for e in render_refusals([], [site], [crd], [typo]))


def deleted(policy, status=None):
    obj = live_backup(deletionPolicy=policy, storage={"type": "s3", "s3": {
        "bucket": "sets", "endpoint": "s3:8333", "prefix": "prod",
        "accessKeyIdSecretKeyRef": {"name": "s3", "key": "id"},
        "secretAccessKeySecretKeyRef": {"name": "s3", "key": "secret"}}})
    obj["metadata"]["deletionTimestamp"] = "2026-12-03T12:00:00Z"
    obj["status"] = status if status is not None else {
        "frappeSite": "erp", "siteName": "erp.example.com", "image": "frappe/erpnext@sha256:abc"}
    return obj


def test_a_deleted_sitebackup_that_retains_renders_nothing_and_one_that_deletes_renders_its_forget_job():
    kept = backup_plan(deleted("Retain"), {}, SETTINGS)
    assert kept["deleting"] and kept["forget"] is None and kept["render"] == []
    # The site and the bench may be gone: the Job runs on the image and under the name the status recorded.
    plan = backup_plan(deleted("Delete"), {}, SETTINGS)
    names = backup_names("nightly")
    assert plan["errors"] == [] and plan["forget"] == {"job": names["forget_job"], "generated_key": names["key_secret"]}
    rendered = [(s["kind"], s["name"]) for s in plan["render"]]
    assert rendered == [("ConfigMap", names["forget_job"]), ("Job", names["forget_job"])]
    assert plan["store_config"]["site"] == "erp.example.com" and plan["store_config"]["prefix"] == "prod"
    assert plan["bench"]["image"] == "frappe/erpnext@sha256:abc" and plan["bench"]["sites_claim"] == ""
    assert plan["owner_references"] == [] and plan["job"]["args"][3] == "forget-sets"
    # Never reconciled, nothing stored: nothing to delete.
    assert backup_plan(deleted("Delete", status={}), {}, SETTINGS)["forget"] is None


def test_the_forget_outcome_waits_for_the_job_and_reads_its_report():
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import job_outcome
    plan = backup_plan(deleted("Delete"), {}, SETTINGS)
    job = {"metadata": {"name": "nightly-forget-sets"}, "status": {}}
    assert job_outcome({"jobs": [job]}, plan["forget"]["job"]) == {}
    job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    pod = {"metadata": {"labels": {"batch.kubernetes.io/job-name": "nightly-forget-sets"}},
           "status": {"containerStatuses": [{"state": {"terminated": {"message": '{"deleted": ["a", "b"]}'}}}]}}
    outcome = job_outcome({"jobs": [job], "pods": [pod]}, plan["forget"]["job"])
    assert outcome == {"state": "Complete", "deleted": ["a", "b"]}


def test_before_its_site_is_dropped_a_scheduled_sitebackup_takes_one_backup_now_named_by_the_sites_uid():
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import final_job_name
    scheduled = live_backup(schedule="0 2 * * *")
    plan = backup_plan(scheduled, live(), SETTINGS, final="0123456789abcdef")
    assert plan["errors"] == [] and plan["final"] == final_job_name("nightly", "0123456789abcdef")
    assert plan["final"] == "nightly-final-01234567"
    assert [s["kind"] for s in plan["render"] if s["kind"] in ("Job", "CronJob")] == ["Job"]
    assert plan["job"]["name"] == plan["final"] and plan["job"]["args"][3] == "site-backup"
