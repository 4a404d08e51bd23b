"""Unit tests of upgrade: which sites an upgrade migrates, when the processes move, and how it halts."""

import json

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import apply_merge_patch
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.upgrade import (
    downgrades, replacing, target_key, upgrade_plan, upgrade_settings)

OLD = "docker.io/frappe/erpnext@sha256:" + "11" * 32
NEW = "docker.io/frappe/erpnext@sha256:" + "22" * 32
IMAGE = "docker.io/frappe/erpnext:version-15"
V1 = {"frappe": "15.54.1", "erpnext": "15.50.0"}
V2 = {"frappe": "15.55.1", "erpnext": "15.51.0"}
PROBE = {"reference": IMAGE, "digest": "sha256:" + "22" * 32, "versions": V2, "job": "erp-config-x"}
KEY = target_key(NEW, V2)
HALT = {"upgrade": {"onFailure": "halt"}}
HALT_TWO = {"upgrade": {"onFailure": "halt", "maxParallelMigrations": 2}}


def site(name, versions=None, created=True):
    status = {"conditions": [{"type": "SiteCreated", "status": "True" if created else "False"}]}
    if versions is not None:
        status["schema"] = {"job": name + "-new-site-0", "versions": versions}
    return {"metadata": {"name": name, "namespace": "shop"},
            "spec": {"benchRef": {"name": "erp"}, "siteName": name + ".example.com"}, "status": status}


def job(name, state=None):
    conditions = [{"type": state, "status": "True"}] if state else []
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def migrate(site_name, state=None):
    return job(names.migrate_job_name("erp", site_name, KEY), state)


def migrate_pod(site_name, maintenance_was_on=False):
    name = names.migrate_job_name("erp", site_name, KEY)
    message = json.dumps({"maintenanceWasOn": maintenance_was_on, "versions": []})
    return {"metadata": {"name": name + "-abcde", "labels": {"batch.kubernetes.io/job-name": name}},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "migrate", "imageID": "", "state": {"terminated": {"exitCode": 0, "message": message}}}]}}


def failed_pod(job_name, log="Migrating erp.example.com\npymysql.err.OperationalError: (1054, \"Unknown column\")"):
    return {"metadata": {"name": job_name + "-fghij", "labels": {"batch.kubernetes.io/job-name": job_name}},
            "status": {"phase": "Failed", "containerStatuses": [
                {"name": "migrate", "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": log}}}]}}


def deployment(image, settled=True):
    return {"kind": "Deployment", "metadata": {"name": "erp-gunicorn", "generation": 2},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "gunicorn", "image": image}]}}},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1 if settled else 0,
                       "availableReplicas": 1, "readyReplicas": 1}}


def running(**extra):
    return dict({"image": OLD, "appVersions": V1}, **extra)


def upgrade(status, sites=(), jobs=(), pods=(), deployments=(), spec=None, probe="the new image's", worker_pods=()):
    """The plan of a reconcile; by default the new image's probe is in, and no worker pod is left."""
    probe = PROBE if probe == "the new image's" else probe
    return upgrade_plan("erp", "shop", spec or {}, status, IMAGE, probe, list(sites), list(jobs), list(pods),
                        list(deployments) or [deployment(OLD)], None if worker_pods is None else list(worker_pods))


def step(plan, status):
    """The bench status after a reconcile wrote what `plan` decided."""
    patch = {"image": plan["run_image"], "appVersions": replacing(status.get("appVersions"), plan["app_versions"])}
    if plan["record"]:
        patch["upgrade"] = replacing(status.get("upgrade"), plan["record"])
    return apply_merge_patch(status, patch)


def test_a_new_bench_runs_its_first_probe_without_an_upgrade():
    plan = upgrade({}, sites=[site("a")])
    assert plan["run_image"] == NEW and plan["app_versions"] == V2 and plan["record"] is None and plan["jobs"] == []


def test_a_bench_without_sites_rolls_to_a_new_image_at_once():
    plan = upgrade(running(), sites=[site("making", created=False)])
    assert plan["run_image"] == NEW and plan["app_versions"] == V2 and plan["record"] is None and plan["jobs"] == []


