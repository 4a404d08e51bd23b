"""The backup Job's store step against a real S3 server, with real gpg, in the bench image's Python.

plugins/module_utils/frappe/backup_sets.py runs as the Job runs it
(`python backup_sets.py store SOURCE CONFIG`) on what `bench backup` leaves
in a directory, named as frappe/utils/backups.py BackupGenerator names its
files. Older sets are laid into the bucket first, as earlier nights would
have left them, so retention is judged over a calendar.
"""

import datetime
import gzip
import io
import json
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import retention
from support import REPO

sys.path.insert(0, str(REPO / "tests" / "harness"))
import bench_python  # noqa: E402

pytestmark = [pytest.mark.s3]

SCRIPT = REPO / "plugins" / "module_utils" / "frappe" / "backup_sets.py"
STORE = ("import sys; sys.path.insert(0, sys.argv[1]); import backup_sets; "
         "code, text = backup_sets.run(sys.argv[2:]); print(text); sys.exit(code)")
SITE, NAMESPACE, BACKUP = "erp.example.com", "shop", "nightly"
ENCRYPTION_KEY = "uE7pLq0mR3aVx9Zc2Yt5Wb8Nh1Kd4Gf6Js0Qo3Ue7I="

# Runs in the bench image's Python: seed, list and fetch objects. argv: endpoint, key, secret, action, ...
S3_TOOL = """
import json, sys
import boto3
from botocore.config import Config
endpoint, key, secret, action = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                  aws_secret_access_key=secret, config=Config(s3={"addressing_style": "path"}))
if action == "seed":
    s3.create_bucket(Bucket="backups")
    for obj in json.loads(sys.argv[5]):
        s3.put_object(Bucket="backups", Key=obj["key"], Body=obj["body"].encode())
    print("{}")
elif action == "keys":
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="backups")
            for o in page.get("Contents") or []]
    print(json.dumps(sorted(keys)))
elif action == "fetch":
    s3.download_file("backups", sys.argv[5], sys.argv[6])
    print("{}")
"""


def s3_tool(server, action, *args):
    return bench_python.run(S3_TOOL, server.endpoint, server.access_key, server.secret_key, action, *args)


def bench_backup_output(directory, taken=datetime.datetime(2026, 12, 3, 2, 15, 3), with_files=True):
    """What `bench --site erp.example.com backup [--with-files]` leaves (BackupGenerator's names)."""
    stem = "%s-%s" % (taken.strftime("%Y%m%d_%H%M%S"), SITE.replace(".", "_"))
    (directory / ("%s-database.sql.gz" % stem)).write_bytes(gzip.compress(b"CREATE TABLE `tabNote` (x int);\n"))
    (directory / ("%s-site_config_backup.json" % stem)).write_text(json.dumps(
        {"db_name": "_3f2a", "db_password": "secret-db", "encryption_key": ENCRYPTION_KEY}))
    if with_files:
        for kind in ("files", "private-files"):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                data = b"attachment of " + kind.encode()
                info = tarfile.TarInfo("%s/%s/note.txt" % (SITE, kind))
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            (directory / ("%s-%s.tar" % (stem, kind))).write_bytes(buffer.getvalue())
    return stem


def earlier_sets(nights, backup=BACKUP, end=datetime.datetime(2026, 12, 2, 2, 15)):
    """The objects `nights` earlier nightly runs of a SiteBackup left (a manifest and a dump each)."""
    objects = []
    for night in range(nights):
        stamp = (end - datetime.timedelta(days=night)).strftime("%Y%m%dT%H%M%SZ")
        prefix = "prod/%s/%s/%s/" % (NAMESPACE, SITE, stamp)
        objects.append({"key": prefix + "database.sql.gz.gpg", "body": "old dump"})
        objects.append({"key": prefix + "manifest.json", "body": json.dumps(
            {"format": 1, "siteBackup": backup, "set": stamp, "site": SITE, "namespace": NAMESPACE})})
    return objects


def run_store(server, source, tmp_path, retention, access_key=None, secret_key=None, bucket="backups"):
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "namespace": NAMESPACE, "site": SITE, "backup": BACKUP, "prefix": "prod", "retention": retention,
        "passphraseFile": str(passphrase), "apps": [{"app": "frappe", "version": "15.45.0"}],
        "storage": {"type": "s3", "s3": {"bucket": bucket, "endpoint": server.endpoint, "region": "us-east-1",
                                         "forcePathStyle": True}}}))
    # As the Job's script calls it (roles/frappe_site_backup/files/site-backup.sh).
    proc = bench_python.run(STORE, SCRIPT.parent, "store", source, config, check=False,
                            env={"AWS_ACCESS_KEY_ID": access_key or server.access_key,
                                 "AWS_SECRET_ACCESS_KEY": secret_key or server.secret_key})
    return proc, json.loads(proc.stdout.strip().splitlines()[-1]), passphrase


