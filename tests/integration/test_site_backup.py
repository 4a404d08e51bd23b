"""The frappe_site_backup role against the real control plane: what it creates, keeps and reports.

The local cluster's fake nodes complete a Job's pods without running them, so
these tests prove the objects, their owners and the status; what the Job's
container does is proven in test_site_backup_job.py on the pod-script harness.
"""

import base64

from support import reconcile_with_role, wait_until

GROUP, VERSION = "vyogo.tech", "v1alpha1"


def reconcile(kube, tmp_path, namespace, name):
    """The role for the live SiteBackup `name`, as playbooks/site.yml runs it (it removes the finalizer itself
    once a deletion is done)."""
    return reconcile_with_role(kube, tmp_path, "SiteBackup", namespace, name, "frappe_site_backup",
                               frappe_site_backup_remove_finalizer=True)


def custom(kube, namespace, plural, name):
    return kube.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)


def site_backup(kube, namespace, name, **spec):
    kube.apply({"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "SiteBackup",
                "metadata": {"name": name, "namespace": namespace}, "spec": dict({"site": "erp.example.com"}, **spec)})


def test_a_one_off_backup_makes_its_job_and_a_backups_volume_that_outlives_it_and_reports_completion(
        kube, tmp_path, ready_site):
    namespace = ready_site
    site_backup(kube, namespace, "now")
    run = reconcile(kube, tmp_path, namespace, "now")
    assert run.rc == 0, run.explain()
    backup = custom(kube, namespace, "sitebackups", "now")
    [job] = kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site-backup=now").items
    assert job.metadata.owner_references[0].uid == backup["metadata"]["uid"]
    claim = kube.core.read_namespaced_persistent_volume_claim("erp-backups", namespace)
    assert not claim.metadata.owner_references
    script = kube.core.read_namespaced_config_map("now-backup-script", namespace)
    assert "def store(" in script.data["backup_sets.py"] and '"type": "pvc"' in script.data["config.json"]
    wait_until(lambda: kube.batch.read_namespaced_job(job.metadata.name, namespace).status.succeeded, 60,
               "the fake node to complete the backup Job")
    run = reconcile(kube, tmp_path, namespace, "now")
    assert run.rc == 0, run.explain()
    status = custom(kube, namespace, "sitebackups", "now")["status"]
    assert (status["phase"], status["lastBackupJob"]) == ("Completed", job.metadata.name)
    # Nothing changed: the next reconcile applies nothing and makes no second Job.
    again = reconcile(kube, tmp_path, namespace, "now")
    assert again.rc == 0 and again.changed == 0, again.explain()
    assert all(r.get("skipped") for r in again.task_results("Apply the script, the backups volume and the Job or CronJob"))
    assert len(kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site-backup=now").items) == 1


def test_a_scheduled_s3_backup_gets_a_cronjob_and_a_passphrase_made_once(kube, tmp_path, ready_site):
    namespace = ready_site
    site_backup(kube, namespace, "nightly", schedule="0 2 * * *", retention={"keepDaily": 7},
                storage={"type": "s3", "s3": {"bucket": "backups", "endpoint": "minio:9000",
                                              "accessKeyIdSecretKeyRef": {"name": "s3", "key": "id"},
                                              "secretAccessKeySecretKeyRef": {"name": "s3", "key": "secret"}}})
    run = reconcile(kube, tmp_path, namespace, "nightly")
    assert run.rc == 0, run.explain()
    cron = kube.batch.read_namespaced_cron_job("nightly-backup", namespace)
    assert (cron.spec.schedule, cron.spec.concurrency_policy) == ("0 2 * * *", "Forbid")
    key = kube.core.read_namespaced_secret("nightly-backup-key", namespace)
    assert len(base64.b64decode(key.data["passphrase"])) == 48 and not key.metadata.owner_references
    assert reconcile(kube, tmp_path, namespace, "nightly").rc == 0
    assert kube.core.read_namespaced_secret("nightly-backup-key", namespace).data == key.data
    assert custom(kube, namespace, "sitebackups", "nightly")["status"]["phase"] == "Scheduled"


def test_a_backup_of_a_site_that_does_not_exist_is_refused_in_its_status_with_nothing_made(kube, tmp_path, ready_site):
    namespace = ready_site
    site_backup(kube, namespace, "orphan", site="crm")
    run = reconcile(kube, tmp_path, namespace, "orphan")
    assert run.rc != 0 and "spec.site crm names no FrappeSite" in run.failure_message
    status = custom(kube, namespace, "sitebackups", "orphan")["status"]
    assert status["phase"] == "Failed" and "spec.site crm" in status["message"]
    assert not kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site-backup=orphan").items
    assert not kube.core.list_namespaced_config_map(namespace, label_selector="vyogo.tech/site-backup=orphan").items


def test_deleting_a_sitebackup_with_delete_runs_the_job_deleting_its_sets_then_lets_it_go(kube, tmp_path, ready_site):
    namespace = ready_site
    site_backup(kube, namespace, "gone", schedule="0 2 * * *", deletionPolicy="Delete",
                storage={"type": "s3", "s3": {"bucket": "backups", "endpoint": "minio:9000",
                                              "accessKeyIdSecretKeyRef": {"name": "s3", "key": "id"},
                                              "secretAccessKeySecretKeyRef": {"name": "s3", "key": "secret"}}})
    run = reconcile(kube, tmp_path, namespace, "gone")
    assert run.rc == 0, run.explain()
    backup = custom(kube, namespace, "sitebackups", "gone")
    assert backup["metadata"]["finalizers"] == ["vyogo.tech/backup-cleanup"]
    recorded = (backup["status"]["siteName"], backup["status"]["image"])
    assert recorded == ("erp.example.com", "docker.io/frappe/erpnext:v15.45.0")
    kube.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "sitebackups", "gone")
    assert custom(kube, namespace, "sitebackups", "gone")["metadata"]["deletionTimestamp"]
    # The fake node completes the Job; the reconcile waits for it, then lets the SiteBackup go.
    run = reconcile(kube, tmp_path, namespace, "gone")
    assert run.rc == 0, run.explain()
    job = kube.batch.read_namespaced_job("gone-forget-sets", namespace)
    assert job.spec.template.spec.containers[0].args[3] == "forget-sets"
    assert not kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "sitebackups",
                                                         field_selector="metadata.name=gone")["items"]
    assert not kube.core.list_namespaced_secret(namespace, field_selector="metadata.name=gone-backup-key").items


def test_deleting_a_sitebackup_that_retains_keeps_its_passphrase(kube, tmp_path, ready_site):
    namespace = ready_site
    site_backup(kube, namespace, "kept", storage={"type": "s3", "s3": {
        "bucket": "backups", "endpoint": "minio:9000", "accessKeyIdSecretKeyRef": {"name": "s3", "key": "id"},
        "secretAccessKeySecretKeyRef": {"name": "s3", "key": "secret"}}})
    assert reconcile(kube, tmp_path, namespace, "kept").rc == 0
    assert not custom(kube, namespace, "sitebackups", "kept")["metadata"].get("finalizers")
    kube.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "sitebackups", "kept")
    wait_until(lambda: not kube.custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "sitebackups", field_selector="metadata.name=kept")["items"], 30,
        "the SiteBackup to go")
    assert kube.core.read_namespaced_secret("kept-backup-key", namespace).data["passphrase"]