def test_until_the_new_image_is_probed_what_runs_keeps_running():
    plan = upgrade(running(), sites=[site("a", V1)], probe=None)
    assert plan["run_image"] == OLD and plan["record"] is None and plan["jobs"] == []


def test_a_moved_tag_with_the_same_versions_rolls_without_a_migrate():
    same = dict(PROBE, versions=V1)
    plan = upgrade(running(), sites=[site("a", V1), site("b")], probe=same)
    assert plan["jobs"] == [] and plan["run_image"] == NEW
    assert plan["record"]["phase"] == "Rolling" and plan["record"]["sites"] == {}
    # With force, the same versions migrate all the same (custom apps that do not bump theirs).
    forced = upgrade(running(), sites=[site("a", V1), site("b")], probe=same, spec={"upgrade": {"force": True}})
    assert [j["name"] for j in forced["jobs"]] == ["a"] and forced["run_image"] == OLD


def test_new_versions_migrate_one_site_at_a_time_on_the_new_image_while_the_old_one_serves():
    sites = [site("c", V1), site("a"), site("b", V1), site("new", V2), site("making", created=False)]
    plan = upgrade(running(), sites=sites)
    assert plan["run_image"] == OLD and plan["app_versions"] == V1
    # 'a' has no record: the versions the bench ran. 'new' was made on V2 already; 'making' does not exist yet.
    assert [(j["name"], j["siteName"], j["job"]) for j in plan["jobs"]] == [
        ("a", "a.example.com", names.migrate_job_name("erp", "a", KEY))]
    record = plan["record"]
    assert record["phase"] == "Migrating" and record["to"] == {"image": NEW, "versions": V2}
    assert record["from"] == {"image": OLD, "versions": V1}
    assert record["sites"]["a"]["backup"] == "sites/a.example.com/private/upgrade-backups/" + KEY
    assert dict((s, e["phase"]) for s, e in record["sites"].items()) == {
        "a": "Migrating", "b": "Waiting", "c": "Waiting"}
    assert plan["moving"] and [e["reason"] for e in plan["events"]] == ["UpgradeStarted"]


def test_no_migrate_starts_while_a_worker_of_the_old_code_runs():
    sites = [site("a"), site("b")]
    first = upgrade(running(), sites=sites, worker_pods=None)  # the workers were not read: not known to be gone
    assert first["quiesce"] and first["jobs"] == [] and first["run_image"] == OLD
    assert first["record"]["phase"] == "Migrating" and "The workers are stopping first." in first["record"]["message"]
    status = step(first, running())
    busy = upgrade(status, sites=sites, worker_pods=[{"metadata": {"name": "erp-worker-long-x"}}])
    assert busy["jobs"] == [] and "(1 pod(s) left)" in busy["record"]["message"]
    gone = upgrade(status, sites=sites)
    assert gone["quiesce"] and [j["name"] for j in gone["jobs"]] == ["a"]
    # Once every site is migrated, or the upgrade halted, the workers run again.
    done = upgrade(step(gone, status), sites=sites, jobs=[migrate("a", "Complete"), migrate("b", "Failed")], spec=HALT)
    assert not done["quiesce"] and done["record"]["phase"] == "Failed"


def test_each_completed_migrate_lets_the_next_start_and_none_runs_twice():
    sites = [site("a"), site("b"), site("c")]
    status = step(upgrade(running(), sites=sites), running())
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Complete")], pods=[migrate_pod("a")])
    assert [(j["name"], j["phase"]) for j in plan["jobs"]] == [("a", "Migrated"), ("b", "Migrating")]
    assert [e["reason"] for e in plan["events"]] == ["SiteMigrated"]
    # The operator restarted and the pod of a's Job is gone: the record and the Job's name still say it is done.
    status = step(plan, status)
    again = upgrade(status, sites=sites, jobs=[migrate("a", "Complete"), migrate("b")])
    assert [(j["name"], j["phase"]) for j in again["jobs"]] == [("a", "Migrated"), ("b", "Migrating")]
    assert again["events"] == [] and again["run_image"] == OLD


