"""api_group_info: argument handling, client configuration, and answers from a fake API server."""

import base64
import socket

import pytest
from ansible.module_utils import basic

from ansible_collections.vyogotech.frappe.plugins.module_utils import k8s_client
from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_client import (
    K8sClientError,
    build_configuration,
    find_resource,
    split_api_version,
)
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


def test_username_needs_password(run_module, clean_k8s_env):
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": "http://127.0.0.1:1", "username": "u"})
    assert failed and "username" in result["msg"] and "password" in result["msg"]


def _params(monkeypatch, module_args, args):
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", lambda self, msg, **kw: pytest.fail(msg))
    with module_args(args):
        module = basic.AnsibleModule(argument_spec=api_group_info.argument_spec())
    return module


def test_env_fallbacks(monkeypatch, module_args, clean_k8s_env):
    env = {
        "K8S_AUTH_KUBECONFIG": "/path/to/kubeconfig-from-env",
        "K8S_AUTH_CONTEXT": "kind-frappe",
        "K8S_AUTH_HOST": "https://k8s.example:6443",
        "K8S_AUTH_API_KEY": "sekret-token",
        "K8S_AUTH_USERNAME": "admin",
        "K8S_AUTH_PASSWORD": "pw",
        "K8S_AUTH_VERIFY_SSL": "no",
        "K8S_AUTH_SSL_CA_CERT": "/path/to/ca.pem",
        "K8S_AUTH_CERT_FILE": "/path/to/client.pem",
        "K8S_AUTH_KEY_FILE": "/path/to/client-key.pem",
        "K8S_AUTH_PROXY": "http://proxy.example:3128",
        "K8S_AUTH_IMPERSONATE_USER": "system:serviceaccount:frappe:operator",
        "K8S_AUTH_IMPERSONATE_GROUPS": "g1,g2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    module = _params(monkeypatch, module_args, {"group": "keda.sh"})
    params = module.params
    assert params["kubeconfig"] == "/path/to/kubeconfig-from-env"
    assert params["context"] == "kind-frappe"
    assert params["host"] == "https://k8s.example:6443"
    assert params["api_key"] == "sekret-token"
    assert params["username"] == "admin"
    assert params["password"] == "pw"
    assert params["validate_certs"] is False
    assert params["ca_cert"] == "/path/to/ca.pem"
    assert params["client_cert"] == "/path/to/client.pem"
    assert params["client_key"] == "/path/to/client-key.pem"
    assert params["proxy"] == "http://proxy.example:3128"
    assert params["impersonate_user"] == "system:serviceaccount:frappe:operator"
    assert params["impersonate_groups"] == ["g1", "g2"]
    assert "sekret-token" in module.no_log_values and "pw" in module.no_log_values


def test_task_arguments_beat_env_and_aliases_work(monkeypatch, module_args, clean_k8s_env):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://from-env")
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "false")
    given = {"group": "keda.sh", "host": "https://from-task", "verify_ssl": True,
             "ssl_ca_cert": "/ca", "cert_file": "/c", "key_file": "/k"}
    module = _params(monkeypatch, module_args, given)
    assert module.params["host"] == "https://from-task"
    assert module.params["validate_certs"] is True
    assert (module.params["ca_cert"], module.params["client_cert"], module.params["client_key"]) == ("/ca", "/c", "/k")


def test_defaults_are_unset(monkeypatch, module_args, clean_k8s_env):
    params = _params(monkeypatch, module_args, {"group": "keda.sh"}).params
    for name in k8s_client.AUTH_ARG_SPEC:
        assert params[name] is None, name
    assert params["version"] is None and params["kind"] is None


# --- client configuration -----------------------------------------------------

def _auth_header(configuration):
    return configuration.auth_settings()["BearerToken"]["value"]


def test_explicit_host_and_token(clean_k8s_env):
    cfg = build_configuration({"host": "https://10.0.0.1:6443/", "api_key": "abc", "validate_certs": False})
    assert cfg.host == "https://10.0.0.1:6443"
    assert _auth_header(cfg) == "Bearer abc"
    assert cfg.verify_ssl is False


def test_host_without_scheme_gets_https(clean_k8s_env):
    assert build_configuration({"host": "k8s.example:6443"}).host == "https://k8s.example:6443"


def test_basic_auth(clean_k8s_env):
    cfg = build_configuration({"host": "https://h", "username": "u", "password": "p"})
    assert _auth_header(cfg) == "Basic " + base64.b64encode(b"u:p").decode()


def kubeconfig_dict(server="https://from-kubeconfig:6443", token="kube-token"):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "one",
        "clusters": [{"name": "c1", "cluster": {"server": server, "insecure-skip-tls-verify": True}},
                     {"name": "c2", "cluster": {"server": "https://second:6443"}}],
        "users": [{"name": "u1", "user": {"token": token}}],
        "contexts": [{"name": "one", "context": {"cluster": "c1", "user": "u1"}},
                     {"name": "two", "context": {"cluster": "c2", "user": "u1"}}],
    }


def test_kubeconfig_dict_and_context(clean_k8s_env):
    cfg = build_configuration({"kubeconfig": kubeconfig_dict()})
    assert cfg.host == "https://from-kubeconfig:6443"
    assert _auth_header(cfg) == "Bearer kube-token"
    assert cfg.verify_ssl is False
    assert build_configuration({"kubeconfig": kubeconfig_dict(), "context": "two"}).host == "https://second:6443"


