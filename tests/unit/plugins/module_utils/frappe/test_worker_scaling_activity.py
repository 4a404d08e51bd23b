"""Unit tests of the worker_scaling_activity filter against ScaledObjects and HPAs as KEDA leaves them."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.scaling_activity import (
    keda_scaler_errors, worker_scaling_activity)

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("keda-*.yaml"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_activity_from_fixture(fixture):
    case = yaml.safe_load(fixture.read_text())
    assert worker_scaling_activity(case["scaledobject"], case["hpa"]) == case["expected"]


def test_there_are_fixtures_for_busy_idle_and_failing():
    assert {f.stem for f in FIXTURES} == {"keda-busy-worker", "keda-idle-at-zero", "keda-redis-unreachable"}


def test_no_scaledobject_yet():
    assert worker_scaling_activity(None) == {"ready": None, "active": None, "reason": "NoScaledObject",
                                             "message": "", "activeTriggers": [], "backlog": None}


def test_a_value_metric_is_the_total_not_per_replica():
    so = yaml.safe_load(FIXTURES[0].read_text())["scaledobject"]
    hpa = {"status": {"currentReplicas": 3, "currentMetrics": [{"type": "External", "external": {
        "metric": {"name": so["status"]["externalMetricNames"][0]}, "current": {"value": "12"}}}]}}
    assert worker_scaling_activity(so, hpa)["backlog"] == 12


def _labelled(scaledobject, component):
    return dict(scaledobject, metadata=dict(scaledobject.get("metadata") or {},
                                            labels={"app.kubernetes.io/component": component}))


def test_scaler_errors_name_each_worker_keda_cannot_scale_with_its_reason():
    failing = yaml.safe_load((FIXTURES[0].parent / "keda-redis-unreachable.yaml").read_text())["scaledobject"]
    idle = yaml.safe_load((FIXTURES[0].parent / "keda-idle-at-zero.yaml").read_text())["scaledobject"]
    # KEDA v2.20's scale loop at zero replicas when the scaler errors (scale_scaledobjects.go, RequestScale).
    trigger_error = {"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "TriggerError",
         "message": "Triggers defined in ScaledObject are not working correctly"},
        {"type": "Active", "status": "False", "reason": "ScalerNotActive"}]}}
    errors = keda_scaler_errors([_labelled(failing, "worker-short"), _labelled(idle, "worker-long"),
                                 _labelled(trigger_error, "worker-default")])
    assert errors == {
        "short": "ScaledObjectCheckFailed: " + failing["status"]["conditions"][0]["message"],
        "default": "TriggerError: Triggers defined in ScaledObject are not working correctly"}


def test_scaler_errors_ignore_unknown_readiness_and_objects_of_no_worker():
    unknown = {"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "PartialTriggerError"}]}}
    not_ready = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "TriggerError"}]}}
    assert keda_scaler_errors([_labelled(unknown, "worker-short"), _labelled({}, "worker-long"),
                               _labelled(not_ready, "gunicorn"), {}]) == {}
    assert keda_scaler_errors(None) == {}