def test_a_counted_site_whose_status_says_otherwise_for_a_moment_is_neither_forgotten_nor_skipped():
    sites = [site("a"), site("b")]
    status = step(upgrade(running(), sites=sites), running())
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Complete")], pods=[migrate_pod("a")]), status)
    # Its role rewrote a's status (SiteCreated no longer True) while b migrates: a stays in the upgrade, its Job too.
    flickered = [site("a", created=False), site("b")]
    plan = upgrade(status, sites=flickered, jobs=[migrate("a", "Complete"), migrate("b")])
    assert [(j["name"], j["phase"]) for j in plan["jobs"]] == [("a", "Migrated"), ("b", "Migrating")]
    assert sorted(plan["record"]["sites"]) == ["a", "b"]
    # A site made after the upgrade started and not created yet is not taken in.
    late = upgrade(status, sites=flickered + [site("c", created=False)], jobs=[migrate("a", "Complete"), migrate("b")])
    assert sorted(late["record"]["sites"]) == ["a", "b"]


def test_more_in_parallel_when_asked():
    sites = [site("a"), site("b"), site("c")]
    plan = upgrade(running(), sites=sites, spec={"upgrade": {"maxParallelMigrations": 2}})
    assert [j["name"] for j in plan["jobs"]] == ["a", "b"]


def test_the_processes_roll_once_every_site_is_migrated_then_one_job_finishes():
    sites = [site("a"), site("b")]
    status = step(upgrade(running(), sites=sites, spec={"upgrade": {"maxParallelMigrations": 2}}), running())
    done = [migrate("a", "Complete"), migrate("b", "Complete")]
    pods = [migrate_pod("a"), migrate_pod("b", maintenance_was_on=True)]
    plan = upgrade(status, sites=sites, jobs=done, pods=pods)
    assert plan["run_image"] == NEW and plan["app_versions"] == V2 and plan["record"]["phase"] == "Rolling"
    assert "finish" not in plan
    status = step(plan, status)
    # Still rolling: a pod of the old image serves.
    assert upgrade(status, sites=sites, jobs=done, deployments=[deployment(NEW, settled=False)])["record"][
        "phase"] == "Rolling"
    plan = upgrade(status, sites=sites, jobs=done, deployments=[deployment(NEW)])
    assert plan["record"]["phase"] == "Finishing"
    # b was in maintenance before the upgrade: it stays there.
    assert plan["finish"] == {"job": names.upgrade_job_name("erp", KEY), "out_of_maintenance": ["a.example.com"],
                              "sites": ["a.example.com", "b.example.com"]}
    status = step(plan, status)
    plan = upgrade(status, sites=sites, jobs=done + [job(names.upgrade_job_name("erp", KEY), "Complete")],
                   deployments=[deployment(NEW)])
    assert plan["record"]["phase"] == "Succeeded" and not plan["moving"]
    assert [e["reason"] for e in plan["events"]] == ["UpgradeSucceeded"]


def test_a_failed_migrate_halts_with_the_migrated_sites_in_maintenance_and_the_old_image_running():
    sites = [site("a"), site("b"), site("c")]
    status = step(upgrade(running(), sites=sites, spec=HALT_TWO), running())
    b_job = names.migrate_job_name("erp", "b", KEY)
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Complete"), migrate("b", "Failed")],
                   pods=[migrate_pod("a"), failed_pod(b_job)], spec=HALT_TWO)
    assert plan["run_image"] == OLD and plan["app_versions"] == V1
    record = plan["record"]
    assert record["phase"] == "Failed" and not plan["moving"]
    assert record["sites"]["c"]["phase"] == "Waiting"
    assert [j["name"] for j in plan["jobs"]] == ["a", "b"]    # c is not started
    assert "Unknown column" in record["sites"]["b"]["message"] and "In maintenance, since their migrate ran on the new code: a, b." in record["message"]
    assert sorted(e["reason"] for e in plan["events"]) == ["SiteMigrated", "SiteMigrationFailed", "UpgradeFailed"]
    # Deleting the failed Job is the retry: b migrates again, and the upgrade goes on.
    status = step(plan, status)
    retried = upgrade(status, sites=sites, jobs=[migrate("a", "Complete")], spec=HALT_TWO)
    assert retried["record"]["phase"] == "Migrating"
    assert [(j["name"], j["phase"]) for j in retried["jobs"]] == [
        ("a", "Migrated"), ("b", "Migrating"), ("c", "Migrating")]


