"""Unit tests of the lease_renewed filter, with Leases as the KEDA operator leaves them."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.lease import lease_renewed

NOW = "2026-11-27T06:00:00.000000Z"


def lease(renew="2026-11-27T05:59:55.123456Z", holder="keda-operator-7d9f_1f2e", duration=15):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "operator.keda.sh", "namespace": "keda"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": renew,
                     "acquireTime": "2026-11-27T05:00:00.000000Z", "leaseTransitions": 1}}


@pytest.mark.parametrize("obj, grace, expected", [
    (lease(), 0, True),
    (lease(renew="2026-11-27T05:59:45Z"), 0, True),           # exactly one duration ago
    (lease(renew="2026-11-27T05:59:40.5Z"), 0, False),         # gone
    (lease(renew="2026-11-27T05:59:40.5Z"), 30, True),         # within the grace
    (lease(renew="2026-11-27T05:50:00.000000Z"), 30, False),
    (lease(holder=""), 0, False),                              # released on a clean shutdown
    ({}, 0, None),                                             # leader election off
    (None, 0, None),
])
def test_lease_renewed(obj, grace, expected):
    assert lease_renewed(obj, now=NOW, grace_seconds=grace) is expected
