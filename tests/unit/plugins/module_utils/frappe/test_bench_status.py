"""Unit tests of bench_status: conditions, phase and worker scaling from a plan and live objects."""

import copy

import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import apply_merge_patch
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import bench_rollout_pending, bench_settled, bench_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.progress import progress_reads

import test_bench_plan as bench_case
from test_bench_plan import SETTINGS, bench
from role_settings import REPO, role_variables


def complete_job(name):
    return {"kind": "Job", "metadata": {"name": name}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}


def plan(b=None, mode="apply", **live):
    """The plan of a bench whose configuration Job of these inputs has completed (unless live names the Jobs)."""
    if "jobs" not in live:
        live["jobs"] = [complete_job(bench_case.plan(b, mode, **dict(live))["config"]["job"])]
    return bench_case.plan(b, mode, **live)


def deployment(name, replicas=1, available=None, generation=1, progressing="True"):
    available = replicas if available is None else available
    return {"kind": "Deployment", "metadata": {"name": name, "generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": available,
                       "conditions": [{"type": "Progressing", "status": progressing}]}}


def statefulset(name):
    return {"kind": "StatefulSet", "metadata": {"name": name, "generation": 1}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1,
                       "currentRevision": "r1", "updateRevision": "r1"}}


def healthy(p):
    """The live objects of a bench whose every part is up, for plan p."""
    deployments = [deployment("erp-%s" % c) for c in ("gunicorn", "nginx", "socketio", "scheduler")]
    deployments += [deployment(p["names"]["worker"][t], replicas=w["replicas"]) for t, w in p["workers"].items()]
    return {"deployments": deployments,
            "statefulsets": [statefulset("erp-redis-cache"), statefulset("erp-redis-queue")],
            "jobs": [complete_job(p["config"]["job"])],
            "sites_claim": [{"kind": "PersistentVolumeClaim", "metadata": {"name": "erp-sites"},
                             "status": {"phase": "Bound"}}]}


def conditions(result):
    return dict((c["type"], c) for c in result["conditions"])


def test_a_bench_whose_every_part_is_up_is_ready_and_then_unchanged():
    p, b = plan(), bench()
    result = bench_status(p, healthy(p), b, SETTINGS)
    assert result["phase"] == "Ready" and all(c["status"] == "True" for c in result["conditions"]), result
    assert result["status"]["workerScaling"]["short"]["mode"] == "autoscaled" and not result["unchanged"]
    # What a site of the bench needs, published once.
    assert (result["status"]["image"], result["status"]["sitesClaim"]) == ("docker.io/frappe/erpnext:v15.45.0", "erp-sites")
    assert result["status"]["redis"] == {"cache": "erp-redis-cache:6379", "queue": "erp-redis-queue:6379",
                                         "passwordSecret": "erp-redis", "connectionSecret": ""}
    assert result["status"]["sitesAccessMode"] in ("ReadWriteMany", "ReadWriteOnce")
    assert result["status"]["frontend"] == {"service": "erp-nginx", "port": 8080}
    stored = copy.deepcopy(b)
    # What the API server keeps of the status merge patch: a null removes its key.
    stored["status"] = apply_merge_patch({}, dict(result["status"], conditions=[
        dict(c, lastTransitionTime="2026-11-27T08:00:00Z") for c in result["conditions"]]))
    assert bench_status(p, healthy(p), stored, SETTINGS)["unchanged"] is True
    # Settled only once the stored status is this one: the role then skips the status step.
    assert not bench_settled(b, result)
    assert bench_settled(stored, bench_status(p, healthy(p), stored, SETTINGS))


def test_a_bench_is_not_settled_while_anything_is_left_to_do():
    p, b = plan(), bench()
    settled = dict(unchanged=True, phase="Ready", converging=False, mode_changes=[], config_job="Complete")
    stored = dict(b, status={"phase": "Ready"})
    assert bench_settled(stored, settled)
    assert not bench_settled(b, settled), "a bench without a stored phase is marked Pending first"
    for change in ({"unchanged": False}, {"phase": "Degraded"}, {"converging": True}, {"config_job": "Failed"},
                   {"mode_changes": [{"worker": "short", "mode": "fallback", "previous": "autoscaled"}]}):
        assert not bench_settled(stored, dict(settled, **change)), change


