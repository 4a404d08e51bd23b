"""A SiteBackup's Job, rendered by its role and run as the kubelet would run it, against real servers.

The pod runs in the pod-script harness on a bench whose site the stand-in
`bench new-site` made on a real MariaDB; its `bench backup` stand-in dumps
that database with the real mariadb-dump; the store step runs with the bench
image's Python, real gpg, and a real S3 server (or a directory for a claim).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support import REPO

sys.path.insert(0, str(REPO / "tests" / "harness"))
import bench_python  # noqa: E402
from podscripts import ImageBench, pod_spec, run_container  # noqa: E402

pytestmark = [pytest.mark.mariadb, pytest.mark.s3]

SITE, NAMESPACE = "erp.example.com", "shop"
PASSPHRASE = "correct horse battery staple"


def render(tmp_path, spec, **more):
    """The objects the frappe_site_backup role renders for a SiteBackup `nightly` of SITE (render mode); `more`
    goes into the SiteBackup (metadata, status)."""
    playbook = tmp_path / "render-backup.yml"
    out = tmp_path / "objects.json"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [{"ansible.builtin.include_role": {"name": "vyogotech.frappe.frappe_site_backup"}, "vars": {
            "frappe_site_backup_mode": "render",
            "_vyogo_tech_sitebackup": {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteBackup",
                                       "metadata": {"name": "nightly", "namespace": NAMESPACE},
                                       "spec": dict({"site": "erp"}, **spec), **more},
            "frappe_site_backup_render_live": {
                "sites": [{"metadata": {"name": "erp", "namespace": NAMESPACE},
                           "spec": {"benchRef": {"name": "shop"}, "siteName": SITE}, "status": {"phase": "Ready"}}],
                "benches": [{"metadata": {"name": "shop"}, "spec": {},
                             "status": {"image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-sites"}}]}}},
                  {"ansible.builtin.copy": {"dest": str(out),
                                            "content": "{{ frappe_site_backup_objects | map(attribute='object') "
                                                       "| list | to_json }}"}}]}]))
    playbook_bin = str(Path(sys.executable).parent / "ansible-playbook")
    proc = subprocess.run([playbook_bin, str(playbook)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return dict((o["kind"], o) for o in json.loads(out.read_text()))


@pytest.fixture
def site(tmp_path, mariadb_server):
    image = ImageBench(tmp_path / "image")
    made = subprocess.run([str(image.bin / "bench"), "new-site", SITE, "--db-root-password",
                           mariadb_server.root_password, "--db-host", mariadb_server.host, "--db-port",
                           str(mariadb_server.port), "--no-mariadb-socket"], cwd=image.bench, capture_output=True,
                          text=True, env={"HARNESS_LOG": str(image.log), "HARNESS_MARIADB_REAL": "1", "PATH": "/usr/bin:/bin"},
                          check=False)
    assert made.returncode == 0, made.stderr
    db = json.loads((image.sites / SITE / "site_config.json").read_text())["db_name"]
    mariadb_server.sql("CREATE TABLE `%s`.`tabNote` (title VARCHAR(140)); INSERT INTO `%s`.`tabNote` VALUES "
                       "('kept through the backup')" % (db, db))
    (image.sites / SITE / "private" / "files" / "contract.txt").write_text("private file")
    return image


def run_backup(image, objects, kind, secrets, claims=None):
    job = objects[kind]
    if kind == "CronJob":
        job = {"spec": job["spec"]["jobTemplate"]["spec"]}
    container = pod_spec(job)["containers"][0]
    script = objects["ConfigMap"]
    run = run_container(image, job, container, secrets, timeout=120, harness_env={"HARNESS_MARIADB_REAL": "1"},
                        config_maps={script["metadata"]["name"]: script["data"]}, claims=claims)
    assert run.rc == 0, run.explain()
    return json.loads(run.stdout.strip().splitlines()[-1])


S3_KEYS = """
import json, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=sys.argv[2],
                  aws_secret_access_key=sys.argv[3], config=Config(s3={"addressing_style": "path"}))
if sys.argv[4] == "create":
    s3.create_bucket(Bucket="backups")
    print("{}")
elif sys.argv[4] == "put":
    s3.upload_file(sys.argv[6], "backups", sys.argv[5])
    print("{}")
elif sys.argv[4] == "fetch":
    s3.download_file("backups", sys.argv[5], sys.argv[6])
    print("{}")
else:
    print(json.dumps(sorted(o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="backups")
                            for o in p.get("Contents") or [])))
