import pytest
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.quantity import k8s_quantity


@pytest.mark.parametrize("value, expected", [
    ("256Mi", 256 * 2 ** 20), ("1Gi", 2 ** 30), ("10Gi", 10 * 2 ** 30), ("1.5G", 1500000000),
    ("500m", 1), ("2", 2), (3, 3), ("1e3", 1000), ("0.5Ki", 512), (" 64Mi ", 64 * 2 ** 20),
])
def test_quantities(value, expected):
    assert k8s_quantity(value) == expected


@pytest.mark.parametrize("value", ["", "ten", "10GB", "1.2.3Gi", True, "Mi", None])
def test_invalid_quantities_name_the_field(value):
    with pytest.raises(InvalidInput, match="spec.redisConfig.maxMemory"):
        k8s_quantity(value, "spec.redisConfig.maxMemory")