def test_a_rollout_that_gave_up_is_not_ready_though_old_pods_serve():
    p = plan()
    live = healthy(p)
    live["deployments"][0] = deployment("erp-gunicorn", replicas=2, progressing="False")
    result = bench_status(p, live, bench(status={"phase": "Ready"}), SETTINGS)
    ready = conditions(result)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ComponentsNotReady")
    assert ready["message"] == "Not available yet: gunicorn." and result["phase"] == "Degraded"


def test_a_worker_waking_from_zero_is_starting_not_unavailable():
    p = plan()
    live = healthy(p)
    live["deployments"] = [d for d in live["deployments"] if d["metadata"]["name"] != "erp-worker-short"]
    live["deployments"].append(deployment("erp-worker-short", replicas=1, available=0, generation=2))
    result = bench_status(p, live, bench(), SETTINGS)
    workers = conditions(result)["WorkersReady"]
    assert result["phase"] == "Ready" and workers["status"] == "True"
    assert "Starting for KEDA (for example woken from zero): worker-short." in workers["message"]
    # KEDA's doing, not the reconcile's: nothing for another round to wait for.
    assert result["converging"] is False


def test_a_worker_keda_cannot_read_makes_the_bench_degraded_and_is_an_event():
    failing = {"kind": "ScaledObject", "metadata": {"name": "erp-worker-short",
                                                    "labels": {"app.kubernetes.io/component": "worker-short"}},
               "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "TriggerError", "message": "x"}]}}
    p = plan(scaledobjects=[failing])
    live = dict(healthy(p), scaledobjects=[failing])
    stored = bench(status={"phase": "Ready", "workerScaling": {"short": {"mode": "autoscaled"}, "long": {"mode": "autoscaled"}}})
    result = bench_status(p, live, stored, SETTINGS)
    assert (conditions(result)["WorkersReady"]["reason"], conditions(result)["Ready"]["reason"]) == (
        "ScalerFailing", "ScalerFailing")
    assert result["phase"] == "Degraded"
    assert result["status"]["workerScaling"]["short"]["kedaReady"] is False
    assert result["mode_changes"] == [{"worker": "short", "mode": "fallback", "previous": "autoscaled",
                                       "message": result["status"]["workerScaling"]["short"]["message"]}]


def test_missing_parts_are_named():
    p = plan(jobs=[])
    result = bench_status(p, {}, bench(), SETTINGS)
    assert result["phase"] == "Provisioning"
    assert conditions(result)["StorageReady"]["message"].startswith("The sites volume erp-sites is Missing")
    assert "erp-redis-cache, erp-redis-queue" in conditions(result)["RedisReady"]["message"]
    assert conditions(result)["Ready"]["message"].endswith(
        "erp-redis-cache, erp-redis-queue, sites volume, configuration Job %s." % p["config"]["job"])


def pod(name, job=None, **status):
    labels = {"vyogo.tech/bench": "erp"}
    if job:
        labels["batch.kubernetes.io/job-name"] = job
    return {"kind": "Pod", "metadata": {"name": name, "labels": labels}, "status": dict({"phase": "Pending"}, **status)}


UNSCHEDULABLE = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                  "message": "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."}]


def first_configuration(p):
    """A new bench: its volume and Redis are up, its processes not there yet (they wait for the Job)."""
    return dict(healthy(p), deployments=[])


def test_a_configuration_job_that_completed_after_the_plan_leaves_the_processes_to_the_next_reconcile():
    p = plan(jobs=[])
    result = bench_status(p, first_configuration(p), bench(), SETTINGS)
    config = conditions(result)["ConfigReady"]
    assert (config["status"], config["reason"]) == ("False", "JobCompleted") and result["phase"] != "Ready"
    assert result["converging"]


