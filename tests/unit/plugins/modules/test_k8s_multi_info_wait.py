"""k8s_multi_info's wait_until: read again in the same run until the condition holds or the timeout passes."""

import pytest
from kubernetes.dynamic.exceptions import ForbiddenError

from ansible_collections.vyogotech.frappe.plugins.modules import k8s_multi_info

JOB_READ = {"key": "jobs", "api_version": "batch/v1", "kind": "Job", "namespace": "shop",
            "label_selectors": ["vyogo.tech/bench=shop"]}


def job(version, *conditions, name="erp-config-1"):
    return {"kind": "Job", "metadata": {"name": name, "uid": "u-" + name, "resourceVersion": str(version)},
            "status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}


def test_changed_compares_each_objects_version_and_notices_one_more_or_one_fewer():
    first = {"jobs": [job(1)]}
    assert k8s_multi_info.versions(first) == k8s_multi_info.versions({"jobs": [job(1)]})
    assert k8s_multi_info.versions(first) != k8s_multi_info.versions({"jobs": [job(2, ("Complete", "True"))]})
    assert k8s_multi_info.versions(first) != k8s_multi_info.versions({"jobs": [job(1), job(1, name="erp-2")]})
    assert k8s_multi_info.versions(first) != k8s_multi_info.versions({"jobs": []})


def deployment(version, available, replicas=2, generation=1, observed=1, **conditions):
    return {"kind": "Deployment", "metadata": {"name": "erp-gunicorn", "uid": "u-d", "resourceVersion": str(version),
                                               "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": available,
                       "conditions": [{"type": t, "status": v} for t, v in conditions.items()]}}


def test_by_readiness_a_write_that_changes_no_status_decision_is_no_move():
    by_readiness = {"jobs": "readiness", "deployments": "readiness"}
    first = k8s_multi_info.versions({"jobs": [job(1)], "deployments": [deployment(1, 1, replicas=3)]}, by_readiness)
    # The Job controller records the running pod; one more replica of three turns available: nothing a status says.
    running = {"jobs": [dict(job(2), status={"active": 1, "ready": 1})], "deployments": [deployment(2, 2, replicas=3)]}
    assert k8s_multi_info.versions(running, by_readiness) == first
    # ...which any write would count.
    assert k8s_multi_info.versions(running) != k8s_multi_info.versions(
        {"jobs": [job(1)], "deployments": [deployment(1, 1, replicas=3)]})
    # What a status decision takes: the Job ends, the rollout settles, stops serving or gives up, another Job.
    for moved in ({"jobs": [job(3, ("Complete", "True"))], "deployments": [deployment(1, 1, replicas=3)]},
                  {"jobs": [job(3, ("Failed", "True"))], "deployments": [deployment(1, 1, replicas=3)]},
                  {"jobs": [job(1)], "deployments": [deployment(3, 3, replicas=3)]},
                  {"jobs": [job(1)], "deployments": [deployment(3, 0, replicas=3)]},
                  {"jobs": [job(1)], "deployments": [deployment(3, 1, replicas=3, Progressing="False")]},
                  {"jobs": [job(1), job(1, name="erp-config-2")], "deployments": [deployment(1, 1, replicas=3)]}):
        assert k8s_multi_info.versions(moved, by_readiness) != first, moved


def test_the_wait_by_readiness_goes_on_past_a_job_that_records_its_pod_and_ends_when_it_completes(monkeypatch):
    read = dict(JOB_READ, moves_by="readiness")
    calls = reads_in_turn(monkeypatch, [{"jobs": [dict(job(2), status={"active": 1})]},
                                        {"jobs": [dict(job(3), status={"active": 1, "ready": 1})]},
                                        {"jobs": [job(4, ("Complete", "True"))]}])
    clock = Clock()
    since = [{"key": "jobs", "uid": "u-erp-config-1", "state": "finished="}]
    objects, unserved, wait = k8s_multi_info.read_until(None, params(reads=[read], wait_since=since), clock=clock,
                                                        sleep=clock.sleep)
    assert len(calls) == 3 and wait == {"waited": 1.0, "wait_timed_out": False}


class Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def reads_in_turn(monkeypatch, answers):
    calls = []

    def read_all(client, reads, read_one_by_name=False, served=None):
        calls.append(reads)
        return answers[min(len(calls), len(answers)) - 1], []
    monkeypatch.setattr(k8s_multi_info, "read_all", read_all)
    return calls


def params(**extra):
    return dict({"reads": [JOB_READ], "read_one_by_name": False, "wait_until": "changed",
                 "wait_timeout": 10, "wait_sleep": 0.5}, **extra)


def test_the_wait_reads_again_until_a_job_moves(monkeypatch):
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(1)]}, {"jobs": [job(1)]}, {"jobs": [job(2, ("Complete", "True"))]}])
    clock = Clock()
    objects, unserved, wait = k8s_multi_info.read_until(None, params(), clock=clock, sleep=clock.sleep)
    assert len(calls) == 3 and clock.sleeps == [0.5, 0.5]
    assert objects["jobs"][0]["status"]["conditions"][0]["type"] == "Complete"
    assert wait == {"waited": 1.0, "wait_timed_out": False}