def test_an_image_after_a_halt_takes_the_sites_the_halt_left_in_maintenance_out_of_it():
    sites = [site("a")]
    status = step(upgrade(running(), sites=sites), running())
    a_job = names.migrate_job_name("erp", "a", KEY)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")], pods=[failed_pod(a_job)], spec=HALT), status)
    fixed = dict(PROBE, digest="sha256:" + "33" * 32)
    fixed_key = target_key("docker.io/frappe/erpnext@sha256:" + "33" * 32, V2)
    plan = upgrade(status, sites=sites, probe=fixed, spec=HALT)
    assert plan["record"]["from"] == {"image": OLD, "versions": V1}
    assert plan["record"]["sites"]["a"]["maintenanceWasOn"] is False
    # Its new migrate finds it in maintenance (the halt left it there), and still it comes out at the end.
    done_job = job(names.migrate_job_name("erp", "a", fixed_key), "Complete")
    pod = migrate_pod("a", maintenance_was_on=True)
    pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] = done_job["metadata"]["name"]
    status = step(plan, status)
    plan = upgrade(status, sites=sites, probe=fixed, jobs=[done_job], pods=[pod],
                   deployments=[deployment("docker.io/frappe/erpnext@sha256:" + "33" * 32)])
    assert plan["finish"]["out_of_maintenance"] == ["a.example.com"]


def test_code_older_than_a_schema_is_refused_and_nothing_starts():
    plan = upgrade(running(appVersions=V2), sites=[site("a", V2)], probe=dict(PROBE, versions=V1))
    assert plan["jobs"] == [] and plan["run_image"] == OLD
    entry = plan["record"]["sites"]["a"]
    assert entry["phase"] == "Refused" and "frappe 15.55.1 -> 15.54.1" in entry["message"]
    assert downgrades({"frappe": "15.9.0"}, {"frappe": "15.10.0"}) == []
    assert downgrades({"frappe": "v15.10.0"}, {"frappe": "15.9.2"}) == ["frappe v15.10.0 -> 15.9.2"]
    assert downgrades({"frappe": "develop"}, {"frappe": "15.9.2"}) == []


def test_going_back_after_a_halt_is_refused_for_the_sites_already_migrated():
    sites = [site("a"), site("b")]
    status = step(upgrade(running(), sites=sites), running())
    b_job = names.migrate_job_name("erp", "b", KEY)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Complete"), migrate("b", "Failed")],
                          pods=[failed_pod(b_job)], spec=HALT_TWO), status)
    # a's role recorded the versions it was migrated to; the user sets the image the processes still run.
    sites = [site("a", V2), site("b")]
    back = upgrade(status, sites=sites, probe=dict(PROBE, digest="sha256:" + "11" * 32, versions=V1))
    assert back["run_image"] == OLD and back["jobs"] == []
    assert back["record"]["phase"] == "Failed" and back["record"]["sites"]["a"]["phase"] == "Refused"
    # Without such a site the same image is nothing to do.
    assert upgrade(running(), sites=[site("b", V1)], probe=dict(PROBE, digest="sha256:" + "11" * 32, versions=V1))[
        "record"] is None


