"""Unit tests of the worker_scaling_activity filter against ScaledObjects and HPAs as KEDA leaves them."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.filter.worker_scaling_activity import worker_scaling_activity

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
