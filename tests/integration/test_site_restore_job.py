"""A SiteRestore's Job, rendered by its role and run as the kubelet would run it, against real servers.

The round trip users rely on: a scheduled SiteBackup's Job (from its
CronJob's template) stores encrypted sets in a real S3 server night after
night, retention prunes them, then a SiteRestore's Job fetches the set it
names, checks and decrypts it with the bench image's Python and real gpg, and
the `bench restore` stand-in (frappe/commands/site.py restore, cited in
tests/harness/podscripts.py) loads it into a real MariaDB. Then the site's
encryption key, maintenance mode and the refusals that must touch nothing.
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

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import unseal_key  # noqa: E402

pytestmark = [pytest.mark.mariadb, pytest.mark.s3, pytest.mark.redis]

SITE, NAMESPACE = "erp.example.com", "shop"
PASSPHRASE = "correct horse battery staple"
BENCH = {"metadata": {"name": "shop"}, "spec": {},
         "status": {"image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-sites"}}


def frappe_site(name, site_name):
    return {"metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"benchRef": {"name": "shop"}, "siteName": site_name,
                     "dbConfig": {"connectionSecretRef": {"name": "db-admin"}}},
            "status": {"phase": "Ready"}}


SITES = [frappe_site("erp", SITE), frappe_site("moved", "moved.example.com")]


def render(tmp_path, role, obj, live):
    """The objects role `role` renders for `obj` (render mode), by kind."""
    short = role.replace("frappe_site_", "")
    playbook = tmp_path / ("render-%s.yml" % short)
    out = tmp_path / ("%s-objects.json" % short)
    include = {"ansible.builtin.include_role": {"name": "vyogotech.frappe." + role}, "vars": {
        role + "_mode": "render", "_vyogo_tech_site" + short: obj, role + "_render_live": live}}
    copy = {"ansible.builtin.copy": {"dest": str(out),
                                     "content": "{{ %s_objects | map(attribute='object') | list | to_json }}" % role}}
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": [include, copy]}]))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return dict((o["kind"], o) for o in json.loads(out.read_text()))


S3_SPEC = {"bucket": "backups", "prefix": "prod", "forcePathStyle": True,
           "accessKeySecret": {"name": "s3", "key": "id"}, "secretKeySecret": {"name": "s3", "key": "secret"}}
BACKUP = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteBackup",
          "metadata": {"name": "nightly", "namespace": NAMESPACE},
          "spec": {"site": "erp", "schedule": "0 2 * * *", "withFiles": True, "retention": {"keepLast": 2},
                   "storage": {"type": "s3", "s3": S3_SPEC}}}


def site_restore(**spec):
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteRestore",
            "metadata": {"name": "back", "namespace": NAMESPACE}, "spec": dict({"site": "erp"}, **spec)}


def new_site(image, mariadb_server, name):
    made = subprocess.run([str(image.bin / "bench"), "new-site", name, "--db-root-password",
                           mariadb_server.root_password, "--db-host", mariadb_server.host, "--db-port",
                           str(mariadb_server.port), "--no-mariadb-socket"], cwd=image.bench, capture_output=True,
                          text=True, env={"HARNESS_LOG": str(image.log), "HARNESS_MARIADB_REAL": "1",
                                          "PATH": "/usr/bin:/bin"}, check=False)
    assert made.returncode == 0, made.stderr
    return site_config(image, name)


def store_a_password(image, name, key):
    """What Frappe does the first time a site encrypts or decrypts a password (frappe/utils/password.py
    get_encryption_key): a key generated once into its site_config.json (frappe/installer.py update_site_config)."""
    path = image.sites / name / "site_config.json"
    config = json.loads(path.read_text())
    config.setdefault("encryption_key", key)
    path.write_text(json.dumps(config, indent=1, sort_keys=True))
    return config


def site_config(image, name):
    return json.loads((image.sites / name / "site_config.json").read_text())


def notes(mariadb_server, image, name):
    db = site_config(image, name)["db_name"]
    return mariadb_server.sql("SELECT title FROM `%s`.`tabNote` ORDER BY title" % db).splitlines()


def run_job(image, objects, secrets, kind="Job", frappe_version="15.55.1"):
    """The Job's container on an image of Frappe `frappe_version` (the stand-ins' HARNESS_FRAPPE_VERSION)."""
    job = objects[kind]
    if kind == "CronJob":
        job = {"spec": job["spec"]["jobTemplate"]["spec"]}
    script = objects["ConfigMap"]
    return run_container(image, job, pod_spec(job)["containers"][0], secrets, timeout=180,
                         harness_env={"HARNESS_MARIADB_REAL": "1", "HARNESS_FRAPPE_VERSION": frappe_version},
                         config_maps={script["metadata"]["name"]: script["data"]})


@pytest.fixture
def world(tmp_path, mariadb_server, s3_server, redis_server):
    """A site with a note, its backups bucket, and the Secrets of both."""
    image = ImageBench(tmp_path / "image")
    # The Redis the configuration Job names (bench migrate checks redis_cache answers before it starts).
    (image.sites / "common_site_config.json").write_text(json.dumps({
        "redis_cache": "redis://%s" % redis_server.address, "redis_queue": "redis://%s" % redis_server.address}))
    # What the bench's configuration Job writes first (configure-bench.sh: ls -1 apps > sites/apps.txt).
    apps = sorted(p.name for p in (image.bench / "apps").iterdir())
    (image.sites / "apps.txt").write_text("".join(app + "\n" for app in apps))
    db = new_site(image, mariadb_server, SITE)["db_name"]
    store_a_password(image, SITE, "the key of erp's stored passwords")
    mariadb_server.sql("CREATE TABLE `%s`.`tabNote` (title VARCHAR(140)); INSERT INTO `%s`.`tabNote` "
                       "VALUES ('night-0')" % (db, db))
    bench_python.run(S3_BUCKET, s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    secrets = {"s3": {"id": s3_server.access_key, "secret": s3_server.secret_key},
               "nightly-backup-key": {"passphrase": PASSPHRASE},
               "db-admin": {"username": "root", "password": mariadb_server.root_password}}
    spec = dict(S3_SPEC, endpoint=s3_server.endpoint)
    backup = dict(BACKUP, spec=dict(BACKUP["spec"], storage={"type": "s3", "s3": spec}))
    live = {"sites": SITES, "benches": [BENCH], "backups": [backup]}
    return {"image": image, "secrets": secrets, "live": live, "db": db}


S3_BUCKET = """
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=sys.argv[2],
                  aws_secret_access_key=sys.argv[3], config=Config(s3={"addressing_style": "path"}))
