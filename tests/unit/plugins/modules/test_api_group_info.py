"""api_group_info: argument handling and answers from a fake API server (the connection options are kubernetes.core's)."""

import socket

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_requests import find_resource, split_api_version
from ansible_collections.vyogotech.frappe.plugins.modules import api_group_info

KEDA_GROUP = {
    "kind": "APIGroup",
    "apiVersion": "v1",
    "name": "keda.sh",
    "versions": [{"groupVersion": "keda.sh/v1alpha1", "version": "v1alpha1"}],
    "preferredVersion": {"groupVersion": "keda.sh/v1alpha1", "version": "v1alpha1"},
}
KEDA_RESOURCES = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "keda.sh/v1alpha1",
    "resources": [
        {"name": "scaledobjects", "singularName": "scaledobject", "namespaced": True, "kind": "ScaledObject",
         "verbs": ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
         "shortNames": ["so"], "categories": ["keda"]},
        {"name": "scaledobjects/status", "singularName": "", "namespaced": True, "kind": "ScaledObject",
         "verbs": ["get", "patch", "update"]},
        {"name": "triggerauthentications", "singularName": "triggerauthentication", "namespaced": True,
         "kind": "TriggerAuthentication", "verbs": ["get", "list"], "shortNames": ["ta", "triggerauth"]},
        {"name": "clustertriggerauthentications", "singularName": "clustertriggerauthentication",
         "namespaced": False, "kind": "ClusterTriggerAuthentication", "verbs": ["get", "list"]},
    ],
}


def serve_keda(fake_api):
    fake_api.routes[("GET", "/apis/keda.sh")] = (200, KEDA_GROUP)
    fake_api.routes[("GET", "/apis/keda.sh/v1alpha1")] = (200, KEDA_RESOURCES)


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# --- argument handling --------------------------------------------------------

def test_group_is_required(run_module, clean_k8s_env):
    failed, result = run_module(api_group_info, {})
    assert failed
    assert "missing required arguments: group" in result["msg"]


def test_unknown_option_rejected(run_module, clean_k8s_env):
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kindd": "X"})
    assert failed and "kindd" in result["msg"]


@pytest.mark.parametrize("given,expected", [
    ("core", ""), ("Core", ""), (" core ", ""), ("", ""), ("v1", ""), ("keda.sh", "keda.sh"), (" apps ", "apps"),
])
def test_normalize_group(given, expected):
    assert api_group_info.normalize_group(given) == expected


def test_group_with_version_is_rejected(run_module, clean_k8s_env):
    failed, result = run_module(api_group_info, {"group": "keda.sh/v1alpha1"})
    assert failed and "version option" in result["msg"]


def test_split_api_version():
    assert split_api_version("vyogo.tech/v1alpha1") == ("vyogo.tech", "v1alpha1")
    assert split_api_version("v1") == ("", "v1")
    for bad in ("", "a/b/c", "/v1", "g/"):
        with pytest.raises(ValueError):
            split_api_version(bad)


def test_find_resource_matching():
    resources = KEDA_RESOURCES["resources"]
    assert find_resource(resources, "ScaledObject")["name"] == "scaledobjects"
    assert find_resource(resources, "scaledobject")["name"] == "scaledobjects"
    assert find_resource(resources, "so")["name"] == "scaledobjects"
    assert find_resource(resources, "triggerauthentications")["kind"] == "TriggerAuthentication"
    assert find_resource(resources, "ScaledJob") is None


# --- against a fake API server -------------------------------------------------

def test_group_version_kind_served(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "version": "v1alpha1", "kind": "ScaledObject",
                                                 "host": fake_api.url, "api_key": "test-token"})
    assert not failed, result
    assert result["changed"] is False
    assert result["served"] is True
    assert result["group"] == "keda.sh"
    assert result["group_served"] is True
    assert result["versions"] == ["v1alpha1"]
    assert result["preferred_version"] == "v1alpha1"
    assert result["version_served"] is True
    assert result["kind_served"] is True
    assert result["kind_api_version"] == "keda.sh/v1alpha1"
    resource = result["resource"]
    assert resource["name"] == "scaledobjects"
    assert resource["namespaced"] is True
    assert resource["kind"] == "ScaledObject"
    assert "patch" in resource["verbs"]
    assert resource["subresources"] == ["status"]
    assert [r["path"] for r in fake_api.requests] == ["/apis/keda.sh", "/apis/keda.sh/v1alpha1"]
    assert fake_api.header_values(fake_api.requests[0], "Accept") == ["application/json"]


def test_group_only(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": fake_api.url, "api_key": "test-token"})
    assert not failed
    assert result["served"] is True
    assert result["version_served"] is None and result["kind_served"] is None and result["resource"] is None
    assert [r["path"] for r in fake_api.requests] == ["/apis/keda.sh"]


def test_missing_group_is_a_normal_answer(run_module, fake_api):
    failed, result = run_module(api_group_info, {"group": "k8s.mariadb.com", "version": "v1alpha1", "kind": "MariaDB",
                                                 "host": fake_api.url, "api_key": "test-token"})
    assert not failed, result
    assert result["changed"] is False
    assert result["served"] is False
    assert result["group_served"] is False
    assert result["versions"] == []
    assert result["preferred_version"] is None
    assert result["version_served"] is False
    assert result["kind_served"] is False
    assert result["resource"] is None


def test_version_not_served(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "version": "v1", "kind": "ScaledObject",
                                                 "host": fake_api.url, "api_key": "test-token"})
    assert not failed
    assert (result["group_served"], result["version_served"], result["kind_served"], result["served"]) == \
        (True, False, False, False)


