"""k8s_requests: the helpers k8s_status builds its REST paths with."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_requests import find_resource, split_api_version

KEDA_RESOURCES = [
    {"name": "scaledobjects", "singularName": "scaledobject", "namespaced": True, "kind": "ScaledObject",
     "verbs": ["get", "list"], "shortNames": ["so"]},
    {"name": "scaledobjects/status", "singularName": "", "namespaced": True, "kind": "ScaledObject",
     "verbs": ["get", "patch", "update"]},
    {"name": "triggerauthentications", "singularName": "triggerauthentication", "namespaced": True,
     "kind": "TriggerAuthentication", "verbs": ["get", "list"], "shortNames": ["ta", "triggerauth"]},
]


def test_split_api_version():
    assert split_api_version("vyogo.tech/v1alpha1") == ("vyogo.tech", "v1alpha1")
    assert split_api_version("v1") == ("", "v1")
    for bad in ("", "a/b/c", "/v1", "g/"):
        with pytest.raises(ValueError):
            split_api_version(bad)


def test_find_resource_matching():
    assert find_resource(KEDA_RESOURCES, "ScaledObject")["name"] == "scaledobjects"
    assert find_resource(KEDA_RESOURCES, "scaledobject")["name"] == "scaledobjects"
    assert find_resource(KEDA_RESOURCES, "so")["name"] == "scaledobjects"
    assert find_resource(KEDA_RESOURCES, "triggerauthentications")["kind"] == "TriggerAuthentication"
    assert find_resource(KEDA_RESOURCES, "ScaledJob") is None
