"""Unit tests of image_probe: the digest and versions a bench's configuration Job reports, and the pin."""

import copy
import json

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import apply_merge_patch
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import bench_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.image_probe import (
    app_versions, bench_image, check_due, pinned_reference, probe_of, repository_digest)

from test_bench_plan import NFS, SETTINGS, STANDARD, bench, plan
from test_bench_status import healthy

DIGEST = "sha256:" + "3f" * 32
IMAGE = "docker.io/frappe/erpnext:v15.45.0"
# What `bench version --format json` prints (frappe/commands/utils.py get_version; images have no .git).
VERSIONS_OUTPUT = json.dumps([{"commit": "", "app": "erpnext", "branch": "", "version": "15.45.0"},
                              {"commit": "", "app": "frappe", "branch": "", "version": "15.55.1"}], indent=4)


FINISHED = "2026-11-27T08:00:00Z"


def config_pod(job, phase="Succeeded", exit_code=0, image_id="docker.io/frappe/erpnext@" + DIGEST,
               message=VERSIONS_OUTPUT, label="batch.kubernetes.io/job-name", container="config", finished=FINISHED):
    """A configuration Job's pod (or a periodic look's: container probe) as the kubelet leaves it."""
    return {"kind": "Pod", "metadata": {"name": job + "-x7k2p", "labels": {label: job}},
            "status": {"phase": phase, "containerStatuses": [{
                "name": container, "image": IMAGE, "imageID": image_id,
                "state": {"terminated": {"exitCode": exit_code, "message": message, "finishedAt": finished}}}]}}


@pytest.mark.parametrize("image_id, digest", [
    ("docker.io/frappe/erpnext@" + DIGEST, DIGEST),                 # containerd
    ("docker-pullable://frappe/erpnext@" + DIGEST, DIGEST),          # Docker
    ("docker://" + DIGEST, ""),                                      # built on the node: no registry serves it
    ("", ""),                                                        # not started, or a kubelet that says nothing
    ("docker.io/frappe/erpnext@sha256:abc", ""),                     # not a digest
])
def test_only_a_repository_digest_is_something_to_pin_to(image_id, digest):
    assert repository_digest(image_id) == digest


@pytest.mark.parametrize("image, pinned", [
    ("docker.io/frappe/erpnext:v15.45.0", "docker.io/frappe/erpnext@" + DIGEST),
    ("registry.example.com:5000/acme/erp:version-15", "registry.example.com:5000/acme/erp@" + DIGEST),
    ("registry.example.com:5000/acme/erp", "registry.example.com:5000/acme/erp@" + DIGEST),
    ("frappe/erpnext@sha256:" + "00" * 32, "frappe/erpnext@" + DIGEST),
    ("frappe/erpnext:v15@sha256:" + "00" * 32, "frappe/erpnext@" + DIGEST),
])
def test_the_pin_keeps_the_repository_and_drops_the_tag(image, pinned):
    assert pinned_reference(image, DIGEST) == pinned
    assert pinned_reference(image, "") == image


def test_versions_come_from_bench_version_and_nothing_else():
    assert app_versions(VERSIONS_OUTPUT) == {"erpnext": "15.45.0", "frappe": "15.55.1"}
    # An older bench without --format, a message cut at the kubelet's 4096 bytes, an empty one.
    for message in ("frappe 15.55.1\nerpnext 15.45.0", VERSIONS_OUTPUT[:60], "", None, '{"app": "frappe"}'):
        assert app_versions(message) == {}


def test_the_probe_is_the_succeeded_pod_of_that_job():
    found = probe_of([config_pod("erp-config-old"), config_pod("erp-config-new")], "erp-config-new", IMAGE)
    assert found == {"reference": IMAGE, "digest": DIGEST, "job": "erp-config-new", "checkedAt": FINISHED,
                     "versions": {"erpnext": "15.45.0", "frappe": "15.55.1"}}
    # The label of Job controllers before Kubernetes 1.27.
    assert probe_of([config_pod("erp-config-a", label="job-name")], "erp-config-a", IMAGE)["digest"] == DIGEST
    # A pod that failed or still runs says nothing about the image.
    assert probe_of([config_pod("erp-config-a", phase="Failed", exit_code=1)], "erp-config-a", IMAGE) is None
    assert probe_of([config_pod("erp-config-a", phase="Running")], "erp-config-a", IMAGE) is None
    assert probe_of([config_pod("erp-config-b")], "erp-config-a", IMAGE) is None


