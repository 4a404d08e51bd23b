"""Unit tests of site_migration: a SiteMigration's plan (refusals, waits, its Jobs) and its status."""

import json

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_migration import (
    migrating_sites, migration_plan, migration_reads, migration_status)

SETTINGS = {"api_version": "vyogo.tech/v1alpha1", "kind": "SiteMigration", "managed_by": "vyogotech.frappe"}
V1 = {"frappe": "15.55.1"}
V2 = {"frappe": "15.60.0"}


def migration(status=None, **spec):
    obj = {"metadata": {"name": "now", "namespace": "shop", "uid": "m-uid", "generation": 1},
           "spec": dict({"siteRef": {"name": "erp"}}, **spec)}
    if status:
        obj["status"] = status
    return obj


def site(versions=None, created=True):
    versions = versions or V1
    status = {"conditions": [{"type": "SiteCreated", "status": "True" if created else "False"}]}
    status["schema"] = {"job": "erp-site-1", "versions": versions}
    return {"metadata": {"name": "erp", "namespace": "shop"},
            "spec": {"benchRef": {"name": "shop"}, "siteName": "erp.example.com"}, "status": status}


def bench(versions=None, upgrade=None, on_failure=None):
    versions = versions or V2
    status = {"image": "docker.io/frappe/erpnext@sha256:" + "22" * 32, "sitesClaim": "shop-sites",
              "appVersions": versions}
    if upgrade:
        status["upgrade"] = upgrade
    spec = {"upgrade": {"onFailure": on_failure}} if on_failure else {}
    return {"metadata": {"name": "shop", "namespace": "shop"}, "spec": spec, "status": status}


def job(name, state=None, **status):
    conditions = [{"type": state, "status": "True", "lastTransitionTime": "2026-12-05T03:00:00Z"}] if state else []
    return {"metadata": {"name": name}, "status": dict({"conditions": conditions}, **status)}


def worker(replicas=1):
    return {"metadata": {"name": "shop-worker-short", "labels": {"vyogo.tech/bench": "shop"}},
            "spec": {"replicas": replicas}}


def live(**more):
    return dict({"sites": [site()], "benches": [bench()], "migrations": [], "jobs": [], "pods": [],
                 "worker_pods": [], "worker_deployments": [worker(0)]}, **more)


def plan_of(obj, read, mode="apply"):
    return migration_plan(obj, read, SETTINGS, mode=mode, migrate_script="migrate", rollback_script="rollback")


@pytest.mark.parametrize("spec, field", [
    ({"skipFixtures": True}, "spec.skipFixtures"),
    ({"siteRef": {"name": "erp", "namespace": "elsewhere"}}, "spec.siteRef.namespace"),
    ({"siteRef": {}}, "spec.siteRef.name"),
])
def test_what_cannot_be_done_is_refused_naming_the_field(spec, field):
    plan = plan_of(migration(**spec), live())
    assert plan["errors"] and field in plan["errors"][0] and "Nothing was changed." in plan["errors"][0]


@pytest.mark.parametrize("read, why", [
    (live(sites=[]), "FrappeSite erp is not in namespace shop"),
    (live(sites=[site(created=False)]), "is not created yet"),
    (live(benches=[bench(upgrade={"phase": "Migrating"})]), "FrappeBench shop is upgrading (Migrating)"),
    (live(migrations=[dict(migration(status={"phase": "Migrating"}), metadata={"name": "other"})]),
     "SiteMigration other migrates the same site"),
])
def test_it_waits_for_its_site_its_bench_and_any_other_migration_of_the_site(read, why):
    plan = plan_of(migration(), read)
    assert why in plan["waiting"] and plan["render"] == []
    status = migration_status(plan, read, migration())
    assert status["phase"] == "Pending" and why in status["status"]["message"] and status["converging"]


def test_a_site_already_made_for_its_bench_s_versions_is_not_migrated_unless_forced():
    read = live(sites=[site(versions=V2)])
    plan = plan_of(migration(), read)
    status = migration_status(plan, read, migration())
    assert status["phase"] == "Succeeded" and "nothing to migrate" in status["status"]["message"]
    assert plan["render"] == [] and not status["converging"] and status["site_schema"] is None
    forced = plan_of(migration(force=True), read)
    assert not forced["nothing_to_do"]