def test_a_set_is_stored_encrypted_with_its_manifest_and_retention_prunes_only_this_backups_old_sets(
        s3_server, tmp_path):
    s3_tool(s3_server, "seed", json.dumps(
        earlier_sets(40) + earlier_sets(3, backup="weekly", end=datetime.datetime(2026, 12, 2, 3, 30))
        # An upload that never finished (no manifest): not this policy's to judge.
        + [{"key": "prod/%s/%s/20260101T000000Z/database.sql.gz.gpg" % (NAMESPACE, SITE), "body": "x"}]))
    source = tmp_path / "backup"
    source.mkdir()
    bench_backup_output(source)
    written = sorted(p.name for p in source.iterdir())
    proc, outcome, passphrase = run_store(s3_server, source, tmp_path, {"keepDaily": 7, "keepMonthly": 3})
    assert proc.returncode == 0, proc.stderr
    new = outcome["set"]
    prefix = "prod/%s/%s/%s/" % (NAMESPACE, SITE, new)
    keys = s3_tool(s3_server, "keys")
    # Each of the four files bench backup wrote, encrypted, and the manifest.
    assert len(written) == 4
    assert sorted(k[len(prefix):] for k in keys if k.startswith(prefix)) == sorted(
        [name + ".gpg" for name in written] + ["manifest.json"])
    assert outcome["location"] == "s3://backups/" + prefix
    # Seven nights (the new one among them) and the newest set of each of the last three months: 8 of 41.
    ours = [obj["key"].split("/")[3] for obj in earlier_sets(40) if obj["key"].endswith("manifest.json")] + [new]
    keep, prune = retention(ours, {"keepDaily": 7, "keepMonthly": 3})
    assert (outcome["kept"], outcome["pruned"]) == (sorted(keep, reverse=True), prune)
    assert new in outcome["kept"] and len(outcome["kept"]) == 8
    for stamp in outcome["pruned"]:
        assert not [k for k in keys if "/%s/" % stamp in k]
    # The other SiteBackup's sets and the unfinished upload are left alone.
    assert len([k for k in keys if k.endswith("manifest.json")]) == len(outcome["kept"]) + 3
    assert "prod/%s/%s/20260101T000000Z/database.sql.gz.gpg" % (NAMESPACE, SITE) in keys

    # The manifest checks out, and the encrypted site config gives back the encryption key with the passphrase.
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    s3_tool(s3_server, "fetch", prefix + "manifest.json", fetched / "manifest.json")
    manifest = json.loads((fetched / "manifest.json").read_text())
    assert manifest["encrypted"] and manifest["siteBackup"] == BACKUP and manifest["apps"][0]["app"] == "frappe"
    config_entry = next(f for f in manifest["files"] if f["kind"] == "site_config_backup")
    s3_tool(s3_server, "fetch", prefix + config_entry["name"], fetched / "config.gpg")
    stored = (fetched / "config.gpg").read_bytes()
    assert ENCRYPTION_KEY.encode() not in stored and len(stored) == config_entry["size"]
    plain = subprocess.run(["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--decrypt",
                            "--passphrase-file", str(passphrase), str(fetched / "config.gpg")],
                           capture_output=True, check=True).stdout
    assert json.loads(plain)["encryption_key"] == ENCRYPTION_KEY


def test_wrong_credentials_or_a_missing_bucket_say_so_and_delete_nothing(s3_server, tmp_path):
    s3_tool(s3_server, "seed", json.dumps(earlier_sets(10)))
    before = s3_tool(s3_server, "keys")
    source = tmp_path / "backup"
    source.mkdir()
    bench_backup_output(source, with_files=False)
    proc, outcome = run_store(s3_server, source, tmp_path, {"keepLast": 1}, secret_key="wrong")[:2]
    assert proc.returncode == 1 and "SignatureDoesNotMatch" in outcome["error"] and "bucket backups" in outcome["error"]
    # SeaweedFS would create the bucket on the first upload, where S3 refuses it: the store asks first.
    proc, outcome = run_store(s3_server, source, tmp_path, {"keepLast": 1}, bucket="missing")[:2]
    assert proc.returncode == 1 and "NoSuchBucket" in outcome["error"] and "spec.storage.s3.bucket" in outcome["error"]
    assert s3_tool(s3_server, "keys") == before
    # Nothing for the secret key to be read from: the passphrase and credentials never reach the output.
    assert "wrong" not in proc.stdout + proc.stderr


def test_a_run_that_left_no_database_dump_stores_nothing(s3_server, tmp_path):
    s3_tool(s3_server, "seed", json.dumps(earlier_sets(2)))
    before = s3_tool(s3_server, "keys")
    source = tmp_path / "backup"
    source.mkdir()
    stem = bench_backup_output(source, with_files=False)
    (source / ("%s-database.sql.gz" % stem)).unlink()
    proc, outcome = run_store(s3_server, source, tmp_path, {"keepLast": 1})[:2]
    assert proc.returncode == 1 and outcome == {"error": "bench backup left no database dump in %s" % source}
    assert s3_tool(s3_server, "keys") == before