def test_a_stored_probe_holds_only_for_the_same_image():
    stored = {"reference": IMAGE, "digest": DIGEST, "versions": {"frappe": "15.55.1"}, "job": "erp-config-old"}
    # The Job's pod is gone (or a Job of other inputs on the same image has not reported yet).
    assert bench_image(IMAGE, "erp-config-new", [], stored) == (stored, "docker.io/frappe/erpnext@" + DIGEST)
    # Another image: what the old one was is no answer; it runs as written until its Job reports.
    assert bench_image("docker.io/frappe/erpnext:v15.46.0", "erp-config-new", [], stored) == (
        None, "docker.io/frappe/erpnext:v15.46.0")
    # A tag that moved: the new Job's pod reports another digest, which wins.
    moved = "sha256:" + "9a" * 32
    probe, run = bench_image(IMAGE, "erp-config-new", [config_pod("erp-config-new", image_id="x@" + moved)], stored)
    assert (probe["digest"], run) == (moved, "docker.io/frappe/erpnext@" + moved)


def test_the_processes_run_the_digest_the_configuration_job_ran_on():
    unprobed = plan()
    assert unprobed["run_image"] == IMAGE and unprobed["image_probe"] is None
    job = unprobed["config"]["job"]
    p = plan(config_pods=[config_pod(job)])
    assert p["image"] == IMAGE and p["run_image"] == "docker.io/frappe/erpnext@" + DIGEST
    # The Job itself stays on the image as written: it is the probe. Its name does not depend on the probe.
    assert p["config"]["job"] == job
    # The status publishes the pin for the sites' Jobs, and what was found.
    result = bench_status(p, healthy(p), bench(), SETTINGS)
    assert result["status"]["image"] == "docker.io/frappe/erpnext@" + DIGEST
    assert result["status"]["imageProbe"] == {"reference": IMAGE, "digest": DIGEST, "job": job, "checkedAt": FINISHED,
                                              "versions": {"erpnext": "15.45.0", "frappe": "15.55.1"}}
    # Stored, the probe keeps the pin when the pod is gone, and the status stays as it is.
    stored = copy.deepcopy(bench())
    stored["status"] = apply_merge_patch({}, dict(result["status"], conditions=[
        dict(c, lastTransitionTime="2026-11-27T08:00:00Z") for c in result["conditions"]]))
    again = plan(stored)
    assert again["run_image"] == "docker.io/frappe/erpnext@" + DIGEST
    assert bench_status(again, healthy(again), stored, SETTINGS)["unchanged"] is True


def test_a_new_image_drops_the_old_probe_but_runs_nothing_new_before_its_own():
    """Until the configuration Job of the new image reports, the processes keep the digest they run."""
    old = {"reference": "docker.io/frappe/erpnext:v15.44.0", "digest": DIGEST, "versions": {"frappe": "15.44.0"},
           "job": "erp-config-old"}
    running = "docker.io/frappe/erpnext@" + DIGEST
    b = bench(status={"phase": "Ready", "imageProbe": old, "image": running})
    p = plan(b)
    assert p["run_image"] == running
    result = bench_status(p, healthy(p), b, SETTINGS)
    assert result["status"]["image"] == running and result["status"]["imageProbe"] is None
    # What runs is still known after the old probe is gone: where an upgrade starts from.
    assert result["status"]["appVersions"] == {"frappe": "15.44.0"}
    assert "imageProbe" not in apply_merge_patch(b["status"], result["status"])


def completed(job):
    return {"metadata": {"name": job}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}


def probed(checked_at, digest=DIGEST):
    return {"phase": "Ready", "image": "docker.io/frappe/erpnext@" + digest,
            "imageProbe": {"reference": IMAGE, "digest": digest, "versions": {"frappe": "15.55.1"},
                           "job": "erp-config-old", "checkedAt": checked_at}}