def test_the_workers_stop_first_then_one_job_migrates_and_the_site_records_its_versions():
    # First the SiteMigration says Migrating, which its bench reads to stop the workers.
    first = plan_of(migration(), live())
    status = migration_status(first, live(), migration())
    assert first["render"] == [] and status["phase"] == "Migrating" and migrating_sites(
        [migration(status=status["status"])]) == ["erp"]
    migrating = migration(status={"phase": "Migrating"})
    busy = live(worker_deployments=[worker(1)])
    assert plan_of(migrating, busy)["render"] == []
    assert "stop first (1 left)" in migration_status(plan_of(migrating, busy), busy, migrating)["status"]["message"]
    plan = plan_of(migrating, live())
    assert [(r["name"], r["vars"]["step"]) for r in plan["render"]] == [("now-migrate", "migrate")]
    assert plan["bench"]["image"].endswith("22" * 32) and plan["backup"] == (
        "sites/erp.example.com/private/upgrade-backups/site-migration-now")
    assert plan["labels"]["vyogo.tech/site-migration"] == "now" and plan["owner_references"][0]["uid"] == "m-uid"
    # Its Job runs, then completes: the site's schema is the versions the migrate reported.
    running = live(jobs=[job("now-migrate", startTime="2026-12-05T03:00:00Z")])
    assert plan_of(migrating, running)["render"] == []
    assert migration_status(plan_of(migrating, running), running, migrating)["phase"] == "Migrating"
    said = json.dumps({"maintenanceWasOn": False, "versions": [{"app": "frappe", "version": "15.60.0"}]})
    pod = {"metadata": {"labels": {"batch.kubernetes.io/job-name": "now-migrate"}},
           "status": {"phase": "Succeeded", "containerStatuses": [
               {"name": "migrate", "state": {"terminated": {"exitCode": 0, "message": said}}}]}}
    done = live(jobs=[job("now-migrate", "Complete", startTime="2026-12-05T03:00:00Z",
                          completionTime="2026-12-05T03:02:00Z")], pods=[pod])
    status = migration_status(plan_of(migrating, done), done, migrating)
    assert status["phase"] == "Succeeded" and status["status"]["completionTime"] == "2026-12-05T03:02:00Z"
    assert status["status"]["jobName"] == "now-migrate" and status["status"]["startTime"] == "2026-12-05T03:00:00Z"
    assert status["site_schema"] == {"job": "now-migrate", "versions": V2}
    assert status["conditions"] == [{"type": "Migrated", "status": "True", "reason": "Succeeded",
                                     "message": status["status"]["message"]}]
    # Once: a finished SiteMigration makes no other Job.
    finished = migration(status=dict(status["status"]))
    assert plan_of(finished, live())["done"] and plan_of(finished, live())["render"] == []


def test_a_failed_migrate_is_rolled_back_by_default_or_left_in_maintenance_with_halt():
    migrating = migration(status={"phase": "Migrating", "jobName": "now-migrate"})
    failed = live(jobs=[job("now-migrate", "Failed", startTime="2026-12-05T03:00:00Z")])
    plan = plan_of(migrating, failed)
    assert [(r["name"], r["vars"]["step"]) for r in plan["render"]] == [("now-rollback", "rollback")]
    assert migration_status(plan, failed, migrating)["phase"] == "Migrating"
    restored = live(jobs=failed["jobs"] + [job("now-rollback", "Complete", completionTime="2026-12-05T03:05:00Z")])
    status = migration_status(plan_of(migrating, restored), restored, migrating)
    assert status["phase"] == "Failed" and "restored from the backup" in status["status"]["message"]
    assert status["conditions"][1]["type"] == "RolledBack" and status["conditions"][1]["status"] == "True"
    assert status["status"]["completionTime"] == "2026-12-05T03:05:00Z" and status["site_schema"] is None
    halt = dict(failed, benches=[bench(on_failure="halt")])
    plan = plan_of(migrating, halt)
    status = migration_status(plan, halt, migrating)
    assert plan["render"] == [] and status["phase"] == "Failed" and "stays in maintenance" in status["status"][
        "message"]
    assert status["status"]["completionTime"] == "2026-12-05T03:00:00Z"


def test_render_mode_shows_the_migrate_job_of_a_site_of_the_manifest():
    plan = plan_of(migration(), {"sites": [site(created=False)], "benches": [bench()]}, mode="render")
    assert [r["name"] for r in plan["render"]] == ["now-migrate"] and plan["owner_references"] == []


def test_its_reads_and_the_workers_it_waits_for():
    keys = [r["key"] for r in migration_reads(migration())]
    assert keys == ["sites", "benches", "migrations", "jobs", "pods", "worker_pods", "worker_deployments"]
