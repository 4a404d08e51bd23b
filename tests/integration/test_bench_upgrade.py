"""An upgrade of a bench with sites on the local cluster: every site migrated before the processes run the new code.

kwok completes every pod without an imageID or a termination message. What a
kubelet would report of the configuration Job (the digest the tag resolved to,
and `bench version --format json` from running its rendered container against
the stand-ins of tests/harness/podscripts.py) is patched into its pod's status,
as in test_frappe_bench_components.py. The sites are FrappeSites with the
status their role writes once their site exists; the bench role reads them.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import yaml

from support import REPO, converge, playbook_command, reconcile, wait_until, write_manifest

from test_frappe_bench_components import bench_deployments, bench_object, example_bench

sys.path.insert(0, str(REPO / "tests" / "harness"))
from podscripts import ImageBench, run_container  # noqa: E402

V1 = {"erpnext": "15.45.0", "frappe": "15.55.1"}
V2 = {"erpnext": "15.45.0", "frappe": "15.60.0"}


def report_probe(kube, namespace, tmp_path, image, frappe_version, component="config", digest_of=None):
    """Give the configuration Job of `image` (or the periodic look at it: component probe) what a kubelet
    reports: a digest (of `digest_of`, the code the tag names now) and the script's last words."""
    pods = []
    wait_until(lambda: pods.extend(p for p in kube.core.list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=" + component).items
        if p.spec.containers[0].image == image and p.status.phase == "Succeeded") or pods, 90,
        "the %s Job of %s to complete" % (component, image))
    pod = pods[0]
    job = kube.api.sanitize_for_serialization(
        kube.batch.read_namespaced_job(pod.metadata.labels["batch.kubernetes.io/job-name"], namespace))
    code = hashlib.sha256((digest_of or image).encode()).hexdigest()
    ran = run_container(ImageBench(tmp_path / ("image-" + code[:8])), job,
                        kube.api.sanitize_for_serialization(pod.spec.containers[0]),
                        {"erp-redis": {"password": "unused"}}, harness_env={"HARNESS_FRAPPE_VERSION": frappe_version})
    assert ran.rc == 0, ran.explain()
    digest = "sha256:" + code
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    repository = image.rsplit(":", 1)[0]
    kube.core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {"containerStatuses": [{
        "name": pod.spec.containers[0].name, "image": image, "imageID": "%s@%s" % (repository, digest), "ready": False,
        "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                    "message": ran.stdout[ran.stdout.rfind("\n[") + 1:],
                                                    "startedAt": now, "finishedAt": now}}}]}})
    return "%s@%s" % (repository, digest)