def test_kubeconfig_overridden_by_task_options(clean_k8s_env):
    cfg = build_configuration({"kubeconfig": kubeconfig_dict(), "host": "https://override", "api_key": "t2"})
    assert cfg.host == "https://override"
    assert _auth_header(cfg) == "Bearer t2"


def test_kubeconfig_path_and_KUBECONFIG_env(clean_k8s_env, tmp_path, monkeypatch):
    import yaml

    path = tmp_path / "kc.yaml"
    path.write_text(yaml.safe_dump(kubeconfig_dict(server="https://from-file:6443")))
    assert build_configuration({"kubeconfig": str(path)}).host == "https://from-file:6443"
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert build_configuration({}).host == "https://from-file:6443"


def test_home_kubeconfig_used(clean_k8s_env):
    import yaml

    (clean_k8s_env / ".kube").mkdir()
    (clean_k8s_env / ".kube" / "config").write_text(yaml.safe_dump(kubeconfig_dict(server="https://home:6443")))
    assert build_configuration({}).host == "https://home:6443"


def test_missing_kubeconfig_is_clear(clean_k8s_env, tmp_path):
    with pytest.raises(K8sClientError, match="does not exist"):
        build_configuration({"kubeconfig": str(tmp_path / "nope")})


def test_unknown_context_is_clear(clean_k8s_env):
    with pytest.raises(K8sClientError, match="cannot load the kubeconfig given as a dict .context nope."):
        build_configuration({"kubeconfig": kubeconfig_dict(), "context": "nope"})


def test_nothing_configured_falls_back_to_in_cluster(clean_k8s_env):
    with pytest.raises(K8sClientError, match="no Kubernetes connection configured"):
        build_configuration({})


def test_in_cluster(clean_k8s_env, tmp_path, monkeypatch):
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cfg = build_configuration({})
    assert cfg.host == "https://10.96.0.1:443"
    assert _auth_header(cfg).lower() == "bearer sa-token"
    assert cfg.ssl_ca_cert == str(ca)


def test_missing_cert_file_is_clear(clean_k8s_env, tmp_path):
    with pytest.raises(K8sClientError, match="ca_cert file .* does not exist"):
        build_configuration({"host": "https://h", "ca_cert": str(tmp_path / "ca.pem")})


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


def test_missing_kubernetes_library(run_module, clean_k8s_env, monkeypatch):
    monkeypatch.setattr(k8s_client, "HAS_KUBERNETES", False)
    monkeypatch.setattr(k8s_client, "KUBERNETES_IMPORT_ERROR", "Traceback: No module named 'kubernetes'")
    failed, result = run_module(api_group_info, {"group": "keda.sh"})
    assert failed
    assert "Failed to import the required Python library (kubernetes)" in result["msg"]
    assert result["exception"] == "Traceback: No module named 'kubernetes'"


# --- against a fake API server -------------------------------------------------

def test_group_version_kind_served(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "version": "v1alpha1", "kind": "ScaledObject",
                                                 "host": fake_api.url})
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
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": fake_api.url})
    assert not failed
    assert result["served"] is True
    assert result["version_served"] is None and result["kind_served"] is None and result["resource"] is None
    assert [r["path"] for r in fake_api.requests] == ["/apis/keda.sh"]


def test_missing_group_is_a_normal_answer(run_module, fake_api):
    failed, result = run_module(api_group_info, {"group": "k8s.mariadb.com", "version": "v1alpha1", "kind": "MariaDB",
                                                 "host": fake_api.url})
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
                                                 "host": fake_api.url})
    assert not failed
    assert (result["group_served"], result["version_served"], result["kind_served"], result["served"]) == \
        (True, False, False, False)


def test_kind_not_served(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kind": "ScaledJob", "host": fake_api.url})
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
    failed, result = run_module(api_group_info, {"group": "cert-manager.io", "kind": "Certificate", "host": fake_api.url})
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
    failed, result = run_module(api_group_info, {"group": "core", "kind": "Namespace", "host": fake_api.url})
    assert not failed, result
    assert result["group"] == ""
    assert result["versions"] == ["v1"] and result["preferred_version"] == "v1"
    assert result["kind_api_version"] == "v1"
    assert result["resource"]["namespaced"] is False
    assert result["resource"]["subresources"] == ["status"]


def test_check_mode_same_answer(run_module, fake_api):
    serve_keda(fake_api)
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kind": "so", "host": fake_api.url},
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
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": fake_api.url})
    assert failed
    assert result["msg"].startswith("forbidden: the account needs get on the non-resource URL /apis/keda.sh")
    assert 'cannot get path' in result["msg"]


def test_server_error_is_reported(run_module, fake_api):
    serve_keda(fake_api)
    fake_api.routes[("GET", "/apis/keda.sh/v1alpha1")] = (503, fake_api.status(503, "ServiceUnavailable", "try later"))
    failed, result = run_module(api_group_info, {"group": "keda.sh", "kind": "ScaledObject", "host": fake_api.url})
    assert failed
    assert "503" in result["msg"] and "try later" in result["msg"]


def test_unreachable_server_is_clear(run_module, clean_k8s_env):
    host = "http://127.0.0.1:%d" % closed_port()
    failed, result = run_module(api_group_info, {"group": "keda.sh", "host": host})
    assert failed
    assert result["msg"].startswith("cannot reach the Kubernetes API server at %s: " % host)
    assert "refused" in result["msg"].lower()
    assert "object at 0x" not in result["msg"]
