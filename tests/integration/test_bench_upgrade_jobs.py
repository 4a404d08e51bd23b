"""A bench upgrade's Jobs, rendered by the bench role and run as the kubelet would run them, against real servers.

Render mode is told what the processes run and what the bench's image
carries (-e frappe_render_upgrade): it renders a migrate Job per site of the
bench in the manifest (upgrade.py). Each runs files/migrate-site.sh on "the new image" (the
stand-ins of tests/harness/podscripts.py at HARNESS_FRAPPE_VERSION, which
cite the Frappe functions they imitate) against a real MariaDB and Redis:
maintenance on, bench migrate, the outcome the upgrade record reads. A
migrate that fails midway leaves its site in maintenance. Then the end of the
upgrade (files/finish-upgrade.sh): out of maintenance only the sites the
upgrade put there, and each site's keys gone from the cache Redis.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from support import REPO

sys.path.insert(0, str(REPO / "tests" / "harness"))
from podscripts import ImageBench, pod_spec, render, run_container  # noqa: E402

from test_site_restore_job import new_site, site_config  # noqa: E402

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]

IMAGE = "docker.io/frappe/erpnext:version-15"
RUNNING = "docker.io/frappe/erpnext@sha256:" + "11" * 32
NEW_DIGEST = "sha256:" + "22" * 32
BEFORE = {"frappe": "15.55.1", "erpnext": "15.45.0"}
AFTER = {"frappe": "15.60.0", "erpnext": "15.45.0"}
SITES = ("a.example.com", "b.example.com", "broken.example.com")


# The bench runs BEFORE; the tag it names moved to AFTER.
UPGRADE = {"versions": AFTER, "digest": NEW_DIGEST, "running": {"image": RUNNING, "versions": BEFORE}}


def bench_object():
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": "shop", "namespace": "shop"},
            "spec": {"frappeVersion": "version-15"}}


def site_object(site_name):
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite",
            "metadata": {"name": site_name.split(".")[0], "namespace": "shop"},
            "spec": {"benchRef": {"name": "shop"}, "siteName": site_name,
                     "dbConfig": {"connectionSecretRef": {"name": "db-admin"}}}}


@pytest.fixture
def world(tmp_path, mariadb_server, redis_server):
    image = ImageBench(tmp_path / "image")
    (image.sites / "common_site_config.json").write_text(json.dumps({
        "redis_cache": "redis://%s" % redis_server.address, "redis_queue": "redis://%s" % redis_server.address}))
    apps = sorted(p.name for p in (image.bench / "apps").iterdir())
    (image.sites / "apps.txt").write_text("".join(app + "\n" for app in apps))
    dbs = dict((name, new_site(image, mariadb_server, name)["db_name"]) for name in SITES)
    objects = render(tmp_path / "render", bench_object(), *[site_object(s) for s in SITES],
                     extra_vars={"frappe_render_upgrade": UPGRADE})
    jobs = dict((pod_spec(o)["containers"][0]["env"][0]["value"], o) for o in objects
                if o["kind"] == "Job" and o["metadata"]["labels"]["app.kubernetes.io/component"] == "upgrade")
    return {"image": image, "dbs": dbs, "jobs": jobs, "cache": redis.Redis.from_url("redis://" + redis_server.address)}


def run(world, job, frappe_version=AFTER["frappe"]):
    return run_container(world["image"], job, pod_spec(job)["containers"][0], {}, timeout=120,
                         harness_env={"HARNESS_MARIADB_REAL": "1", "HARNESS_FRAPPE_VERSION": frappe_version})


def backups(world, site, key):
    return sorted((world["image"].sites / site / "private" / "upgrade-backups" / key).glob("*"))


def site_commands(result):
    return [c["argv"][2:4] for c in result.calls if c.get("program") == "bench" and c["argv"][:1] == ["--site"]]


def test_each_site_migrates_on_the_new_image_in_maintenance_and_the_end_lets_only_those_out(world, mariadb_server):
    jobs = world["jobs"]
    # Render mode renders the Job of every site the change migrates (one at a time in a cluster), on the new digest.
    assert sorted(jobs) == sorted(SITES)
    assert {pod_spec(j)["containers"][0]["image"] for j in jobs.values()} == {"docker.io/frappe/erpnext@" + NEW_DIGEST}
    assert all(j["spec"]["backoffLimit"] == 0 and j["spec"]["activeDeadlineSeconds"] == 3600 for j in jobs.values())

    # b was in maintenance before the upgrade (a person put it there).
    config = site_config(world["image"], "b.example.com")
    (world["image"].sites / "b.example.com" / "site_config.json").write_text(json.dumps(dict(config, maintenance_mode=1)))
    key = jobs["a.example.com"]["metadata"]["labels"]["vyogo.tech/upgrade"]
    outcomes = {}
    for site in ("a.example.com", "b.example.com"):
        result = run(world, jobs[site])
        assert result.rc == 0, result.explain()
        assert site_commands(result) == [["set-maintenance-mode", "on"], ["backup", "--ignore-backup-conf"],
                                         ["set-maintenance-mode", "on"], ["migrate"]]
        # The site as the old code left it, in the upgrade's own folder.
        assert [p.name.endswith("-database.sql.gz") for p in backups(world, site, key)].count(True) == 1
        # The outcome ends the log, as it is the termination message (bench version prints indented JSON).
        outcomes[site] = json.loads(result.stdout[result.stdout.rindex('{"maintenanceWasOn"'):])
        installed = mariadb_server.sql("SELECT app_name, app_version FROM `%s`.`tabInstalled Application` "
                                       "ORDER BY app_name" % world["dbs"][site])
        assert "frappe\t15.60.0" in installed, installed
        assert site_config(world["image"], site)["maintenance_mode"] == 1
    assert outcomes["a.example.com"]["maintenanceWasOn"] is False
    assert outcomes["b.example.com"]["maintenanceWasOn"] is True
    assert dict((v["app"], v["version"]) for v in outcomes["a.example.com"]["versions"]) == AFTER
    # Run again (a retry after its Job was deleted), it keeps the first backup: the one before any migrate.
    again = run(world, jobs["a.example.com"])
    assert again.rc == 0 and site_commands(again) == [["set-maintenance-mode", "on"], ["migrate"]], again.explain()
    # The dump, the copy of site_config.json and the note of whether maintenance was on before.
    assert len(backups(world, "a.example.com", key)) == 3

    # A migrate that fails midway (the table its update_versions writes is gone): the Job fails, the site stays in
    # maintenance, and the log the status shows says why.
    mariadb_server.sql("DROP TABLE `%s`.`tabInstalled Application`" % world["dbs"]["broken.example.com"])
    broken = run(world, jobs["broken.example.com"])
    assert broken.rc != 0 and "ProgrammingError" in broken.stdout + broken.stderr, broken.explain()
    assert [p for p in backups(world, "broken.example.com", key) if p.name.endswith("-database.sql.gz")]
    assert site_config(world["image"], "broken.example.com")["maintenance_mode"] == 1

    # The end of the upgrade: a out of maintenance, b left as its person had it, every site's cache cleared, and
    # the bundle map the old code's pods cached for the whole bench (a shared key, which clear-cache leaves).
    cache = world["cache"]
    for site in ("a.example.com", "b.example.com"):
        cache.set("%s|bootinfo" % world["dbs"][site], "old code's boot")
    cache.set("assets_json", "{}")
    finish = json.loads(json.dumps(jobs["a.example.com"]))
    container = pod_spec(finish)["containers"][0]
    container["args"][2] = (REPO / "roles" / "frappe_bench" / "files" / "finish-upgrade.sh").read_text()
    container["env"] = [{"name": "OUT_OF_MAINTENANCE", "value": "a.example.com"},
                        {"name": "SITES", "value": "a.example.com b.example.com"},
                        {"name": "UPGRADE_KEY", "value": key}]
    earlier = world["image"].sites / "a.example.com" / "private" / "upgrade-backups" / "0123456789"
    earlier.mkdir(parents=True)
    (earlier / "20261101_020000-a_example_com-database.sql.gz").write_bytes(b"an earlier upgrade's")
    done = run(world, finish)
    assert done.rc == 0, done.explain()
    assert site_commands(done) == [["set-maintenance-mode", "off"], ["clear-cache"], ["clear-cache"]]
    assert site_config(world["image"], "a.example.com")["maintenance_mode"] == 0
    assert site_config(world["image"], "b.example.com")["maintenance_mode"] == 1
    assert cache.keys("*|bootinfo") == [] and cache.get("assets_json") is None
    # The backups of this upgrade are the way back now; an earlier upgrade's are gone.
    assert not earlier.exists() and backups(world, "a.example.com", key)


def rendered_rollbacks(tmp_path, key, sites):
    """The Jobs render mode gives a bench whose upgrade `key` found a failed migrate and rolls back: a restore of each
    site in `sites` (entry phase Migrated or Failed) on the image the processes ran before."""
    bench = bench_object()
    # What a bench that runs BEFORE reports once the configuration Job of the moved tag found AFTER, and a migrate
    # of that upgrade failed.
    bench["status"] = {"image": RUNNING, "appVersions": BEFORE,
                       "imageProbe": {"reference": IMAGE, "digest": NEW_DIGEST, "versions": AFTER, "job": "x"}}
    bench["status"]["upgrade"] = {
        "key": key, "phase": "RollingBack", "from": {"image": RUNNING, "versions": BEFORE},
        "to": {"image": "docker.io/frappe/erpnext@" + NEW_DIGEST, "versions": AFTER},
        "sites": dict((s.split(".")[0], {"siteName": s, "phase": phase}) for s, phase in sites.items())}
    sites = [dict(site_object(s), status={"conditions": [{"type": "SiteCreated", "status": "True"}]}) for s in SITES]
    objects = render(tmp_path, bench, *sites)
    return dict((pod_spec(o)["containers"][0]["env"][0]["value"], o) for o in objects
                if o["kind"] == "Job" and pod_spec(o)["containers"][0]["name"] == "rollback")


def installed(mariadb_server, db):
    return mariadb_server.sql("SELECT app_name, app_version FROM `%s`.`tabInstalled Application` ORDER BY app_name" % db)


def test_a_rollback_restores_each_migrated_site_from_its_backup_on_the_old_image(world, mariadb_server, tmp_path):
    jobs, dbs = world["jobs"], world["dbs"]
    key = jobs["a.example.com"]["metadata"]["labels"]["vyogo.tech/upgrade"]
    # broken was in maintenance before the upgrade (a person put it there).
    config = site_config(world["image"], "broken.example.com")
    (world["image"].sites / "broken.example.com" / "site_config.json").write_text(
        json.dumps(dict(config, maintenance_mode=1)))
    before = dict((s, installed(mariadb_server, dbs[s])) for s in ("a.example.com", "broken.example.com"))
    mariadb_server.sql("INSERT INTO `%s`.`tabDefaultValue` (name, parent, defkey, defvalue) VALUES "
                       "('kept', '__default', 'kept_before_the_upgrade', '1')" % dbs["a.example.com"])
    assert run(world, jobs["a.example.com"]).rc == 0
    # a's System Settings have encrypt_backup: Frappe encrypts the dump in place with the site's key
    # (frappe/utils/backups.py backup_encryption: gpg -c, then the .gpg renamed over it, named -enc).
    dump, = [p for p in backups(world, "a.example.com", key) if p.name.endswith("-database.sql.gz")]
    config = site_config(world["image"], "a.example.com")
    (world["image"].sites / "a.example.com" / "site_config.json").write_text(
        json.dumps(dict(config, backup_encryption_key="a-site-key")))
    (tmp_path / "gnupg").mkdir(mode=0o700)
    gpg_env = {"GNUPGHOME": str(tmp_path / "gnupg"), "PATH": "/usr/bin:/bin"}
    subprocess.run(["gpg", "--batch", "--yes", "--passphrase", "a-site-key", "--pinentry-mode", "loopback", "-c",
                    str(dump)], check=True, capture_output=True, env=gpg_env)
    dump.unlink()
    Path(str(dump) + ".gpg").rename(str(dump).replace("-database.sql.gz", "-database-enc.sql.gz"))
    # What the new code's migrate made: a table of a new DocType.
    mariadb_server.sql("CREATE TABLE `%s`.`tabNew Thing` (name varchar(140))" % dbs["a.example.com"])
    assert "frappe\t15.60.0" in installed(mariadb_server, dbs["a.example.com"])
    # broken's migrate fails midway: a patch of the new code raises after its DocTypes were synced.
    broken = run_container(world["image"], jobs["broken.example.com"],
                           pod_spec(jobs["broken.example.com"])["containers"][0], {}, timeout=120,
                           harness_env={"HARNESS_MARIADB_REAL": "1", "HARNESS_FRAPPE_VERSION": AFTER["frappe"],
                                        "HARNESS_MIGRATE_FAILING_PATCH": "erpnext.patches.v15_0.new_thing"})
    assert broken.rc != 0 and "new_thing" in broken.stdout, broken.explain()
    assert "tabNew Thing" in mariadb_server.sql("SHOW TABLES FROM `%s`" % dbs["broken.example.com"])
    # b's migrate died in its backup (a killed pod): its migrate never ran.
    died = run_container(world["image"], jobs["b.example.com"], pod_spec(jobs["b.example.com"])["containers"][0], {},
                         timeout=120, harness_env={"HARNESS_MARIADB_REAL": "1", "HARNESS_BACKUP_DIE_AFTER": "dump",
                                                   "HARNESS_FRAPPE_VERSION": AFTER["frappe"]})
    assert died.rc != 0 and not backups(world, "b.example.com", key), died.explain()

    restores = rendered_rollbacks(tmp_path / "rollback", key, {
        "a.example.com": "Migrated", "broken.example.com": "Failed", "b.example.com": "Failed"})
    assert sorted(restores) == ["a.example.com", "b.example.com", "broken.example.com"]
    assert {pod_spec(j)["containers"][0]["image"] for j in restores.values()} == {RUNNING}
    for site in ("a.example.com", "broken.example.com", "b.example.com"):
        result = run(world, restores[site], frappe_version=BEFORE["frappe"])
        assert result.rc == 0, result.explain()
        if site != "b.example.com":
            assert site_commands(result)[0] == ["mariadb"], result.explain()
    # Each schema is the old code's again: a's versions and data, not the tables the migrates made.
    assert [installed(mariadb_server, dbs[s]) for s in before] == list(before.values())
    assert "tabNew Thing" not in mariadb_server.sql("SHOW TABLES FROM `%s`" % dbs["broken.example.com"])
    assert "kept_before_the_upgrade" in mariadb_server.sql("SELECT defkey FROM `%s`.`tabDefaultValue`" % dbs["a.example.com"])
    assert "tabNew Thing" not in mariadb_server.sql("SHOW TABLES FROM `%s`" % dbs["a.example.com"])
    # Out of maintenance but where a person had put it; b's half-written dump was never loaded.
    assert [site_config(world["image"], s)["maintenance_mode"] for s in
            ("a.example.com", "broken.example.com", "b.example.com")] == [0, 1, 0]
    assert "mariadb" not in [c[0] for c in site_commands(run(world, restores["b.example.com"]))]
    # The backup loaded is set aside: run again, a restore loads nothing more (the site may be served by then), and
    # the upgrade tried again takes a backup of its own.
    assert not backups(world, "a.example.com", key)
    assert (world["image"].sites / "a.example.com" / "private" / "upgrade-backups" / (key + ".restored")).is_dir()
    again = run(world, restores["a.example.com"], frappe_version=BEFORE["frappe"])
    assert again.rc == 0 and site_commands(again) == [["set-maintenance-mode", "off"], ["clear-cache"]], again.explain()
    assert installed(mariadb_server, dbs["a.example.com"]) == before["a.example.com"]


def test_a_site_migration_migrates_one_site_on_the_code_its_bench_runs_and_takes_it_out_of_maintenance(
        world, mariadb_server, tmp_path):
    """A SiteMigration's Job (roles/frappe_site_migration), rendered with its bench and site: the bench role's
    migrate with FINISH, on the image the bench runs."""
    migration = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteMigration",
                 "metadata": {"name": "now", "namespace": "shop"}, "spec": {"siteRef": {"name": "a"}}}
    objects = render(tmp_path / "migration", bench_object(), *[site_object(s) for s in SITES], migration)
    job, = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "now-migrate"]
    assert job["spec"]["backoffLimit"] == 0 and job["metadata"]["labels"]["vyogo.tech/site-migration"] == "now"
    result = run(world, job, frappe_version=BEFORE["frappe"])
    assert result.rc == 0, result.explain()
    assert site_commands(result) == [["set-maintenance-mode", "on"], ["backup", "--ignore-backup-conf"],
                                     ["set-maintenance-mode", "on"], ["migrate"], ["set-maintenance-mode", "off"],
                                     ["clear-cache"]]
    assert site_config(world["image"], "a.example.com")["maintenance_mode"] == 0
    assert [p.name for p in backups(world, "a.example.com", "site-migration-now") if p.name.endswith(
        "-database.sql.gz")]
    outcome = json.loads(result.stdout[result.stdout.rindex('{"maintenanceWasOn"'):])
    assert dict((v["app"], v["version"]) for v in outcome["versions"]) == BEFORE