def test_a_bench_from_before_versions_were_recorded_migrates_nothing_for_its_first_probe():
    plan = upgrade({"image": IMAGE}, sites=[site("a")], probe=dict(PROBE, digest=""))
    assert plan["run_image"] == IMAGE and plan["jobs"] == [] and plan["record"] is None
    # Its stored probe is what it ran: the versions it starts from.
    stored = {"image": OLD, "imageProbe": dict(PROBE, versions=V1)}
    assert [j["name"] for j in upgrade(stored, sites=[site("a")])["jobs"]] == ["a"]


@pytest.mark.parametrize("given, field", [
    ({"maxParallelMigrations": 0}, "spec.upgrade.maxParallelMigrations"),
    ({"maxParallelMigrations": True}, "spec.upgrade.maxParallelMigrations"),
    ({"migrationTimeoutSeconds": 5}, "spec.upgrade.migrationTimeoutSeconds"),
    ({"onFailure": "restore"}, "spec.upgrade.onFailure"),
])
def test_bad_settings_name_their_field(given, field):
    with pytest.raises(InvalidInput, match=field):
        upgrade_settings({"upgrade": given})


def test_a_replaced_record_names_what_it_no_longer_has():
    assert replacing({"sites": {"a": {"phase": "Failed", "message": "x"}}, "key": "k"},
                     {"sites": {"b": {"phase": "Waiting"}}, "key": "l"}) == {
        "sites": {"a": None, "b": {"phase": "Waiting"}}, "key": "l"}


def test_render_mode_shows_the_migrate_of_every_site_the_change_would_migrate():
    plan = upgrade_plan("erp", "shop", {}, running(), IMAGE, PROBE, [site("a"), site("b"), site("c", V2)], [], [], [],
                        None, render=True)
    assert [j["name"] for j in plan["jobs"]] == ["a", "b"]