def test_a_running_configuration_job_is_progress_not_failure():
    p = plan(jobs=[])
    live = first_configuration(p)
    live["jobs"] = [{"kind": "Job", "metadata": {"name": p["config"]["job"]}, "status": {"active": 1}}]
    result = bench_status(p, live, bench(), SETTINGS)
    config = conditions(result)["ConfigReady"]
    assert (config["status"], config["reason"]) == ("False", "JobRunning")
    assert result["phase"] == "Provisioning" and conditions(result)["Ready"]["status"] == "False"
    assert conditions(result)["Ready"]["message"].endswith("configuration Job %s." % p["config"]["job"])
    assert result["converging"]


def test_a_bench_stays_ready_while_the_configuration_job_of_new_inputs_runs_and_converges_until_it_is_applied():
    """Another image: the processes it had keep serving until the reconcile after the Job updates them."""
    p = plan(jobs=[])
    live = healthy(p)
    stored = bench(status={"phase": "Ready"})
    for job_status, reason in (({"active": 1}, "JobRunning"),
                               ({"conditions": [{"type": "Complete", "status": "True"}]}, "JobCompleted")):
        live["jobs"] = [{"kind": "Job", "metadata": {"name": p["config"]["job"]}, "status": job_status}]
        result = bench_status(p, live, stored, SETTINGS)
        assert (conditions(result)["ConfigReady"]["status"], conditions(result)["ConfigReady"]["reason"]) == (
            "False", reason)
        assert result["phase"] == "Ready" and conditions(result)["Ready"]["status"] == "True"
        assert conditions(result)["ConfigReady"]["message"] in conditions(result)["Ready"]["message"]
        # playbooks/site.yml runs another round, which applies the processes of the new inputs.
        assert result["converging"]
    # Once they are applied (the plan sees the Job done), a Ready bench has nothing to converge.
    assert not bench_status(plan(), healthy(plan()), stored, SETTINGS)["converging"]
    # A failed Job of new inputs is not Ready (the reconcile fails with its message).
    live["jobs"] = [{"kind": "Job", "metadata": {"name": p["config"]["job"]},
                     "status": {"conditions": [{"type": "Failed", "status": "True"}]}}]
    assert conditions(bench_status(p, live, stored, SETTINGS))["Ready"]["status"] == "False"


def test_a_configuration_job_pod_that_cannot_be_scheduled_says_why_at_once():
    p = plan(jobs=[])
    live = first_configuration(p)
    live["jobs"] = [{"kind": "Job", "metadata": {"name": p["config"]["job"]}, "status": {"active": 1}}]
    live["pods"] = [pod("erp-config-x1", job=p["config"]["job"], conditions=UNSCHEDULABLE)]
    result = bench_status(p, live, bench(), SETTINGS)
    config, ready = conditions(result)["ConfigReady"], conditions(result)["Ready"]
    assert (config["status"], config["reason"]) == ("False", "Unschedulable")
    assert "pod has unbound immediate PersistentVolumeClaims" in config["message"]
    assert ready["reason"] == "Unschedulable" and "pod erp-config-x1: Unschedulable: 0/1 nodes" in ready["message"]
    # Nothing about a wrong image or bench directory: the scheduler's words only.
    assert "wrong image" not in config["message"] + ready["message"]