"""


def test_a_scheduled_run_backs_up_the_site_to_s3_encrypted_and_keeps_the_last_two(site, tmp_path, s3_server):
    def s3(*args):
        return bench_python.run(S3_KEYS, s3_server.endpoint, s3_server.access_key, s3_server.secret_key, *args)
    s3("create")
    objects = render(tmp_path, {
        "schedule": "0 2 * * *", "withFiles": True, "retention": {"keepLast": 2},
        "storage": {"type": "s3", "s3": {"bucket": "backups", "endpoint": s3_server.endpoint, "prefix": "prod",
                                         "forcePathStyle": True, "accessKeySecret": {"name": "s3", "key": "id"},
                                         "secretKeySecret": {"name": "s3", "key": "secret"}}}})
    secrets = {"s3": {"id": s3_server.access_key, "secret": s3_server.secret_key},
               "nightly-backup-key": {"passphrase": PASSPHRASE}}
    outcomes = []
    for _run in range(3):
        outcomes.append(run_backup(site, objects, "CronJob", secrets))
        time.sleep(1.1)  # a set's name is its start, to the second
    keys = s3("keys")
    sets = sorted(set(k.split("/")[3] for k in keys))
    assert sets == sorted(outcomes[-1]["kept"]) == sorted(o["set"] for o in outcomes[1:])
    assert outcomes[-1]["pruned"] == [outcomes[0]["set"]]
    newest = "prod/%s/%s/%s/" % (NAMESPACE, SITE, outcomes[-1]["set"])
    stored = sorted(k[len(newest):] for k in keys if k.startswith(newest))
    assert len(stored) == 5 and all(k.endswith(".gpg") for k in stored if k != "manifest.json")
    # The dump comes back with the passphrase and holds the site's data.
    dump_key = newest + next(k for k in stored if k.endswith("-database.sql.gz.gpg"))
    s3("fetch", dump_key, str(tmp_path / "dump.gpg"))
    (tmp_path / "passphrase").write_text(PASSPHRASE)
    plain = subprocess.run(["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--decrypt",
                            "--passphrase-file", str(tmp_path / "passphrase"), str(tmp_path / "dump.gpg")],
                           capture_output=True, check=True).stdout
    assert b"kept through the backup" in subprocess.run(["gunzip"], input=plain, capture_output=True, check=True).stdout
    s3("fetch", newest + "manifest.json", str(tmp_path / "manifest.json"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {"app": "erpnext", "version": "15.45.0"} in manifest["apps"] and manifest["siteBackup"] == "nightly"


def test_a_one_off_backup_to_the_sites_backups_volume_is_stored_whole_and_unencrypted(site, tmp_path, s3_server):
    objects = render(tmp_path, {})
    assert set(objects) == {"ConfigMap", "PersistentVolumeClaim", "Job"}
    volume = tmp_path / "backups-volume"
    volume.mkdir()
    outcome = run_backup(site, objects, "Job", {}, claims={"erp-backups": str(volume)})
    stored = volume / NAMESPACE / SITE / outcome["set"]
    assert outcome["kept"] == [outcome["set"]] and stored.is_dir()
    assert sorted(p.name.split("-", 2)[-1] for p in stored.iterdir()) == [
        "database.sql.gz", "manifest.json", "site_config_backup.json"]


def test_deleting_a_sitebackup_with_delete_deletes_its_sets_and_no_others(site, tmp_path, s3_server):
    def s3(*args):
        return bench_python.run(S3_KEYS, s3_server.endpoint, s3_server.access_key, s3_server.secret_key, *args)
    s3("create")
    storage = {"type": "s3", "s3": {"bucket": "backups", "endpoint": s3_server.endpoint, "forcePathStyle": True,
                                    "accessKeySecret": {"name": "s3", "key": "id"},
                                    "secretKeySecret": {"name": "s3", "key": "secret"}}}
    secrets = {"s3": {"id": s3_server.access_key, "secret": s3_server.secret_key},
               "nightly-backup-key": {"passphrase": PASSPHRASE}}
    spec = {"schedule": "0 2 * * *", "deletionPolicy": "Delete", "storage": storage}
    for _run in range(2):
        run_backup(site, render(tmp_path, spec), "CronJob", secrets)
        time.sleep(1.1)
    # Another SiteBackup's set of the same site, and an upload that never finished: not this one's to delete.
    (tmp_path / "other.json").write_text(json.dumps({"siteBackup": "weekly"}))
    s3("put", "%s/%s/20260101T000000Z/manifest.json" % (NAMESPACE, SITE), str(tmp_path / "other.json"))
    s3("put", "%s/%s/20260102T000000Z/partial.sql.gz" % (NAMESPACE, SITE), str(tmp_path / "other.json"))
    # What the API server holds once the SiteBackup is deleted, with the status its reconciles recorded.
    objects = render(tmp_path, spec, metadata={"name": "nightly", "namespace": NAMESPACE,
                                               "deletionTimestamp": "2026-12-03T12:00:00Z",
                                               "finalizers": ["vyogo.tech/backup-cleanup"]},
                     status={"frappeSite": "erp", "siteName": SITE, "image": "docker.io/frappe/erpnext:v15.45.0"})
    assert set(objects) == {"ConfigMap", "Job"} and objects["Job"]["metadata"]["name"] == "nightly-forget-sets"
    assert "ownerReferences" not in objects["Job"]["metadata"]
    job = objects["Job"]
    assert "sites" not in [v["name"] for v in pod_spec(job)["volumes"]], "deleting sets needs no sites volume"
    run = run_container(site, job, pod_spec(job)["containers"][0], secrets, timeout=120,
                        config_maps={objects["ConfigMap"]["metadata"]["name"]: objects["ConfigMap"]["data"]})
    assert run.rc == 0, run.explain()
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(outcome["deleted"]) == 2
    assert sorted(k.split("/")[2] for k in s3("keys")) == ["20260101T000000Z", "20260102T000000Z"]