def test_the_crd_and_the_docs_give_the_defaults_the_code_has():
    from pathlib import Path
    import yaml
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import upgrade as module
    root = Path(__file__).resolve().parents[5]
    crd = yaml.safe_load((root / "config/crd/bases/vyogo.tech_frappebenches.yaml").read_text())
    fields = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["upgrade"][
        "properties"]
    assert "(default %d)" % module.DEFAULT_MAX_PARALLEL_MIGRATIONS in fields["maxParallelMigrations"]["description"]
    assert fields["maxParallelMigrations"]["minimum"] == 1
    assert "(default %d)" % module.DEFAULT_MIGRATION_TIMEOUT_SECONDS in fields["migrationTimeoutSeconds"]["description"]
    assert fields["migrationTimeoutSeconds"]["minimum"] == module.MIN_MIGRATION_TIMEOUT_SECONDS
    interval = fields["checkInterval"]["description"]
    assert "%s, the default" % module.DEFAULT_CHECK_INTERVAL in interval
    assert "at least %dm" % (module.MIN_CHECK_INTERVAL_SECONDS // 60) in interval
    settings = upgrade_settings({})
    docs = (root / "docs/UPGRADES.md").read_text()
    assert "maxParallelMigrations: %d " % settings["max_parallel"] in docs
    assert "migrationTimeoutSeconds: %d " % settings["timeout"] in docs
    assert "checkInterval: %s " % module.DEFAULT_CHECK_INTERVAL in docs
    assert "onFailure: %s " % settings["on_failure"] in docs and settings["on_failure"] == module.DEFAULT_ON_FAILURE
    assert fields["onFailure"]["enum"] == list(module.ON_FAILURE)
    assert "%s (the default)" % module.DEFAULT_ON_FAILURE in fields["onFailure"]["description"]
    assert settings["check_interval"] == 86400


def rollback(site_name, state=None):
    return job(names.rollback_job_name("erp", site_name, KEY), state)


def test_a_failed_migrate_rolls_back_every_site_the_upgrade_migrated_by_default():
    sites, two = [site("a"), site("b"), site("c")], {"upgrade": {"maxParallelMigrations": 2}}
    status = step(upgrade(running(), sites=sites, spec=two), running())
    b_job = names.migrate_job_name("erp", "b", KEY)
    migrates = [migrate("a", "Complete"), migrate("b", "Failed")]
    # The reconcile that finds the failure records it; the workers stay stopped, and nothing is restored yet.
    plan = upgrade(status, sites=sites, jobs=migrates, pods=[migrate_pod("a"), failed_pod(b_job)], spec=two)
    record = plan["record"]
    assert record["phase"] == "RollingBack" and plan["moving"] and plan["quiesce"] and plan["run_image"] == OLD
    assert plan["rollbacks"] == [] and "Unknown column" in record["failure"]
    assert sorted(e["reason"] for e in plan["events"]) == ["SiteMigrated", "SiteMigrationFailed", "UpgradeRollingBack"]
    # The next one restores a and b (the sites whose migrate ran), on the old image; c never started.
    status = step(plan, status)
    plan = upgrade(status, sites=sites, jobs=migrates, spec=two)
    assert [(r["name"], r["phase"], r["rollbackJob"]) for r in plan["rollbacks"]] == [
        ("a", "RollingBack", names.rollback_job_name("erp", "a", KEY)),
        ("b", "RollingBack", names.rollback_job_name("erp", "b", KEY))]
    assert plan["record"]["sites"]["c"]["phase"] == "Waiting" and [j["name"] for j in plan["jobs"]] == ["a", "b"]
    status = step(plan, status)
    # Both restored: the bench serves every site on the old image again, the workers run.
    done = migrates + [rollback("a", "Complete"), rollback("b", "Complete")]
    plan = upgrade(status, sites=sites, jobs=done, spec=two)
    record = plan["record"]
    assert record["phase"] == "RolledBack" and not plan["moving"] and not plan["quiesce"]
    assert plan["run_image"] == OLD and plan["app_versions"] == V1
    assert [record["sites"][s]["phase"] for s in "abc"] == ["RolledBack", "RolledBack", "Waiting"]
    assert record["sites"]["a"]["fromVersions"] == V1 and "Unknown column" in record["sites"]["b"]["message"]
    assert "Unknown column" in record["message"] and "vyogo.tech/upgrade=%s" % KEY in record["message"]
    assert sorted(e["reason"] for e in plan["events"]) == ["SiteRolledBack", "SiteRolledBack", "UpgradeRolledBack"]
    # Settled: no Job is started again, even with a's Jobs gone (it has been served since its restore).
    status = step(plan, status)
    again = upgrade(status, sites=sites, jobs=[migrate("b", "Failed"), rollback("b", "Complete")], spec=two)
    assert again["record"]["phase"] == "RolledBack" and again["events"] == [] and again["jobs"] == [
        dict(again["record"]["sites"]["b"], name="b")]
    assert [r["name"] for r in again["rollbacks"]] == ["b"]
    # Every Job of the upgrade deleted: it starts again, from the versions the restores brought back.
    retry = upgrade(status, sites=[site("a", V2), site("b"), site("c")], spec=two)
    assert retry["record"]["phase"] == "Migrating" and [j["name"] for j in retry["jobs"]] == ["a", "b"]
    assert [e["reason"] for e in retry["events"]] == ["UpgradeStarted"]


def test_a_rollback_waits_for_the_migrates_still_running_then_restores_a_few_at_a_time():
    sites, two = [site("a"), site("b"), site("c")], {"upgrade": {"maxParallelMigrations": 2}}
    status = step(upgrade(running(), sites=sites, spec=two), running())
    a_job = names.migrate_job_name("erp", "a", KEY)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed"), migrate("b")], pods=[failed_pod(a_job)],
                          spec=two), status)
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Failed"), migrate("b")], spec=two)
    assert plan["rollbacks"] == [] and plan["record"]["phase"] == "RollingBack"
    assert "First the running migrate(s) end: b." in plan["record"]["message"]
    one = {"upgrade": {"maxParallelMigrations": 1}}
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Failed"), migrate("b", "Complete")], spec=one)
    assert [r["name"] for r in plan["rollbacks"]] == ["a"] and plan["record"]["sites"]["b"]["phase"] == "Migrated"