def test_a_process_whose_image_cannot_be_pulled_is_named_with_the_kubelet_message():
    p = plan()
    live = healthy(p)
    live["deployments"][0] = deployment("erp-gunicorn", available=0)
    live["pods"] = [pod("erp-gunicorn-abc", containerStatuses=[{"name": "gunicorn", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "frappe/erpnext:v99"'}}}])]
    result = bench_status(p, live, bench(), SETTINGS)
    ready = conditions(result)["Ready"]
    assert conditions(result)["ConfigReady"]["status"] == "True"
    assert ready["reason"] == "ImagePullBackOff"
    assert 'pod erp-gunicorn-abc: ImagePullBackOff: container gunicorn: Back-off pulling image "frappe/erpnext:v99"' \
        in ready["message"]


def test_rollout_pending_uses_the_same_predicates():
    p = plan()
    live = healthy(p)
    assert bench_rollout_pending(live) == []
    live["deployments"][1] = deployment("erp-nginx", generation=2)
    live["deployments"][1]["status"]["observedGeneration"] = 1
    assert bench_rollout_pending(live) == ["erp-nginx"]


def test_a_route_no_longer_wanted_leaves_the_status():
    """The status writer merges: a dropped route must be named with null, or a site would trust it."""
    p, b = plan(), bench()
    b["status"] = {"routes": {"old.example.org": "erp.example.com"}}
    p["routes"]["map"] = {"new.example.org": "erp.example.com"}
    routes = bench_status(p, healthy(p), b, SETTINGS)["status"]["routes"]
    assert routes == {"old.example.org": None, "new.example.org": "erp.example.com"}


def test_the_status_publishes_the_hosts_socketio_resolves_to_nginx():
    p = bench_case.plan(sites=[bench_case._site("crm", "crm.acme.test", domain="crm.example.org")],
                        services=[bench_case.nginx_service("10.96.0.42")])
    assert bench_status(p, healthy(p), bench_case.bench(), SETTINGS)["status"]["realtimeHosts"] == [
        "crm.acme.test", "crm.example.org"]
    # Before the nginx Service exists: none yet, so each site keeps asking.
    p = bench_case.plan(sites=[bench_case._site("crm", "crm.acme.test", domain="crm.example.org")])
    assert bench_status(p, healthy(p), bench_case.bench(), SETTINGS)["status"]["realtimeHosts"] == []


def running_job(name):
    return {"kind": "Job", "metadata": {"name": name}, "status": {"active": 1}}


def image_problem(name, reason="ImagePullBackOff", job=None):
    return pod(name, job=job, containerStatuses=[{"name": "bench", "state": {"waiting": {
        "reason": reason, "message": 'Back-off pulling image "frappe/erpnext:v99"'}}}])


def test_a_settled_bench_is_not_converging():
    p = plan()
    assert bench_status(p, healthy(p), bench(), SETTINGS)["converging"] is False


def test_a_bench_whose_configuration_job_runs_or_just_completed_is_converging():
    p = plan(jobs=[])
    live = healthy(p)
    live["jobs"] = [dict(running_job(p["config"]["job"]),
                         metadata={"name": p["config"]["job"], "uid": "job-uid", "resourceVersion": "41"})]
    result = bench_status(p, live, bench(), SETTINGS)
    # Running: the next round has something to wait for first, starting from the Job as this status saw it.
    assert result["converging"] is True and result["next_round_due"] is False
    job_keys = [s for s in result["seen"] if s["key"].endswith(" jobs")]
    assert [s["key"] for s in job_keys] == ["FrappeBench %s/%s jobs" % (p["namespace"], p["name"])]
    # Watched by readiness (progress.py): what the pause compares is that it has not finished.
    assert (job_keys[0]["uid"], job_keys[0]["state"]) == ("job-uid", "finished=")
    # Nothing can happen before it ends: the pause watches the Jobs alone, and saw nothing else.
    assert result["watch"] == ["jobs"] and result["seen"] == job_keys
    item = {"kind": "FrappeBench", "namespace": p["namespace"], "name": p["name"], "watch": result["watch"]}
    assert [r["kind"] for r in progress_reads([item])] == ["Job"]
    # Completed after the plan: the next reconcile applies the processes, with nothing to wait for.
    live["jobs"] = [complete_job(p["config"]["job"])]
    result = bench_status(p, live, bench(), SETTINGS)
    assert conditions(result)["ConfigReady"]["reason"] == "JobCompleted" and result["converging"] is True
    assert result["next_round_due"] is True
    assert bench_status(plan(), healthy(plan()), bench(), SETTINGS)["next_round_due"] is False


def test_a_moving_rollout_is_converging_and_one_that_gave_up_is_not():
    p = plan()
    live = healthy(p)
    live["deployments"][1] = deployment("erp-nginx", replicas=2, available=0)
    result = bench_status(p, live, bench(), SETTINGS)
    assert result["converging"] is True
    # Configured: the pause watches the rollouts too.
    assert result["watch"] is None and any(s["key"].endswith(" deployments") for s in result["seen"])
    # A worker KEDA is waking beside it does not end the wait, nor make it.
    live["deployments"] = [d for d in live["deployments"] if d["metadata"]["name"] != "erp-worker-short"]
    live["deployments"].append(deployment("erp-worker-short", replicas=1, available=0, generation=2))
    assert bench_status(p, live, bench(), SETTINGS)["converging"] is True
    live["deployments"][1] = deployment("erp-nginx", replicas=2, available=0, progressing="False")
    assert bench_status(p, live, bench(), SETTINGS)["converging"] is False
    live = healthy(p)
    live["statefulsets"][0]["status"].update(updateRevision="r2", readyReplicas=0)
    assert bench_status(p, live, bench(), SETTINGS)["converging"] is True


def test_a_bench_that_serves_stays_ready_through_a_rollout_and_a_scale_up_and_has_nothing_to_converge():
    """Ready means every component serves: the play has nothing left to do while a rollout finishes by itself."""
    p = plan()
    stored = bench(status={"phase": "Ready"})
    for moving in (deployment("erp-nginx", replicas=2, available=1),
                   deployment("erp-nginx", replicas=3, available=1, generation=2)):
        live = healthy(p)
        live["deployments"][1] = moving
        result = bench_status(p, live, stored, SETTINGS)
        assert result["phase"] == "Ready" and conditions(result)["Ready"]["status"] == "True"
        assert result["converging"] is False
    # A Redis that restarts (one replica) does not serve meanwhile.
    live = healthy(p)
    live["statefulsets"][0]["status"].update(updateRevision="r2", readyReplicas=0)
    assert conditions(bench_status(p, live, stored, SETTINGS))["Ready"]["status"] == "False"
    # A rollout that gave up is not Ready, even while the old replicas serve.
    live = healthy(p)
    live["deployments"][1] = deployment("erp-nginx", replicas=2, available=1, progressing="False")
    assert conditions(bench_status(p, live, stored, SETTINGS))["Ready"]["status"] == "False"


def test_a_pod_waiting_for_a_node_keeps_the_bench_converging():
    """A claim may still bind: the caller's bound, not this field, ends the wait."""
    p = plan(jobs=[])
    live = healthy(p)
    live["jobs"] = [running_job(p["config"]["job"])]
    live["pods"] = [pod("erp-config-x1", job=p["config"]["job"], conditions=UNSCHEDULABLE)]
    result = bench_status(p, live, bench(), SETTINGS)
    assert conditions(result)["ConfigReady"]["reason"] == "Unschedulable" and result["converging"] is True
    p = plan()
    live = healthy(p)
    live["deployments"][0] = deployment("erp-gunicorn", available=0)
    live["pods"] = [pod("erp-gunicorn-abc", conditions=UNSCHEDULABLE)]
    assert bench_status(p, live, bench(), SETTINGS)["converging"] is True


def test_a_pod_whose_image_cannot_be_pulled_stops_the_bench_converging():
    for reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
        # The configuration Job's pod.
        p = plan(jobs=[])
        live = healthy(p)
        live["jobs"] = [running_job(p["config"]["job"])]
        live["pods"] = [image_problem("erp-config-x1", reason, job=p["config"]["job"])]
        result = bench_status(p, live, bench(), SETTINGS)
        assert conditions(result)["ConfigReady"]["reason"] == reason and result["converging"] is False
        # A process's pod, its rollout not settled.
        p = plan()
        live = healthy(p)
        live["deployments"][0] = deployment("erp-gunicorn", available=0)
        live["pods"] = [image_problem("erp-gunicorn-abc", reason)]
        assert bench_status(p, live, bench(), SETTINGS)["converging"] is False, reason


def test_a_new_configuration_job_keeps_converging_though_an_old_process_cannot_pull_its_image():
    """The processes the Job's completion lets the next reconcile apply may be the fix (a corrected image)."""
    p = plan(jobs=[])
    live = healthy(p)
    live["jobs"] = [running_job(p["config"]["job"])]
    live["deployments"][0] = deployment("erp-gunicorn", available=0)
    live["pods"] = [image_problem("erp-gunicorn-abc")]
    assert bench_status(p, live, bench(), SETTINGS)["converging"] is True


def test_site_yml_pauses_between_rounds_as_long_as_the_operator_requeues_a_bench():
    """playbooks/site.yml's loop stands in for the operator's requeue: its longest pause is that period."""
    play = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())[0]
    period = role_variables("frappe_bench")["frappe_bench_requeue_period"]
    assert period.endswith("s") and play["vars"]["frappe_converge_pause_seconds"] == int(period[:-1])


def test_after_the_apply_that_creates_the_configuration_job_its_answer_is_the_state_no_read_again():
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_reads
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import (
        APPLIED_KEYS, state_after_apply, status_reads_again)
    # Every kind the plan applies is read under the key state_after_apply puts it (one read of each kind).
    reads = dict((r["key"], r["kind"]) for r in bench_reads(bench(), SETTINGS))
    assert all(reads.get(key) == kind for kind, key in APPLIED_KEYS.items()), (APPLIED_KEYS, reads)
    assert {step["kind"] for step in plan()["render"]} <= set(APPLIED_KEYS)

    new = bench_case.plan(None, "apply")  # a new bench: nothing read, its configuration Job still to create
    job = {"object": {"kind": "Job", "metadata": {"name": new["config"]["job"]}}}
    claim = {"object": {"kind": "PersistentVolumeClaim", "metadata": {"name": "erp-sites"}}}
    assert not new["config"]["done"]
    assert not status_reads_again(new, [claim, job], applies=True, rolling=False)
    # Anything else applied, a Job that runs or a rollout that moves is read again.
    assert status_reads_again(new, [claim], applies=True, rolling=False)
    assert status_reads_again(new, [], applies=False, rolling=False)
    assert status_reads_again(new, [claim, job], applies=True, rolling=True)
    assert status_reads_again(plan(), [claim], applies=True, rolling=False)
    assert not status_reads_again(plan(), [], applies=False, rolling=False)

    # The apply's answer replaces what was read before it, of this namespace only, and adds what is new.
    answer = {"result": {"results": [
        {"result": {"kind": "Job", "metadata": {"name": new["config"]["job"], "namespace": "erp-ns", "uid": "j1",
                                                "resourceVersion": "7"}, "status": {}}},
        {"result": {"kind": "PersistentVolumeClaim", "metadata": {"name": "erp-sites", "namespace": "erp-ns"},
                    "status": {"phase": "Pending"}}},
        {"result": {"kind": "StatefulSet", "metadata": {"name": "erp-redis-cache", "namespace": "elsewhere"}}}]}}
    before = {"jobs": [complete_job("erp-config-old")], "sites_claim": [], "statefulsets": []}
    state = state_after_apply(before, answer, "erp-ns")
    assert [j["metadata"]["name"] for j in state["jobs"]] == ["erp-config-old", new["config"]["job"]]
    assert state["sites_claim"][0]["status"]["phase"] == "Pending" and state["statefulsets"] == []
    assert before["jobs"] == [complete_job("erp-config-old")]  # what was read stays as it was
    # The status from it says the Job runs, and the pause after the round watches that Job as the apply left it.
    result = bench_status(new, before, bench(), SETTINGS, applied=answer)
    assert result["config_job"] != "Failed" and result["converging"]
    assert {"uid": "j1", "state": "finished="}.items() <= [s for s in result["seen"] if s["uid"] == "j1"][0].items()
