"""Unit tests of site_migration: a SiteMigration's plan (refusals, waits, its Jobs) and its status."""

import json

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_migration import (
    migrating_sites, migration_plan, migration_reads, migration_status)
from role_settings import role_settings

SETTINGS = role_settings("frappe_site_migration", "frappe_site_migration_settings")
V1 = {"frappe": "15.55.1"}
V2 = {"frappe": "15.60.0"}


def migration(status=None, name="now", created="2026-12-05T02:00:00Z", **spec):
    obj = {"metadata": {"name": name, "namespace": "shop", "uid": "m-uid", "generation": 1,
                        "creationTimestamp": created},
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
    conditions = [{"type": state, "status": "True", "lastTransitionTime": "2026-12-05T03:01:00Z"}] if state else []
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
    (live(migrations=[migration(status={"phase": "Pending"}, name="earlier", created="2026-12-05T01:00:00Z")]),
     "SiteMigration earlier of the same site goes first"),
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
        "sites/erp.example.com/private/upgrade-backups/site-migration-now-m-uid")
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
    assert status["status"]["completionTime"] == "2026-12-05T03:01:00Z"    # when it failed


def test_render_mode_shows_the_migrate_job_of_a_site_of_the_manifest():
    plan = plan_of(migration(), {"sites": [site(created=False)], "benches": [bench()]}, mode="render")
    assert [r["name"] for r in plan["render"]] == ["now-migrate"] and plan["owner_references"] == []


def test_its_reads_and_the_workers_it_waits_for():
    keys = [r["key"] for r in migration_reads(migration())]
    assert keys == ["sites", "benches", "migrations", "jobs", "pods", "scaledobjects", "worker_pods",
                    "worker_deployments"]


def test_the_job_waits_for_keda_to_let_go_of_the_workers_and_for_their_pods_to_end():
    migrating = migration(status={"phase": "Migrating"})
    scaled = {"metadata": {"name": "shop-worker-short", "labels": {"vyogo.tech/bench": "shop"}}}
    held = live(scaledobjects=[scaled])
    assert plan_of(migrating, held)["render"] == [] and plan_of(migrating, held)["workers_left"] == 1
    paused = dict(scaled, metadata=dict(scaled["metadata"], annotations={"autoscaling.keda.sh/paused-replicas": "0"}))
    ended = {"metadata": {"name": "shop-worker-short-x", "labels": {"vyogo.tech/bench": "shop"}},
             "status": {"phase": "Failed"}}
    other_bench = {"metadata": {"name": "crm-worker-short-x", "labels": {"vyogo.tech/bench": "crm"}},
                   "status": {"phase": "Running"}}
    free = live(scaledobjects=[paused], worker_pods=[ended, other_bench])
    assert [r["name"] for r in plan_of(migrating, free)["render"]] == ["now-migrate"]


def test_once_started_nothing_stops_it_and_a_deleted_job_counts_as_a_failed_migrate():
    migrating = migration(status={"phase": "Migrating", "jobName": "now-migrate"})
    running = {"metadata": {"name": "now-migrate", "ownerReferences": [{"uid": "m-uid", "controller": True}]},
               "status": {"startTime": "2026-12-05T03:00:00Z"}}
    # Its bench starts upgrading meanwhile: the migrate under way is reported, and nothing waits.
    read = live(jobs=[running], benches=[bench(upgrade={"phase": "Migrating"})])
    plan = plan_of(migrating, read)
    assert not plan["waiting"] and migration_status(plan, read, migrating)["phase"] == "Migrating"
    # Its Job deleted (its pod killed midway): restored from its backup, never migrated again.
    plan = plan_of(migrating, live())
    assert [r["name"] for r in plan["render"]] == ["now-rollback"]
    assert "its Job was deleted before it ended" in migration_status(plan, live(), migrating)["status"]["message"]
    # Its site gone meanwhile: what the Job did is reported, nothing more starts.
    gone = live(sites=[], jobs=[dict(running, status={"conditions": [
        {"type": "Complete", "status": "True"}], "startTime": "2026-12-05T03:00:00Z"})])
    plan = plan_of(migrating, gone)
    status = migration_status(plan, gone, migrating)
    assert plan["render"] == [] and status["phase"] == "Succeeded" and status["site_schema"] is None
    # A Job of an earlier SiteMigration of the same name is not its own.
    stranger = dict(running, metadata=dict(running["metadata"], ownerReferences=[{"uid": "old", "controller": True}]))
    assert not plan_of(migration(), live(jobs=[stranger]))["done"]
    assert migration_status(plan_of(migration(), live(jobs=[stranger])), live(jobs=[stranger]),
                            migration())["status"]["jobName"] == ""


def test_a_schema_newer_than_the_bench_s_code_is_refused_and_a_long_name_too():
    read = live(sites=[site(versions={"frappe": "15.70.0"})])
    plan = plan_of(migration(), read)
    status = migration_status(plan, read, migration())
    assert plan["render"] == [] and status["phase"] == "Failed" and "frappe 15.70.0 -> 15.60.0" in status[
        "status"]["message"]
    assert not status["status"]["jobName"]     # tried again on the next reconcile, once the bench runs newer code
    long_name = plan_of(migration(name="m" * 55), live())
    assert long_name["errors"] and "metadata.name" in long_name["errors"][0]


def test_a_migrated_site_names_an_app_it_no_longer_has_with_null():
    migrating = migration(status={"phase": "Migrating", "jobName": "now-migrate"})
    done = live(sites=[site(versions={"frappe": "15.55.1", "hrms": "15.1.0"})], jobs=[
        {"metadata": {"name": "now-migrate"}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}])
    status = migration_status(plan_of(migrating, done), done, migrating)
    assert status["site_schema"]["versions"] == {"frappe": "15.60.0", "hrms": None}