def test_a_failed_restore_leaves_its_site_in_maintenance_and_says_so():
    sites = [site("a")]
    status = step(upgrade(running(), sites=sites), running())
    a_job = names.migrate_job_name("erp", "a", KEY)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")], pods=[failed_pod(a_job)]), status)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")]), status)
    restore_job = names.rollback_job_name("erp", "a", KEY)
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Failed"), rollback("a", "Failed")],
                   pods=[failed_pod(restore_job, log="ERROR 1045 (28000): Access denied")])
    record = plan["record"]
    assert record["phase"] == "Failed" and record["sites"]["a"]["phase"] == "RollbackFailed"
    assert "Access denied" in record["sites"]["a"]["message"] and "so did the restore of a" in record["message"]
    assert "Unknown column" in record["message"] and plan["run_image"] == OLD
    assert sorted(e["reason"] for e in plan["events"]) == ["SiteRollbackFailed", "UpgradeFailed"]


def test_a_refused_site_with_nothing_migrated_fails_without_a_rollback():
    plan = upgrade(running(appVersions=V2), sites=[site("a", V2)], probe=dict(PROBE, versions=V1))
    assert plan["record"]["phase"] == "Failed" and "rollbacks" not in plan


def test_a_migrate_job_deleted_while_the_upgrade_rolls_back_still_has_its_site_restored():
    sites = [site("a"), site("b")]
    status = step(upgrade(running(), sites=sites), running())
    a_job = names.migrate_job_name("erp", "a", KEY)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")], pods=[failed_pod(a_job)]), status)
    message = status["upgrade"]["sites"]["a"]["message"]
    # Someone deletes the failed Job, as a halted upgrade's retry would: a is restored all the same, b never starts.
    plan = upgrade(status, sites=sites)
    assert [(r["name"], r["phase"]) for r in plan["rollbacks"]] == [("a", "RollingBack")]
    assert plan["record"]["sites"]["a"]["message"] == message and plan["jobs"] == []
    assert plan["record"]["sites"]["b"]["phase"] == "Waiting"


def rolled_back(sites, spec=None, b_restore="Complete"):
    """The status of a bench whose upgrade to NEW rolled back: a migrated, b failed, then a restored and b's restore
    in the state `b_restore`."""
    spec = spec or {"upgrade": {"maxParallelMigrations": 2}}
    status = step(upgrade(running(), sites=sites, spec=spec), running())
    b_job = names.migrate_job_name("erp", "b", KEY)
    migrates = [migrate("a", "Complete"), migrate("b", "Failed")]
    status = step(upgrade(status, sites=sites, jobs=migrates, pods=[failed_pod(b_job)], spec=spec), status)
    status = step(upgrade(status, sites=sites, jobs=migrates, spec=spec), status)
    done = migrates + [rollback("a", "Complete"), rollback("b", b_restore)]
    return step(upgrade(status, sites=sites, jobs=done, spec=spec), status)


def test_a_retry_after_a_rollback_migrates_every_site_again_though_a_site_s_record_still_says_migrated():
    status = rolled_back([site("a"), site("b"), site("c")])
    assert status["upgrade"]["phase"] == "RolledBack"
    # a's own role has not run since: its status still says the versions it was migrated to.
    sites = [site("a", V2), site("b"), site("c")]
    one = {"upgrade": {"maxParallelMigrations": 1}}
    plan = upgrade(status, sites=sites, spec=one)          # every Job deleted: the upgrade starts again
    assert [(j["name"], j["phase"]) for j in plan["jobs"]] == [("a", "Migrating")]
    status = step(plan, status)
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Complete")], spec=one)
    assert [(j["name"], j["phase"]) for j in plan["jobs"]] == [("a", "Migrated"), ("b", "Migrating")]
    assert plan["run_image"] == OLD and plan["record"]["sites"]["c"]["phase"] == "Waiting"