def test_with_wait_since_what_moved_before_the_wait_began_ends_it_at_once(monkeypatch):
    # The caller read version 1; the Job completed before this run's first read.
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(2, ("Complete", "True"))]}])
    clock = Clock()
    since = [{"key": "jobs", "uid": "u-erp-config-1", "state": "1"}]
    objects, unserved, wait = k8s_multi_info.read_until(None, params(wait_since=since), clock=clock, sleep=clock.sleep)
    assert len(calls) == 1 and clock.sleeps == [] and wait == {"waited": 0.0, "wait_timed_out": False}
    # Without it, the same first read is only the start of the wait.
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(2, ("Complete", "True"))]}])
    clock = Clock()
    objects, unserved, wait = k8s_multi_info.read_until(None, params(wait_timeout=2), clock=clock, sleep=clock.sleep)
    assert wait["wait_timed_out"]


def test_with_wait_since_nothing_moved_waits_as_before(monkeypatch):
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(1)]}, {"jobs": [job(1)]}, {"jobs": [job(2, ("Complete", "True"))]}])
    clock = Clock()
    since = [{"key": "jobs", "uid": "u-erp-config-1", "state": "1"}]
    objects, unserved, wait = k8s_multi_info.read_until(None, params(wait_since=since), clock=clock, sleep=clock.sleep)
    assert len(calls) == 3 and wait == {"waited": 1.0, "wait_timed_out": False}


def test_the_wait_ends_at_the_timeout_with_the_last_read_and_says_so(monkeypatch):
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(1)]}])
    clock = Clock()
    objects, unserved, wait = k8s_multi_info.read_until(None, params(wait_timeout=2), clock=clock, sleep=clock.sleep)
    assert wait == {"waited": 2.0, "wait_timed_out": True}
    assert len(calls) == 5 and objects == {"jobs": [job(1)]}


def test_without_wait_until_it_reads_once_and_returns_no_wait_figures(monkeypatch):
    calls = reads_in_turn(monkeypatch, [{"jobs": []}])
    objects, unserved, wait = k8s_multi_info.read_until(None, params(wait_until=None))
    assert len(calls) == 1 and wait == {}


def test_a_failed_read_while_waiting_is_tried_again_and_only_the_last_error_fails(monkeypatch):
    # The first read fails, the second is what later reads are compared with, the third has moved.
    answers = [ConnectionError("connection refused"), {"jobs": [job(1)]}, {"jobs": [job(2, ("Complete", "True"))]}]

    def read_all(client, reads, read_one_by_name=False, served=None):
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer, []
    monkeypatch.setattr(k8s_multi_info, "read_all", read_all)
    clock = Clock()
    objects, unserved, wait = k8s_multi_info.read_until(None, params(), clock=clock, sleep=clock.sleep)
    assert wait == {"waited": 1.0, "wait_timed_out": False}

    answers[:] = [ConnectionError("connection refused")]
    clock = Clock()
    try:
        k8s_multi_info.read_until(None, params(wait_timeout=1), clock=clock, sleep=clock.sleep)
    except ConnectionError as exc:
        assert "refused" in str(exc) and clock.sleeps == [0.5, 0.5]
    else:
        raise AssertionError("the last error must fail the wait")


class ForbiddingClient:
    """A dynamic client whose API server forbids every read (RBAC without them)."""

    def resource(self, kind, api_version):
        return type("Resource", (), {"namespaced": True, "kind": kind, "group_version": api_version})()

    def get(self, resource, **params):
        raise ForbiddenError(type("E", (), {"status": 403, "reason": "Forbidden", "body": "", "headers": {}})())


def test_an_optional_read_that_is_forbidden_finds_nothing_and_another_fails():
    optional = dict(JOB_READ, optional=True)
    assert k8s_multi_info.read_all(ForbiddingClient(), [optional]) == ({"jobs": []}, ["jobs"])
    with pytest.raises(Exception, match="403"):
        k8s_multi_info.read_all(ForbiddingClient(), [JOB_READ])


def test_with_wait_reads_the_wait_watches_them_and_then_reads_the_reads_once(monkeypatch):
    """The pause between two rounds of site.yml and the next round's read, in one module run."""
    round_read = {"key": "deployments", "api_version": "apps/v1", "kind": "Deployment", "namespace": "shop"}
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(1)]}, {"jobs": [job(2, ("Complete", "True"))]},
                                        {"deployments": [{"kind": "Deployment", "metadata": {"name": "erp-web"}}]}])
    clock = Clock()
    objects, unserved, wait = k8s_multi_info.read_until(
        None, params(reads=[round_read], wait_reads=[JOB_READ]), clock=clock, sleep=clock.sleep)
    assert calls == [[JOB_READ], [JOB_READ], [round_read]]
    assert objects == {"deployments": [{"kind": "Deployment", "metadata": {"name": "erp-web"}}]}
    assert wait == {"waited": 0.5, "wait_timed_out": False}
    # A wait that times out reads them all the same.
    calls = reads_in_turn(monkeypatch, [{"jobs": [job(1)]}, {"jobs": [job(1)]}, {"deployments": []}])
    clock = Clock()
    objects, unserved, wait = k8s_multi_info.read_until(
        None, params(reads=[round_read], wait_reads=[JOB_READ], wait_timeout=0.8), clock=clock, sleep=clock.sleep)
    assert calls == [[JOB_READ], [JOB_READ], [round_read]] and wait["wait_timed_out"] and objects == {"deployments": []}
