"""The frappe_site_restore role against the real control plane: the one Job it creates, and its status.

The local cluster's fake nodes complete a Job's pods without running them, so
these tests prove the objects, their owners, what the pod is given and the
status; what the Job's container does is proven in test_site_restore_job.py on
the pod-script harness.
"""

import base64
import json
import time

import pytest

from support import reconcile_with_role, wait_until
from test_site_backup import GROUP, VERSION, custom

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import seal_key


def reconcile(kube, tmp_path, namespace, name):
    return reconcile_with_role(kube, tmp_path, "SiteRestore", namespace, name, "frappe_site_restore")


def site_restore(kube, namespace, name, **spec):
    kube.apply({"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "SiteRestore",
                "metadata": {"name": name, "namespace": namespace}, "spec": dict({"site": "erp"}, **spec)})


@pytest.fixture
def external_site(kube, ready_site):
    """The site on an external server given by a connection Secret (its administrative login)."""
    namespace = ready_site
    kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "frappesites", "erp", {"spec": {"dbConfig": {
        "mariadbRef": None, "connectionSecretRef": {"name": "db-admin"}}}})
    return namespace


def test_a_restore_runs_one_job_with_secrets_only_by_reference_and_never_again(kube, tmp_path, external_site):
    namespace = external_site
    site_restore(kube, namespace, "back", databaseBackupSource={"localPath": "sites/erp.example.com/private/backups/"
                                                                             "x-database.sql.gz"},
                 adminPasswordSecretRef={"name": "new-admin", "key": "password"})
    run = reconcile(kube, tmp_path, namespace, "back")
    assert run.rc == 0, run.explain()
    restore = custom(kube, namespace, "siterestores", "back")
    job = kube.batch.read_namespaced_job("back-restore", namespace)
    assert job.metadata.owner_references[0].uid == restore["metadata"]["uid"]
    assert job.spec.backoff_limit == 0
    env = dict((e.name, e) for e in job.spec.template.spec.containers[0].env)
    assert env["DB_ROOT_PASSWORD"].value_from.secret_key_ref.name == "db-admin"
    assert env["ADMIN_PASSWORD"].value_from.secret_key_ref.name == "new-admin"
    assert all(e.value is None for n, e in env.items() if n != "DB_ROOT_USERNAME")
    assert restore["status"]["phase"] in ("Pending", "Running")
    wait_until(lambda: kube.batch.read_namespaced_job("back-restore", namespace).status.succeeded, 60,
               "the fake node to complete the restore Job")
    run = reconcile(kube, tmp_path, namespace, "back")
    assert run.rc == 0, run.explain()
    status = custom(kube, namespace, "siterestores", "back")["status"]
    assert (status["phase"], status["restoreJob"]) == ("Completed", "back-restore") and status["completionTime"]
    # Once: with its Job gone, a finished restore makes no other.
    kube.batch.delete_namespaced_job("back-restore", namespace, propagation_policy="Background")
    wait_until(lambda: not kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site-restore=back")
               .items, 60, "the Job to go")
    again = reconcile(kube, tmp_path, namespace, "back")
    assert again.rc == 0 and again.changed == 0, again.explain()
    assert not kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site-restore=back").items


