"""Unit tests of the readiness predicates against objects as their controllers leave them (fixtures/readiness-*)."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness

FIXTURES = Path(__file__).parent / "fixtures"
PREDICATES = {
    "available": readiness.deployment_available,
    "stuck": readiness.deployment_stuck,
    "finished": readiness.job_finished,
    "bound": readiness.claim_bound,
    # (reason, message) compared as the fixture's list.
    "blocked": lambda pod: list(readiness.pod_blocked(pod) or []) or None,
}


def _cases():
    for path in sorted(FIXTURES.glob("readiness-*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            yield pytest.param(case, id="%s: %s" % (path.stem, case["case"]))


def _predicate(kind, name):
    if name in PREDICATES:
        return PREDICATES[name]
    return getattr(readiness, "%s_%s" % (kind.lower(), name))


@pytest.mark.parametrize("case", list(_cases()))
def test_predicates_judge_each_fixture(case):
    kind = (case["object"] or {}).get("kind", "Deployment")
    for name, expected in case["expected"].items():
        assert _predicate(kind, name)(case["object"]) == expected, name


def test_every_kind_the_roles_wait_on_has_fixtures():
    kinds = set()
    for path in FIXTURES.glob("readiness-*.yaml"):
        kinds.update((c["object"] or {}).get("kind") for c in yaml.safe_load(path.read_text()))
    assert kinds >= {"Deployment", "StatefulSet", "Job", "PersistentVolumeClaim", "Pod"}


def test_rolling_names_what_has_not_settled():
    cases = [c for p in sorted(FIXTURES.glob("readiness-*.yaml")) for c in yaml.safe_load(p.read_text())]
    objects = [c["object"] for c in cases if c["object"] and c["object"]["kind"] in ("Deployment", "StatefulSet")]
    assert readiness.rolling(objects) == [
        o["metadata"]["name"] for o in objects if not readiness.SETTLED[o["kind"]](o)]
    assert "erp-redis-queue" in readiness.rolling(objects) and readiness.rolling([]) == []


def test_pods_blocked_names_each_pod_that_cannot_run():
    pods = [c["object"] for c in yaml.safe_load((FIXTURES / "readiness-pod.yaml").read_text())]
    blocked = readiness.pods_blocked(pods)
    assert [(name, reason) for name, reason, _message in blocked] == [
        ("erp-config-0123456789-abcde", "Unschedulable"), ("erp-config-0123456789-fghij", "ErrImagePull"),
        ("erp-gunicorn-5d4f8b7c9-xyz12", "ImagePullBackOff")]
    assert readiness.pods_blocked([]) == []