if len(sys.argv) == 4:
    s3.create_bucket(Bucket="backups")
else:
    for path in sys.argv[5:]:
        s3.upload_file(path, "backups", sys.argv[4] + os.path.basename(path))
print("{}")
"""


def nights(world, mariadb_server, tmp_path, count):
    """`count` scheduled runs, a note added before each: night-N is in set N."""
    image = world["image"]
    objects = render(tmp_path, "frappe_site_backup", world["live"]["backups"][0], world["live"])
    outcomes = []
    for night in range(count):
        if night:
            mariadb_server.sql("INSERT INTO `%s`.`tabNote` VALUES ('night-%d')" % (world["db"], night))
        run = run_job(image, objects, world["secrets"], kind="CronJob")
        assert run.rc == 0, run.explain()
        outcomes.append(json.loads(run.stdout.strip().splitlines()[-1]))
        time.sleep(1.1)  # a set's name is its start, to the second
    return outcomes


def bench_calls(run, *words):
    return [c["argv"] for c in run.calls if c.get("program") == "bench" and all(w in c["argv"] for w in words)]


def test_scheduled_backups_retention_then_a_restore_of_last_nights_set_round_trip(world, mariadb_server,
                                                                                  tmp_path):
    outcomes = nights(world, mariadb_server, tmp_path, 3)
    assert outcomes[-1]["kept"] == [outcomes[2]["set"], outcomes[1]["set"]]
    assert outcomes[-1]["pruned"] == [outcomes[0]["set"]]
    # The site loses its notes, on a bench upgraded since; the set of night 1 comes back, migrated.
    mariadb_server.sql("DELETE FROM `%s`.`tabNote`" % world["db"])
    objects = render(tmp_path, "frappe_site_restore",
                     site_restore(backupRef={"name": "nightly", "set": outcomes[1]["set"]}), world["live"])
    assert set(objects) == {"ConfigMap", "Job"}
    run = run_job(world["image"], objects, world["secrets"], frappe_version="15.60.0")
    assert run.rc == 0, run.explain()
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    print("round trip:", json.dumps({"sets": [o["set"] for o in outcomes], "kept": outcomes[-1]["kept"],
                                     "pruned": outcomes[-1]["pruned"], "restore": outcome}))
    assert outcome["set"] == outcomes[1]["set"] and outcome["encryptionKey"] == "restored"
    assert outcome["migrated"] and outcome["olderApps"] == ["frappe"]
    assert notes(mariadb_server, world["image"], SITE) == ["night-0", "night-1"]
    installed = mariadb_server.sql("SELECT app_name, app_version FROM `%s`.`tabInstalled Application`" % world["db"])
    assert "15.60.0" in installed, installed
    # Maintenance on around bench restore, off at the end; the set's files unpacked into the site.
    order = [c["argv"][2:4] for c in run.calls if c.get("program") == "bench" and c["argv"][:1] == ["--site"]]
    assert [step[0] for step in order] == ["set-maintenance-mode", "restore", "migrate", "set-maintenance-mode"]
    assert order[0][1] == "on" and order[-1][1] == "off"
    assert site_config(world["image"], SITE).get("maintenance_mode") in (0, None)
    restore_argv = bench_calls(run, "restore")[0]
    assert "--with-public-files" in restore_argv and "--with-private-files" in restore_argv
    assert PASSPHRASE not in run.stdout + run.stderr


def test_moving_a_site_into_a_new_frappesite_needs_force_and_keeps_the_new_sites_config(
        world, mariadb_server, tmp_path):
    outcomes = nights(world, mariadb_server, tmp_path, 1)
    new_site(world["image"], mariadb_server, "moved.example.com")
    before = store_a_password(world["image"], "moved.example.com", "the key of the new site's own passwords")
    restore = site_restore(site="moved", backupRef={"name": "nightly"})
    objects = render(tmp_path, "frappe_site_restore", restore, world["live"])
    run = run_job(world["image"], objects, world["secrets"])
    assert run.rc != 0
    assert "encryption_key differs" in run.stdout and "spec.force: true" in run.stdout
    assert not bench_calls(run, "set-maintenance-mode") and not bench_calls(run, "restore"), "refused before"
    assert site_config(world["image"], "moved.example.com") == before
    forced = render(tmp_path, "frappe_site_restore", dict(restore, spec=dict(restore["spec"], force=True)),
                    world["live"])
    # The one-time pad the role makes before the Job (k8s_secret_once) and unseals the replaced key with after it.
    pad = {"back-key-pad": {"pad": "p4dOfThisRestore" * 4}}
    run = run_job(world["image"], forced, dict(world["secrets"], **pad))
    assert run.rc == 0, run.explain()
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["set"] == outcomes[0]["set"] and outcome["encryptionKey"] == "replaced"
    assert before["encryption_key"] not in run.stdout + run.stderr, "the replaced key leaves the Job only sealed"
    assert unseal_key(outcome["previousKeySealed"], pad["back-key-pad"]["pad"]) == before["encryption_key"]
    after = site_config(world["image"], "moved.example.com")
    assert after["encryption_key"] == site_config(world["image"], SITE)["encryption_key"]
    assert after["db_name"] == before["db_name"], "the moved site keeps its own database"
    assert notes(mariadb_server, world["image"], "moved.example.com") == ["night-0"]
    kept = list((world["image"].sites / "moved.example.com").glob("site_config.before-restore.*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == before


def test_wrong_credentials_a_missing_bucket_or_newer_code_are_refused_touching_nothing(world, mariadb_server, tmp_path):
    nights(world, mariadb_server, tmp_path, 1)
    objects = render(tmp_path, "frappe_site_restore", site_restore(backupRef={"name": "nightly"}), world["live"])
    secrets = dict(world["secrets"], s3={"id": world["secrets"]["s3"]["id"], "secret": "wrong"})
    run = run_job(world["image"], objects, secrets)
    assert run.rc != 0 and "SignatureDoesNotMatch" in run.stdout + run.stderr, run.explain()
    assert not bench_calls(run, "set-maintenance-mode")
    live = json.loads(json.dumps(world["live"]))
    live["backups"][0]["spec"]["storage"]["s3"]["bucket"] = "nobucket"
    run = run_job(world["image"], render(tmp_path, "frappe_site_restore", site_restore(backupRef={"name": "nightly"}),
                                         live), world["secrets"])
    assert run.rc != 0 and "NoSuchBucket" in run.stdout + run.stderr, run.explain()
    # A set of newer code than the bench runs: its schema is ahead of the code.
    run = run_job(world["image"], objects, world["secrets"], frappe_version="15.50.0")
    assert run.rc != 0 and "newer code than the bench runs: frappe 15.55.1 (bench: 15.50.0)" in run.stdout
    assert not bench_calls(run, "set-maintenance-mode")
    assert notes(mariadb_server, world["image"], SITE) == ["night-0"]


def test_moving_a_site_in_from_files_of_another_server_in_a_bucket_and_on_the_volume(
        world, mariadb_server, tmp_path, s3_server):
    """The Go operator's sources: what `bench backup --with-files` left on another server, the dump and the
    site config uploaded to a bucket, the private files copied onto the sites volume."""
    image = world["image"]
    mariadb_server.sql("INSERT INTO `%s`.`tabNote` VALUES ('from the old server')" % world["db"])
    (image.sites / SITE / "private" / "files" / "contract.txt").write_text("a private file")
    elsewhere = tmp_path / "old-server"
    took = subprocess.run([str(image.bin / "bench"), "--site", SITE, "backup", "--with-files", "--backup-path",
                           str(elsewhere)], cwd=image.bench, capture_output=True, text=True, check=False,
                          env={"HARNESS_LOG": str(image.log), "HARNESS_MARIADB_REAL": "1", "PATH": "/usr/bin:/bin"})
    assert took.returncode == 0, took.stdout + took.stderr
    files = dict((p.name.split("-", 2)[-1], p) for p in elsewhere.iterdir())
    bench_python.run(S3_BUCKET, s3_server.endpoint, s3_server.access_key, s3_server.secret_key, "moving/",
                     str(files["database.sql.gz"]), str(files["site_config_backup.json"]), str(files["files.tar"]))
    on_volume = image.sites / "moved.example.com" / "private" / "backups"
    new_site(image, mariadb_server, "moved.example.com")
    on_volume.mkdir(parents=True, exist_ok=True)
    (on_volume / files["private-files.tar"].name).write_bytes(files["private-files.tar"].read_bytes())

    def s3(name):
        return {"s3": dict(S3_SPEC, endpoint=s3_server.endpoint, key="moving/" + files[name].name)}
    restore = site_restore(site="moved", databaseBackupSource=s3("database.sql.gz"),
                           publicFilesSource=s3("files.tar"),
                           siteConfigSource=s3("site_config_backup.json"),
                           privateFilesSource={"localPath": "sites/moved.example.com/private/backups/"
                                                            + files["private-files.tar"].name})
    run = run_job(image, render(tmp_path, "frappe_site_restore", restore, world["live"]), world["secrets"])
    assert run.rc == 0, run.explain()
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    # A site that never stored a password has no key of its own: the old server's comes in without force.
    assert outcome["encryptionKey"] == "restored" and outcome["set"] == ""
    assert site_config(image, "moved.example.com")["encryption_key"] == site_config(image, SITE)["encryption_key"]
    assert notes(mariadb_server, image, "moved.example.com") == ["from the old server", "night-0"]
    assert (image.sites / "moved.example.com" / "private" / "files" / "contract.txt").read_text() == "a private file"
    # Versions from the dump's header (no manifest): the same Frappe, so no migrate.
    assert not outcome["migrated"]