def test_kind_not_served(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kind": "ScaledJob", "host": fake_api.url, "api_key": "test-token"})
    assert not failed
    assert (result["group_served"], result["kind_served"], result["served"], result["resource"]) == \
        (True, False, False, None)


def test_kind_found_in_non_preferred_version(run_module, fake_api):
    fake_api.routes[("GET", "/apis/cert-manager.io")] = (200, {
        "kind": "APIGroup", "name": "cert-manager.io",
        "versions": [{"groupVersion": "cert-manager.io/v1", "version": "v1"},
                     {"groupVersion": "cert-manager.io/v1beta1", "version": "v1beta1"}],
        "preferredVersion": {"groupVersion": "cert-manager.io/v1", "version": "v1"},
    })
    fake_api.routes[("GET", "/apis/cert-manager.io/v1")] = (200, {"resources": []})
    fake_api.routes[("GET", "/apis/cert-manager.io/v1beta1")] = (200, {"resources": [
        {"name": "certificates", "namespaced": True, "kind": "Certificate", "verbs": ["get"]}]})
    failed, result = run_module(api_group_info, {"group": "cert-manager.io", "kind": "Certificate", "host": fake_api.url, "api_key": "test-token"})
    assert not failed
    assert result["versions"] == ["v1", "v1beta1"]
    assert result["kind_api_version"] == "cert-manager.io/v1beta1"
    assert result["served"] is True


def test_core_group(run_module, fake_api):
    fake_api.routes[("GET", "/api")] = (200, {"kind": "APIVersions", "versions": ["v1"]})
    fake_api.routes[("GET", "/api/v1")] = (200, {"groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap",
         "verbs": ["get", "list"], "shortNames": ["cm"]},
        {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
         "verbs": ["get"]},
        {"name": "namespaces/status", "namespaced": False, "kind": "Namespace", "verbs": ["get"]},
    ]})
    failed, result = run_module(api_group_info, {"group": "core", "kind": "Namespace", "host": fake_api.url, "api_key": "test-token"})
    assert not failed, result
    assert result["group"] == ""
    assert result["versions"] == ["v1"] and result["preferred_version"] == "v1"
    assert result["kind_api_version"] == "v1"
    assert result["resource"]["namespaced"] is False
    assert result["resource"]["subresources"] == ["status"]


def test_check_mode_same_answer(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kind": "so", "host": fake_api.url, "api_key": "test-token"},
                                check_mode=True)
    assert not failed and result["served"] is True and result["changed"] is False


def test_token_and_impersonation_headers_sent(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {
        "group": "keda.sh", "host": fake_api.url, "api_key": "tok",
        "impersonate_user": "jane", "impersonate_groups": ["devs", "ops"]})
    assert not failed, result
    request = fake_api.requests[0]
    assert fake_api.header_values(request, "Authorization") == ["Bearer tok"]
    assert fake_api.header_values(request, "Impersonate-User") == ["jane"]
    assert sorted(fake_api.header_values(request, "Impersonate-Group")) == ["devs", "ops"]


def test_unauthorized_is_clear(run_module, fake_api):
    fake_api.routes[("GET", "/apis/keda.sh")] = (401, fake_api.status(401, "Unauthorized", "Unauthorized"))
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": fake_api.url, "api_key": "bad"})
    assert failed
    assert result["msg"].startswith("the API server at %s rejected the credentials" % fake_api.url)
    assert result["status"] == 401


def test_forbidden_is_clear(run_module, fake_api):
    fake_api.routes[("GET", "/apis/keda.sh")] = (403, fake_api.status(
        403, "Forbidden", 'forbidden: User "system:anonymous" cannot get path "/apis/keda.sh"'))
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": fake_api.url, "api_key": "test-token"})
    assert failed
    assert result["msg"].startswith("forbidden: the account needs get on the non-resource URL /apis/keda.sh")
    assert 'cannot get path' in result["msg"]


def test_server_error_is_reported(run_module, fake_api):
    serve_keda(fake_api)
    fake_api.routes[("GET", "/apis/keda.sh/v1alpha1")] = (503, fake_api.status(503, "ServiceUnavailable", "try later"))
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kind": "ScaledObject", "host": fake_api.url, "api_key": "test-token"})
    assert failed
    assert "503" in result["msg"] and "try later" in result["msg"]


def test_unreachable_server_is_clear(run_module, clean_k8s_env):
    host = "http://127.0.0.1:%d" % closed_port()
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": host, "api_key": "test-token"})
    assert failed
    assert result["msg"].startswith("cannot reach the Kubernetes API server at %s: " % host)
    assert "refused" in result["msg"].lower()
    assert "object at 0x" not in result["msg"]