def made_site(kube, namespace, name):
    """A FrappeSite of the bench whose site exists, its schema recorded by nobody (made before records)."""
    kube.custom.create_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", {
        "apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": name},
        "spec": {"benchRef": {"name": "erp"}, "siteName": name + ".example.com",
                 "dbConfig": {"connectionSecretRef": {"name": "db-admin"}}}})
    kube.custom.patch_namespaced_custom_object_status("vyogo.tech", "v1alpha1", namespace, "frappesites", name, {
        "status": {"phase": "Ready", "conditions": [{
            "type": "SiteCreated", "status": "True", "reason": "Created", "message": "made",
            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}})


def processes_images(kube, namespace):
    return {c.image for d in bench_deployments(kube, namespace).values() for c in d.spec.template.spec.containers}


def worker_replicas(kube, namespace):
    return {d.spec.replicas for n, d in bench_deployments(kube, namespace).items() if "-worker-" in n}


def worker_pods(kube, namespace):
    return [p.metadata.name for p in kube.core.list_namespaced_pod(namespace, label_selector="vyogo.tech/bench=erp").items
            if p.metadata.labels.get("app.kubernetes.io/component", "").startswith("worker-")]


def upgrade_jobs(kube, namespace):
    return sorted(j.metadata.name for j in kube.batch.list_namespaced_job(
        namespace, label_selector="app.kubernetes.io/component=upgrade").items)


def test_a_new_image_migrates_every_site_then_rolls_and_a_moved_tag_with_the_same_versions_does_not(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    first = bench_object(kube, namespace)["status"]["image"]
    old = report_probe(kube, namespace, tmp_path, first, V1["frappe"])
    converge(kube, tmp_path, obj)
    assert bench_object(kube, namespace)["status"]["appVersions"] == V1
    for name in ("a", "b", "c"):
        made_site(kube, namespace, name)

    # A new tag: until its configuration Job says what it is, nothing else starts.
    obj["spec"]["imageConfig"] = dict(obj["spec"].get("imageConfig") or {}, tag="v15.60.0")
    run = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert run.rc == 0, run.explain()
    assert processes_images(kube, namespace) == {old} and upgrade_jobs(kube, namespace) == []
    image = [p for p in kube.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=config")
             .items if p.spec.containers[0].image.endswith(":v15.60.0")][0].spec.containers[0].image
    new = report_probe(kube, namespace, tmp_path, image, V2["frappe"])

    # Its versions are newer: the workers stop first (none runs old code against a schema being changed) ...
    run = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert run.rc == 0, run.explain()
    status = bench_object(kube, namespace)["status"]
    assert status["upgrade"]["phase"] == "Migrating", status["upgrade"]
    assert upgrade_jobs(kube, namespace) == [] and worker_replicas(kube, namespace) == {0}
    wait_until(lambda: not worker_pods(kube, namespace), 60, "the worker pods to go")
    # ... then one site migrates at a time, on the new digest, while the old one serves.
    run = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert run.rc == 0, run.explain()
    status = bench_object(kube, namespace)["status"]
    assert status["image"] == old and processes_images(kube, namespace) == {old}
    jobs = upgrade_jobs(kube, namespace)
    assert jobs == [status["upgrade"]["sites"]["a"]["job"]], (jobs, status["upgrade"])
    migrate = kube.batch.read_namespaced_job(jobs[0], namespace)
    assert migrate.spec.template.spec.containers[0].image == new
    assert migrate.spec.template.spec.containers[0].env[0].value == "a.example.com"

    # Left to itself it goes on to the end: every site migrated, the processes on the new digest, the end Job run.
    converge(kube, tmp_path, obj)
    status = bench_object(kube, namespace)["status"]
    upgrade = status["upgrade"]
    print("upgrade:", json.dumps(upgrade, indent=1, sort_keys=True))
    assert upgrade["phase"] == "Succeeded", upgrade
    assert upgrade["from"] == {"image": old, "versions": V1} and upgrade["to"] == {"image": new, "versions": V2}
    assert {s: e["phase"] for s, e in upgrade["sites"].items()} == {"a": "Migrated", "b": "Migrated", "c": "Migrated"}
    assert status["image"] == new and status["appVersions"] == V2 and processes_images(kube, namespace) == {new}
    assert 0 not in worker_replicas(kube, namespace)
    finish = kube.batch.read_namespaced_job("erp-upgrade-" + upgrade["key"], namespace)
    env = dict((e.name, e.value) for e in finish.spec.template.spec.containers[0].env)
    assert env == {"OUT_OF_MAINTENANCE": "a.example.com b.example.com c.example.com",
                   "SITES": "a.example.com b.example.com c.example.com", "UPGRADE_KEY": upgrade["key"]}
    events = sorted(e.reason for e in kube.core.list_namespaced_event(
        namespace, field_selector="involvedObject.kind=FrappeBench").items if e.reason.startswith(("Upgrade", "Site")))
    print("events:", events)
    assert events.count("SiteMigrated") == 3 and "UpgradeStarted" in events and "UpgradeSucceeded" in events
    assert next(c for c in status["conditions"] if c["type"] == "Upgraded")["status"] == "True"
    # No-op reconciles in between start nothing.
    again = reconcile(kube, tmp_path, obj)
    assert again.rc == 0 and again.changed == 0, again.explain()

    # The tag moves again with the same versions: the processes roll, nothing migrates.
    obj["spec"]["imageConfig"]["tag"] = "version-15"
    run = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert run.rc == 0, run.explain()
    image = [p for p in kube.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=config")
             .items if p.spec.containers[0].image.endswith(":version-15")][0].spec.containers[0].image
    moved = report_probe(kube, namespace, tmp_path, image, V2["frappe"])
    converge(kube, tmp_path, obj)
    status = bench_object(kube, namespace)["status"]
    assert status["upgrade"]["phase"] == "Succeeded" and status["upgrade"]["sites"] == {}, status["upgrade"]
    assert processes_images(kube, namespace) == {moved}
    assert [j for j in upgrade_jobs(kube, namespace) if "-migrate-" in j] == []

    # The same tag moves again, to newer versions, and nothing changes in the manifest: the periodic look at the
    # image finds it. Its last look is made a day old (what time would do).
    obj["spec"]["upgrade"] = {"checkInterval": "24h"}
    converge(kube, tmp_path, obj)
    assert not kube.batch.list_namespaced_job(namespace, label_selector="app.kubernetes.io/component=probe").items
    probe = bench_object(kube, namespace)["status"]["imageProbe"]
    day_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
    kube.custom.patch_namespaced_custom_object_status("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp", {
        "status": {"imageProbe": dict(probe, checkedAt=day_ago)}})
    # The configuration pod that found it is as old.
    config = kube.core.list_namespaced_pod(namespace, label_selector="batch.kubernetes.io/job-name=" + probe["job"]).items[0]
    ended = kube.api.sanitize_for_serialization(config.status.container_statuses[0])
    ended["state"]["terminated"].update(startedAt=day_ago, finishedAt=day_ago)
    kube.core.patch_namespaced_pod_status(config.metadata.name, namespace, {"status": {"containerStatuses": [ended]}})
    run = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert run.rc == 0, run.explain()
    look = kube.batch.list_namespaced_job(namespace, label_selector="app.kubernetes.io/component=probe").items
    assert len(look) == 1 and look[0].spec.template.spec.containers[0].image_pull_policy == "Always"
    assert look[0].spec.template.spec.volumes is None  # it changes nothing of the bench
    again = report_probe(kube, namespace, tmp_path, image, "15.61.0", component="probe", digest_of="a day later")
    converge(kube, tmp_path, obj)
    status = bench_object(kube, namespace)["status"]
    assert status["upgrade"]["phase"] == "Succeeded" and status["upgrade"]["to"]["image"] == again, status["upgrade"]
    assert status["upgrade"]["to"]["versions"]["frappe"] == "15.61.0"
    assert sorted(status["upgrade"]["sites"]) == ["a", "b", "c"] and processes_images(kube, namespace) == {again}
    # The look is the stored probe now; the Job goes with the next reconcile.
    assert status["imageProbe"]["job"] == look[0].metadata.name and status["imageProbe"]["checkedAt"] > day_ago


def upgrade_started(kube, namespace, tmp_path, obj):
    """A bench on V1 with sites a, b and c, given a tag of V2: returns (old, new) digests once its workers are gone."""
    converge(kube, tmp_path, obj)
    old = report_probe(kube, namespace, tmp_path, bench_object(kube, namespace)["status"]["image"], V1["frappe"])
    converge(kube, tmp_path, obj)
    for name in ("a", "b", "c"):
        made_site(kube, namespace, name)
    obj["spec"]["imageConfig"] = dict(obj["spec"].get("imageConfig") or {}, tag="v15.60.0")
    assert reconcile(kube, tmp_path, obj, frappe_converge_seconds=0).rc == 0
    image = [p for p in kube.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=config")
             .items if p.spec.containers[0].image.endswith(":v15.60.0")][0].spec.containers[0].image
    new = report_probe(kube, namespace, tmp_path, image, V2["frappe"])
    assert reconcile(kube, tmp_path, obj, frappe_converge_seconds=0).rc == 0   # the workers stop
    wait_until(lambda: not worker_pods(kube, namespace), 60, "the worker pods to go")
    return old, new


def fail_next_migrate(kube, namespace, tmp_path, obj, site):
    """The reconcile that starts the migrate of `site`, whose pod the test runs as its kubelet would (the nodes take
    no pod meanwhile): the rendered container against the stand-ins, on a sites volume where the site is missing,
    fails as it would there. Returns the Job's name once it has failed."""
    from test_frappe_bench_components import _set_nodes_unschedulable

    _set_nodes_unschedulable(kube, True)
    try:
        assert reconcile(kube, tmp_path, obj, frappe_converge_seconds=0).rc == 0
        job_name = bench_object(kube, namespace)["status"]["upgrade"]["sites"][site]["job"]
        pod = wait_until(lambda: (kube.core.list_namespaced_pod(
            namespace, label_selector="batch.kubernetes.io/job-name=" + job_name).items or [None])[0], 60,
            "the migrate Job's pod")
        job = kube.api.sanitize_for_serialization(kube.batch.read_namespaced_job(job_name, namespace))
        ran = run_container(ImageBench(tmp_path / "image"), job, kube.api.sanitize_for_serialization(
            pod.spec.containers[0]), {}, harness_env={"HARNESS_FRAPPE_VERSION": V2["frappe"]})
        assert ran.rc != 0, ran.explain()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        # terminationMessagePolicy FallbackToLogsOnError: the end of the log is the message.
        kube.core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {
            "phase": "Failed", "containerStatuses": [{
                "name": "migrate", "image": pod.spec.containers[0].image, "imageID": "", "ready": False,
                "restartCount": 0, "state": {"terminated": {"exitCode": ran.rc, "reason": "Error",
                                                            "message": (ran.stdout + ran.stderr)[-2048:],
                                                            "startedAt": now, "finishedAt": now}}}]}})
        wait_until(lambda: kube.batch.read_namespaced_job(job_name, namespace).status.failed, 60, "the Job to fail")
    finally:
        _set_nodes_unschedulable(kube, False)
    return job_name


def goes_on_to_the_end(kube, namespace, tmp_path, obj, new):
    """Left to itself, the upgrade ends with the processes on `new`."""
    converge(kube, tmp_path, obj)
    status = bench_object(kube, namespace)["status"]
    assert status["upgrade"]["phase"] == "Succeeded", status["upgrade"]
    assert processes_images(kube, namespace) == {new}


def upgrade_events(kube, namespace):
    return [(e.type, e.reason, e.message) for e in sorted(kube.core.list_namespaced_event(
        namespace, field_selector="involvedObject.kind=FrappeBench").items, key=lambda e: e.metadata.creation_timestamp)
        if e.reason.startswith(("Upgrade", "Site"))]


def test_a_failed_migrate_halts_the_upgrade_on_the_old_image_until_its_job_is_deleted(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    obj["spec"]["upgrade"] = {"onFailure": "halt"}
    old, new = upgrade_started(kube, namespace, tmp_path, obj)
    job_name = fail_next_migrate(kube, namespace, tmp_path, obj, "a")
    halted = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert halted.rc == 0, halted.explain()
    status = bench_object(kube, namespace)["status"]
    upgrade = status["upgrade"]
    print("halted:", json.dumps(upgrade, indent=1, sort_keys=True))
    assert upgrade["phase"] == "Failed" and upgrade["sites"]["a"]["phase"] == "Failed", upgrade
    assert "site_config.json" in upgrade["sites"]["a"]["message"], upgrade
    assert upgrade["sites"]["b"]["phase"] == upgrade["sites"]["c"]["phase"] == "Waiting"
    assert upgrade_jobs(kube, namespace) == [job_name]
    assert status["image"] == old and processes_images(kube, namespace) == {old}
    # The rest of the sites are served as before, their background jobs too.
    assert 0 not in worker_replicas(kube, namespace)
    assert "In maintenance, since their migrate ran on the new code: a." in upgrade["message"], upgrade["message"]
    upgraded = next(c for c in status["conditions"] if c["type"] == "Upgraded")
    assert (upgraded["status"], upgraded["reason"]) == ("False", "Failed")
    events = upgrade_events(kube, namespace)
    print("events:", json.dumps(events, indent=1))
    reasons = [r for _t, r, _m in events]
    assert reasons[0] == "UpgradeStarted" and sorted(reasons[1:]) == ["SiteMigrationFailed", "UpgradeFailed"], events
    # Halted, it stays so: a reconcile starts nothing more.
    again = reconcile(kube, tmp_path, obj, frappe_converge_seconds=0)
    assert again.rc == 0 and upgrade_jobs(kube, namespace) == [job_name], again.explain()

    # The cause fixed, deleting the failed Job is the retry; the upgrade goes on to the end.
    kube.batch.delete_namespaced_job(job_name, namespace, propagation_policy="Foreground")
    wait_until(lambda: job_name not in upgrade_jobs(kube, namespace), 60, "the failed Job to go")
    goes_on_to_the_end(kube, namespace, tmp_path, obj, new)


def test_a_failed_migrate_rolls_back_the_sites_it_migrated_even_when_a_reconcile_is_killed_midway(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    obj = example_bench(namespace)
    old, new = upgrade_started(kube, namespace, tmp_path, obj)
    assert reconcile(kube, tmp_path, obj, frappe_converge_seconds=0).rc == 0     # a migrates (kwok completes it)
    a_job = bench_object(kube, namespace)["status"]["upgrade"]["sites"]["a"]["job"]
    wait_until(lambda: kube.batch.read_namespaced_job(a_job, namespace).status.succeeded, 60, "a's migrate")
    b_job = fail_next_migrate(kube, namespace, tmp_path, obj, "b")
    # The reconcile that finds b's failure records it; nothing is restored yet, the workers stay stopped.
    assert reconcile(kube, tmp_path, obj, frappe_converge_seconds=0).rc == 0
    upgrade = bench_object(kube, namespace)["status"]["upgrade"]
    assert upgrade["phase"] == "RollingBack" and "site_config.json" in upgrade["failure"], upgrade
    assert {s: e["phase"] for s, e in upgrade["sites"].items()} == {"a": "Migrated", "b": "Failed", "c": "Waiting"}
    assert worker_replicas(kube, namespace) == {0} and upgrade_jobs(kube, namespace) == sorted([a_job, b_job])

    # The next reconcile is killed once it has made a's restore Job, before it writes the status.
    cmd, env = playbook_command(kube, "site.yml", {"frappe_manifest": str(write_manifest(tmp_path, obj)),
                                                   "frappe_converge_seconds": 0})
    proc = subprocess.Popen(cmd, env=env, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        restore = wait_until(lambda: [j for j in kube.batch.list_namespaced_job(
            namespace, label_selector="app.kubernetes.io/component=upgrade").items if "-rollback-" in j.metadata.name],
            120, "the first restore Job")
        assert proc.poll() is None, "the reconcile ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(restore) == 1 and restore[0].spec.template.spec.containers[0].image == old
    assert bench_object(kube, namespace)["status"]["upgrade"]["phase"] == "RollingBack"

    # Left to itself it resumes from the status and the Jobs' names: a's restore is the same Job, then b's runs.
    converge(kube, tmp_path, obj)
    status = bench_object(kube, namespace)["status"]
    upgrade = status["upgrade"]
    print("rolled back:", json.dumps(upgrade, indent=1, sort_keys=True))
    assert upgrade["phase"] == "RolledBack", upgrade
    assert {s: e["phase"] for s, e in upgrade["sites"].items()} == {"a": "RolledBack", "b": "RolledBack",
                                                                    "c": "Waiting"}
    assert kube.batch.read_namespaced_job(restore[0].metadata.name, namespace).metadata.uid == restore[0].metadata.uid
    assert status["image"] == old and processes_images(kube, namespace) == {old}
    assert 0 not in worker_replicas(kube, namespace)
    upgraded = next(c for c in status["conditions"] if c["type"] == "Upgraded")
    assert (upgraded["status"], upgraded["reason"]) == ("False", "RolledBack")
    events = upgrade_events(kube, namespace)
    print("events:", json.dumps(events, indent=1))
    reasons = [r for _t, r, _m in events]
    assert reasons[:2] == ["UpgradeStarted", "SiteMigrated"] and sorted(reasons[2:]) == [
        "SiteMigrationFailed", "SiteRolledBack", "SiteRolledBack", "UpgradeRolledBack", "UpgradeRollingBack"], events

    # The cause fixed, deleting the upgrade's Jobs tries it again from the start; it goes on to the end.
    kube.batch.delete_collection_namespaced_job(namespace, label_selector="vyogo.tech/upgrade=" + upgrade["key"],
                                                propagation_policy="Foreground")
    wait_until(lambda: not upgrade_jobs(kube, namespace), 60, "the upgrade's Jobs to go")
    goes_on_to_the_end(kube, namespace, tmp_path, obj, new)


def test_the_operator_killed_midway_resumes_the_upgrade_and_runs_no_migrate_twice(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    """Under the Ansible Operator SDK (watches.yaml, the shipped proxy flags), killed while the sites migrate."""
    from support import AnsibleOperator, manager_proxy_args

    # The sites here are stand-ins made by their status alone: the FrappeSite role, which would find no server for
    # them and say so in their status, is left out of this operator (it is not what is under test).
    watches = tmp_path / "watches.yaml"
    watches.write_text(yaml.safe_dump([w for w in yaml.safe_load((REPO / "watches.yaml").read_text())
                                       if w["kind"] != "FrappeSite"]))

    def start(n):
        return AnsibleOperator(kube, watches, namespace, tmp_path / ("operator-%d" % n),
                               collections_path=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0],
                               extra_args=manager_proxy_args()).start()

    def status():
        return bench_object(kube, namespace).get("status") or {}

    (tmp_path / "operator-1").mkdir()
    (tmp_path / "operator-2").mkdir()
    operator = start(1)
    try:
        obj = example_bench(namespace)
        kube.custom.create_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", obj)
        first = wait_until(lambda: status().get("image"), 180, "the bench's first reconcile (%s)" % operator.logfile)
        report_probe(kube, namespace, tmp_path, first, V1["frappe"])
        wait_until(lambda: status().get("appVersions") == V1, 120, "the probe of the first image to be read")
        for name in ("a", "b", "c"):
            made_site(kube, namespace, name)
        kube.custom.patch_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp", {
            "spec": {"imageConfig": {"tag": "v15.60.0"}}})
        image = wait_until(lambda: next((p.spec.containers[0].image for p in kube.core.list_namespaced_pod(
            namespace, label_selector="app.kubernetes.io/component=config").items
            if p.spec.containers[0].image.endswith(":v15.60.0")), None), 120, "the new image's configuration Job")
        new = report_probe(kube, namespace, tmp_path, image, V2["frappe"])
        # Killed (as a crash or an evicted pod would be) once the first site's migrate Job exists.
        wait_until(lambda: [j for j in upgrade_jobs(kube, namespace) if "-migrate-" in j], 180,
                   "the first migrate Job (%s)" % operator.logfile)
        os.killpg(operator.proc.pid, signal.SIGKILL)
        operator.proc.wait()
        before = dict((j.metadata.name, j.metadata.uid) for j in kube.batch.list_namespaced_job(
            namespace, label_selector="app.kubernetes.io/component=upgrade").items)
        assert status()["upgrade"]["phase"] == "Migrating", status()["upgrade"]

        operator = start(2)
        wait_until(lambda: (status().get("upgrade") or {}).get("phase") == "Succeeded", 300,
                   "the upgrade to end (%s)" % operator.logfile)
    finally:
        operator.stop()
    upgrade = status()["upgrade"]
    assert {s: e["phase"] for s, e in upgrade["sites"].items()} == {"a": "Migrated", "b": "Migrated", "c": "Migrated"}
    jobs = dict((j.metadata.name, j.metadata.uid) for j in kube.batch.list_namespaced_job(
        namespace, label_selector="app.kubernetes.io/component=upgrade").items)
    # Every Job made before the kill is the same one after it, and one migrate ran per site.
    assert all(jobs[name] == uid for name, uid in before.items()), (before, jobs)
    assert sorted(j for j in jobs if "-migrate-" in j) == sorted(e["job"] for e in upgrade["sites"].values())
    assert processes_images(kube, namespace) == {new}


def test_a_site_migration_stops_the_bench_s_workers_migrates_its_site_once_and_starts_them_again(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    """playbooks/site.yml with a bench and a SiteMigration of one of its sites (the Go operator's api/v1 fields)."""
    from support import run_playbook

    obj = example_bench(namespace)
    converge(kube, tmp_path, obj)
    report_probe(kube, namespace, tmp_path, bench_object(kube, namespace)["status"]["image"], V1["frappe"])
    converge(kube, tmp_path, obj)
    made_site(kube, namespace, "a")    # its schema recorded by nobody: migrated to the bench's versions
    migration = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteMigration",
                 "metadata": {"name": "now", "namespace": namespace}, "spec": {"siteRef": {"name": "a"}}}

    def site_yml(**extra):
        run = run_playbook(kube, "site.yml", dict(extra, frappe_manifest=str(write_manifest(tmp_path, obj, migration))))
        assert run.rc == 0, run.explain()
        return kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "sitemigrations",
                                                        "now").get("status") or {}

    # One round: the SiteMigration says Migrating, which the bench reads in the next to stop its workers.
    assert site_yml(frappe_converge_seconds=0)["phase"] == "Migrating"
    assert 0 not in worker_replicas(kube, namespace)
    site_yml(frappe_converge_seconds=0)
    assert worker_replicas(kube, namespace) == {0}
    # Left to itself: the Job once no worker runs, the site's schema recorded, the workers back.
    status = site_yml()
    print("site migration:", json.dumps(status, indent=1, sort_keys=True))
    assert (status["phase"], status["jobName"]) == ("Succeeded", "now-migrate"), status
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Migrated": "True"}
    job = kube.batch.read_namespaced_job("now-migrate", namespace)
    assert job.spec.template.spec.containers[0].image == bench_object(kube, namespace)["status"]["image"]
    site = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", "a")
    assert site["status"]["schema"] == {"job": "now-migrate", "versions": V1}
    assert 0 not in worker_replicas(kube, namespace)
    # Once: another run changes nothing and starts no Job.
    again = run_playbook(kube, "site.yml", {"frappe_manifest": str(write_manifest(tmp_path, obj, migration))})
    assert again.rc == 0 and again.changed == 0, again.explain()