def test_after_a_failed_restore_deleting_jobs_restores_again_and_never_rolls_to_the_new_image():
    sites, two = [site("a"), site("b")], {"upgrade": {"maxParallelMigrations": 2}}
    migrates = [migrate("a", "Complete"), migrate("b", "Failed")]
    status = rolled_back(sites, b_restore="Failed")
    assert status["upgrade"]["phase"] == "Failed" and status["upgrade"]["sites"]["b"]["phase"] == "RollbackFailed"
    # Every Job deleted: a stays restored (it has been served since), b is restored again; nothing rolls.
    for jobs in ([], [migrate("a", "Complete")]):
        plan = upgrade(status, sites=[site("a", V2), site("b")], jobs=jobs, spec=two)
        assert plan["run_image"] == OLD and plan["record"]["phase"] == "RollingBack"
        assert plan["record"]["sites"]["a"]["phase"] == "RolledBack"
        assert [(r["name"], r["phase"]) for r in plan["rollbacks"]] == [("b", "RollingBack")]
    # A restore still running keeps the workers stopped, even when another one failed.
    plan = upgrade(step(plan, status), sites=sites, jobs=migrates + [rollback("a", "Failed"), rollback("b")],
                   spec=two)
    assert plan["record"]["phase"] == "RollingBack" and plan["quiesce"]


def test_an_image_set_while_a_rollback_runs_waits_for_its_end():
    sites = [site("a"), site("b")]
    status = step(upgrade(running(), sites=sites), running())
    a_job = names.migrate_job_name("erp", "a", KEY)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")], pods=[failed_pod(a_job)]), status)
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")]), status)
    restoring = [migrate("a", "Failed"), rollback("a")]
    fixed = dict(PROBE, digest="sha256:" + "33" * 32)
    plan = upgrade(status, sites=sites, jobs=restoring, probe=fixed)
    assert plan["key"] == KEY and [r["name"] for r in plan["rollbacks"]] == ["a"] and plan["jobs"][0]["name"] == "a"
    assert "sha256:" + "33" * 32 in plan["record"]["message"] and plan["run_image"] == OLD
    # Ended, the new image is the next upgrade.
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed"), rollback("a", "Complete")]), status)
    nxt = upgrade(status, sites=sites, probe=fixed)
    assert nxt["key"] != KEY and nxt["record"]["phase"] == "Migrating"


def test_restores_start_only_once_the_workers_are_gone():
    sites = [site("a")]
    status = step(upgrade(running(), sites=sites), running())
    a_job = names.migrate_job_name("erp", "a", KEY)
    # Halted, the workers ran again; then onFailure is set to rollback.
    status = step(upgrade(status, sites=sites, jobs=[migrate("a", "Failed")], pods=[failed_pod(a_job)], spec=HALT),
                  status)
    plan = upgrade(status, sites=sites, jobs=[migrate("a", "Failed")])
    assert plan["record"]["phase"] == "RollingBack" and plan["quiesce"] and plan["rollbacks"] == []
    status = step(plan, status)
    busy = upgrade(status, sites=sites, jobs=[migrate("a", "Failed")], worker_pods=[{"metadata": {"name": "w"}}])
    assert busy["rollbacks"] == [] and "First the workers stop." in busy["record"]["message"]
    assert [r["name"] for r in upgrade(status, sites=sites, jobs=[migrate("a", "Failed")])["rollbacks"]] == ["a"]


def test_a_site_migration_stops_the_workers_and_holds_an_upgrade_s_migrates():
    quiet = upgrade_plan("erp", "shop", {}, running(), IMAGE, None, [site("a")], [], [], [], [],
                         site_migrations=["a"])
    assert quiet["quiesce"] and quiet["moving"] and quiet["record"] is None
    plan = upgrade(running(), sites=[site("a"), site("b")])
    held = upgrade_plan("erp", "shop", {}, running(), IMAGE, PROBE, [site("a"), site("b")], [], [],
                        [deployment(OLD)], [], site_migrations=["a"])
    assert [j["name"] for j in plan["jobs"]] == ["a"] and held["jobs"] == []
    assert "SiteMigrations of a run first." in held["record"]["message"] and held["quiesce"]