NOW = 1796371200  # 2026-12-04T08:00:00Z


def planned(b, now, done=True):
    """The plan of `b` at `now`, its configuration Job completed or not."""
    live = {"storage_classes": [STANDARD, NFS], "api_groups": {"keda.sh/v1alpha1": True}}
    job = bench_plan(b, live=dict(live), settings=SETTINGS, config_script="echo configure")["config"]["job"]
    return bench_plan(b, live=dict(live, jobs=[completed(job)] if done else []), settings=SETTINGS,
                      config_script="echo configure", check_script="echo look", now=now)


def test_the_image_is_looked_at_again_once_per_check_interval_and_never_in_between():
    fresh = planned(bench(status=probed("2026-12-04T07:00:00Z")), NOW)
    assert fresh["check"] is None and "config/check-job.yaml.j2" not in [s["template"] for s in fresh["render"]]
    stale = bench(status=probed("2026-12-03T07:59:59Z"))
    due = planned(stale, NOW)
    assert due["check"]["script"] == "echo look" and due["check"]["job"].startswith("erp-probe-")
    assert [s["name"] for s in due["render"] if s["template"] == "config/check-job.yaml.j2"] == [due["check"]["job"]]
    # The same look until it reports; another the next interval if it never does.
    assert planned(stale, NOW + 3600)["check"]["job"] == due["check"]["job"]
    assert planned(stale, NOW + 86400)["check"]["job"] != due["check"]["job"]
    # Not while a configuration Job runs (it looks itself), nor with 0.
    assert planned(stale, NOW, done=False)["check"] is None
    assert planned(bench(status=probed("2026-01-01T00:00:00Z"), upgrade={"checkInterval": "0"}), NOW)["check"] is None


def test_a_look_that_found_another_digest_is_the_probe_and_one_without_a_digest_only_says_when():
    stored = probed("2026-12-03T07:00:00Z")["imageProbe"]
    moved = "sha256:" + "7c" * 32
    newer = config_pod("erp-probe-1", image_id="docker.io/frappe/erpnext@" + moved, container="probe",
                       finished="2026-12-04T08:01:00Z")
    probe, run = bench_image(IMAGE, "erp-config-old", [config_pod("erp-config-old")], stored, "erp-probe-1")
    assert probe == stored and run.endswith(DIGEST)  # the look has not reported: the newest known
    probe, run = bench_image(IMAGE, "erp-config-old", [config_pod("erp-config-old"), newer], stored, "erp-probe-1")
    assert (probe["digest"], probe["job"], run) == (moved, "erp-probe-1", "docker.io/frappe/erpnext@" + moved)
    # A runtime that reports no repository digest: what is known stands, looked at now.
    blind = config_pod("erp-probe-1", image_id="docker://" + moved, container="probe", finished="2026-12-04T08:01:00Z")
    probe, run = bench_image(IMAGE, "erp-config-old", [blind], stored, "erp-probe-1")
    assert probe == dict(stored, checkedAt="2026-12-04T08:01:00Z") and run.endswith(DIGEST)
    # An older configuration pod still there does not undo a newer look that was stored.
    later = dict(stored, digest=moved, checkedAt="2026-12-04T08:01:00Z", job="erp-probe-1")
    assert bench_image(IMAGE, "erp-config-old", [config_pod("erp-config-old")], later)[0] == later


@pytest.mark.parametrize("given", ["1d", "4m", "24", "h", "-1h"])
def test_a_check_interval_that_is_not_one_is_refused_naming_the_field(given):
    p = plan(bench(upgrade={"checkInterval": given}))
    assert "spec.upgrade.checkInterval" in p["errors"][0], p["errors"]


def test_check_due_reads_the_kubelets_time():
    assert check_due({"checkedAt": "2026-12-03T08:00:00Z"}, 86400, NOW)
    assert not check_due({"checkedAt": "2026-12-03T08:00:01Z"}, 86400, NOW)
    assert check_due({"reference": IMAGE}, 86400, NOW)  # recorded before looks were timed: once
    assert not check_due(None, 86400, NOW) and not check_due({"checkedAt": ""}, 0, NOW)