def test_a_forced_restore_keeps_the_key_it_replaced_in_a_secret_unsealed_from_its_jobs_outcome(
        kube, tmp_path, external_site):
    """The nodes take no pod here: the test stands in for the kubelet that ran the restore Job's container,
    whose outcome (site-restore.sh, proven on the pod-script harness) holds the replaced key sealed with the pad."""
    namespace = external_site
    site_restore(kube, namespace, "moved", backupRef={"name": "nightly"}, force=True)
    kube.apply({"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "SiteBackup",
                "metadata": {"name": "nightly", "namespace": namespace}, "spec": {"site": "erp"}})
    nodes = [n.metadata.name for n in kube.core.list_node().items]
    for node in nodes:
        kube.core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        run = reconcile(kube, tmp_path, namespace, "moved")
        assert run.rc == 0, run.explain()
        job = kube.batch.read_namespaced_job("moved-restore", namespace)
        pad_volume = next(v for v in job.spec.template.spec.volumes if v.name == "key-pad")
        assert (pad_volume.secret.secret_name, pad_volume.secret.optional) == ("moved-key-pad", True)
        pad_secret = kube.core.read_namespaced_secret("moved-key-pad", namespace)
        restore = custom(kube, namespace, "siterestores", "moved")
        assert [o.uid for o in pad_secret.metadata.owner_references] == [restore["metadata"]["uid"]]
        pad = base64.b64decode(pad_secret.data["pad"]).decode()
        assert len(pad) == 64
        pod = wait_until(lambda: (kube.core.list_namespaced_pod(
            namespace, label_selector="batch.kubernetes.io/job-name=moved-restore").items or [None])[0], 60,
            "the restore Job's pod")
        old_key = "n8LlvT6Gk0pTj0v6OEfn2lQwgHbQZ_3uW3K7hCwq9-E="
        outcome = {"set": "20261203T020000Z", "location": "s3://backups/x/", "migrated": False,
                   "encryptionKey": "replaced", "olderApps": [],
                   "keptConfig": "site_config.before-restore.20261203T030000Z.json",
                   "previousKeySealed": seal_key(old_key, pad), "schemaVersions": {"frappe": "15.60.0"}}
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        kube.core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "restore", "image": pod.spec.containers[0].image, "imageID": "",
                                   "ready": False, "restartCount": 0, "state": {"terminated": {
                                       "exitCode": 0, "reason": "Completed", "message": json.dumps(outcome),
                                       "startedAt": now, "finishedAt": now}}}]}})
        wait_until(lambda: kube.batch.read_namespaced_job("moved-restore", namespace).status.succeeded, 60,
                   "the Job to complete")
        run = reconcile(kube, tmp_path, namespace, "moved")
    finally:
        for node in nodes:
            kube.core.patch_node(node, {"spec": {"unschedulable": False}})
    assert run.rc == 0, run.explain()
    assert old_key not in run.stdout, "the unsealed key is never logged"
    status = custom(kube, namespace, "siterestores", "moved")["status"]
    assert (status["phase"], status["encryptionKey"], status["previousKeySecret"]) == (
        "Completed", "replaced", "moved-previous-key")
    # The site records what its restored schema is made for: what its bench's next upgrade compares with.
    site = [s for s in kube.custom.list_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites")[
        "items"] if s["spec"]["siteName"] == restore["spec"]["site"] or s["metadata"]["name"] == restore["spec"]["site"]]
    assert site[0]["status"]["schema"] == {"job": "moved-restore", "versions": {"frappe": "15.60.0"}}, site[0]["status"]
    kept = kube.core.read_namespaced_secret("moved-previous-key", namespace)
    assert base64.b64decode(kept.data["encryption_key"]).decode() == old_key
    assert [o.uid for o in kept.metadata.owner_references] == [restore["metadata"]["uid"]]
    wait_until(lambda: not kube.core.list_namespaced_secret(
        namespace, field_selector="metadata.name=moved-key-pad").items, 30, "the pad to go once its key is kept")
    again = reconcile(kube, tmp_path, namespace, "moved")
    assert again.rc == 0 and again.changed == 0, again.explain()


def test_a_restore_the_schema_or_the_plan_refuses_writes_nothing(kube, tmp_path, ready_site):
    namespace = ready_site
    with pytest.raises(Exception, match="exactly one"):
        site_restore(kube, namespace, "both", databaseBackupSource={"localPath": "a.sql.gz"},
                     backupRef={"name": "nightly"})
    # The site's server (a MariaDB of the operator, named but not there) gives no administrative login.
    site_restore(kube, namespace, "nologin", backupRef={"name": "nightly"})
    kube.apply({"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "SiteBackup",
                "metadata": {"name": "nightly", "namespace": namespace}, "spec": {"site": "erp"}})
    run = reconcile(kube, tmp_path, namespace, "nologin")
    assert run.rc != 0 and "administrative login" in run.failure_message, run.explain()
    status = custom(kube, namespace, "siterestores", "nologin")["status"]
    assert status["phase"] == "Failed" and "Nothing was changed" in status["message"]
    assert not kube.batch.list_namespaced_job(namespace, label_selector="vyogo.tech/site-restore=nologin").items
    assert not kube.core.list_namespaced_config_map(namespace, label_selector="vyogo.tech/site-restore=nologin").items
