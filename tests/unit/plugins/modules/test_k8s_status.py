"""k8s_status: argument handling, and the status patch against a fake API server."""

import copy
import re
import socket

import pytest
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import apply_merge_patch
from ansible_collections.vyogotech.frappe.plugins.modules import k8s_status

GV = "/apis/vyogo.tech/v1alpha1"
OBJ = GV + "/namespaces/frappe/frappebenches/erp"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

RESOURCES = {
    "kind": "APIResourceList",
    "groupVersion": "vyogo.tech/v1alpha1",
    "resources": [
        {"name": "frappebenches", "singularName": "frappebench", "namespaced": True, "kind": "FrappeBench",
         "verbs": ["get", "list", "patch", "update", "watch"]},
        {"name": "frappebenches/status", "singularName": "", "namespaced": True, "kind": "FrappeBench",
         "verbs": ["get", "patch", "update"]},
        {"name": "frappesites", "singularName": "frappesite", "namespaced": True, "kind": "FrappeSite",
         "verbs": ["get", "list", "patch"]},
        {"name": "frappeclusters", "singularName": "frappecluster", "namespaced": False, "kind": "FrappeCluster",
         "verbs": ["get", "list", "patch"]},
        {"name": "frappeclusters/status", "namespaced": False, "kind": "FrappeCluster", "verbs": ["get", "patch"]},
    ],
}

RUNNING = {"type": "Running", "status": "True", "reason": "Running", "message": "Running reconciliation",
           "ansibleResult": {"ok": 1, "changed": 0, "failures": 0, "skipped": 0, "completion": "x"},
           "lastTransitionTime": "2024-01-01T00:00:00Z"}

BASE = {"host": None, "api_version": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "name": "erp",
        "namespace": "frappe"}


class Store:
    """One object behind GET and PATCH .../status, with resourceVersion checks like the API server."""

    def __init__(self, fake_api, path=OBJ, status=None, prune=()):
        self.obj = {
            "apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": "erp", "namespace": "frappe", "generation": 3, "resourceVersion": "100"},
            "spec": {"image": "frappe:v15"},
        }
        if status is not None:
            self.obj["status"] = status
        self.prune = prune
        self.patches = []
        self.conflicts = 0
        fake_api.routes[("GET", GV)] = (200, RESOURCES)
        fake_api.routes[("GET", path)] = lambda request: (200, self.obj)
        fake_api.routes[("PATCH", path + "/status")] = self.patch

    def patch(self, request):
        self.patches.append(request)
        body = request["body"]
        if self.conflicts:
            self.conflicts -= 1
            self.bump()
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != self.obj["metadata"]["resourceVersion"]:
            return 409, {"kind": "Status", "code": 409, "reason": "Conflict",
                         "message": "the object has been modified; please apply your changes to the latest version"}
        status = apply_merge_patch(self.obj.get("status") or {}, body.get("status") or {})
        for key in self.prune:
            status.pop(key, None)
        self.obj["status"] = status
        self.bump()
        return 200, self.obj

    def bump(self):
        self.obj["metadata"]["resourceVersion"] = str(int(self.obj["metadata"]["resourceVersion"]) + 1)


def args(fake_api, **kw):
    result = dict(BASE, host=fake_api.url, api_key="test-token")
    result.update(kw)
    return result


@pytest.fixture(autouse=True)
def _no_leftover_warnings_no_backoff(monkeypatch):
    monkeypatch.setattr(k8s_status, "CONFLICT_BACKOFF", 0)
    ansible_warnings._global_warnings[:] = []
    yield
    ansible_warnings._global_warnings[:] = []


# --- argument handling --------------------------------------------------------

@pytest.mark.parametrize("missing", ["api_version", "kind", "name"])
def test_required_arguments(run_module, clean_k8s_env, missing):
    given = {"api_version": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "name": "erp", "status": {"a": 1}}
    del given[missing]
    failed, result = run_module(k8s_status, given)
    assert failed and "missing required arguments: %s" % missing in result["msg"]


def test_status_or_conditions_required(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, {"api_version": "v1", "kind": "X", "name": "n"})
    assert failed and "one of the following is required: status, conditions" in result["msg"]


def test_condition_needs_type_and_status(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, dict(BASE, conditions=[{"type": "Ready"}]))
    assert failed and "status" in result["msg"] and "conditions" in result["msg"]
    failed, result = run_module(k8s_status, dict(BASE, conditions=[{"status": "True"}]))
    assert failed and "type" in result["msg"]


def test_condition_status_choices(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, dict(BASE, conditions=[{"type": "Ready", "status": "Maybe"}]))
    assert failed and "True, False, Unknown" in result["msg"]


def test_condition_unknown_key_rejected(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, dict(BASE, conditions=[{"type": "Ready", "status": "True", "foo": 1}]))
    assert failed and "foo" in result["msg"]


def test_condition_keys_normalised(run_module, fake_api):
    store = Store(fake_api)
    failed, result = run_module(k8s_status, args(fake_api, conditions=[
        {"type": "Ready", "status": "true", "observed_generation": "4", "lastTransitionTime": "1999-01-01T00:00:00Z"}]))
    assert not failed, result
    (cond,) = store.obj["status"]["conditions"]
    assert cond["status"] == "True" and cond["observedGeneration"] == 4
    assert cond["lastTransitionTime"] != "1999-01-01T00:00:00Z" and RFC3339.match(cond["lastTransitionTime"])
    assert "observed_generation" not in cond


def test_bad_api_version(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, dict(BASE, api_version="a/b/c", status={"x": 1}))
    assert failed and "api_version" in result["msg"]


def test_conditions_given_twice(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, dict(BASE, status={"conditions": []},
                                                 conditions=[{"type": "Ready", "status": "True"}]))
    assert failed and "not both" in result["msg"]


def test_duplicate_condition_type(run_module, clean_k8s_env):
    failed, result = run_module(k8s_status, dict(BASE, conditions=[{"type": "Ready", "status": "True"},
                                                                   {"type": "Ready", "status": "False"}]))
    assert failed and "more than once" in result["msg"]


def test_auth_env_fallback_reaches_server(run_module, fake_api, monkeypatch):
    store = Store(fake_api, status={"phase": "Pending"})
    monkeypatch.setenv("K8S_AUTH_HOST", fake_api.url)
    monkeypatch.setenv("K8S_AUTH_API_KEY", "env-token")
    given = dict(BASE, status={"phase": "Pending"})
    del given["host"]
    failed, result = run_module(k8s_status, given)
    assert not failed, result
    assert fake_api.header_values(fake_api.requests[0], "Authorization") == ["Bearer env-token"]
    assert store.patches == []


# --- against a fake API server -------------------------------------------------

def test_sets_fields_and_conditions_keeping_operator_ones(run_module, fake_api):
    store = Store(fake_api, status={"conditions": [copy.deepcopy(RUNNING)], "phase": "Pending", "old": "x"})
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready", "old": None, "workers": {"default": 0}},
                                                 conditions=[{"type": "Ready", "status": True, "reason": "BenchReady",
                                                              "message": "ok", "observedGeneration": 3}]))
    assert not failed, result
    assert result["changed"] is True
    status = result["result"]
    assert status["phase"] == "Ready" and status["workers"] == {"default": 0} and "old" not in status
    assert status["conditions"][0] == RUNNING
    ready = status["conditions"][1]
    assert {k: v for k, v in ready.items() if k != "lastTransitionTime"} == \
        {"type": "Ready", "status": "True", "reason": "BenchReady", "message": "ok", "observedGeneration": 3}
    assert RFC3339.match(ready["lastTransitionTime"])
    assert store.obj["status"] == status

    (patch,) = store.patches
    assert patch["path"] == OBJ + "/status"
    assert fake_api.header_values(patch, "Content-Type") == ["application/merge-patch+json"]
    assert patch["body"]["metadata"] == {"resourceVersion": "100"}
    assert patch["body"]["status"]["old"] is None
    assert "spec" not in patch["body"]
    assert result["patch"] == patch["body"]["status"]


def test_second_run_is_unchanged_and_sends_no_patch(run_module, fake_api):
    store = Store(fake_api, status={"conditions": [copy.deepcopy(RUNNING)]})
    task = args(fake_api, status={"phase": "Ready"}, conditions=[{"type": "Ready", "status": "True", "reason": "R"}])
    failed, first = run_module(k8s_status, task)
    assert not failed and first["changed"] is True
    failed, second = run_module(k8s_status, task)
    assert not failed, second
    assert second["changed"] is False
    assert second["patch"] == {}
    assert second["result"] == first["result"]
    assert len(store.patches) == 1


def test_transition_time_moves_only_on_status_change(run_module, fake_api):
    old = {"type": "Ready", "status": "True", "reason": "A", "lastTransitionTime": "2024-01-01T00:00:00Z"}
    store = Store(fake_api, status={"conditions": [old]})
    failed, result = run_module(k8s_status, args(fake_api, conditions=[
        {"type": "Ready", "status": "True", "reason": "B", "message": "new text"}]))
    assert not failed and result["changed"] is True
    assert result["result"]["conditions"][0]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    failed, result = run_module(k8s_status, args(fake_api, conditions=[{"type": "Ready", "status": "False"}]))
    assert result["result"]["conditions"][0]["lastTransitionTime"] != "2024-01-01T00:00:00Z"
    assert store.obj["status"]["conditions"] == [result["result"]["conditions"][0]]


def operator_rewrite(status):
    """What the Ansible Operator SDK's manageStatus does to conditions between runs."""
    status = copy.deepcopy(status)
    keep = ("type", "status", "lastTransitionTime", "ansibleResult", "reason", "message")
    status["conditions"] = [dict({"reason": "", "message": ""}, **{k: v for k, v in c.items() if k in keep})
                            for c in status.get("conditions", [])]
    return status


def test_idempotent_after_operator_rewrite(run_module, fake_api):
    store = Store(fake_api, status={"conditions": [copy.deepcopy(RUNNING)]})
    task = args(fake_api, status={"observedGeneration": 3}, conditions=[{"type": "Ready", "status": "False"}])
    failed, first = run_module(k8s_status, task)
    assert not failed and first["changed"] is True
    store.obj["status"] = operator_rewrite(store.obj["status"])
    assert store.obj["status"]["conditions"][1]["reason"] == ""
    failed, second = run_module(k8s_status, task)
    assert not failed and second["changed"] is False, second
    assert second["result"]["observedGeneration"] == 3


def test_replace_conditions(run_module, fake_api):
    Store(fake_api, status={"conditions": [copy.deepcopy(RUNNING), {"type": "Old", "status": "True"}]})
    failed, result = run_module(k8s_status, args(fake_api, replace_conditions=True,
                                                 conditions=[{"type": "Ready", "status": "Unknown"}]))
    assert not failed
    assert [c["type"] for c in result["result"]["conditions"]] == ["Ready"]


def test_check_mode_reports_without_patching(run_module, fake_api):
    store = Store(fake_api, status={"phase": "Pending"})
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}), check_mode=True)
    assert not failed
    assert result["changed"] is True
    assert result["result"] == {"phase": "Ready"}
    assert result["patch"] == {"phase": "Ready"}
    assert store.patches == [] and store.obj["status"] == {"phase": "Pending"}


def test_check_mode_unchanged(run_module, fake_api):
    Store(fake_api, status={"phase": "Ready"})
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}), check_mode=True)
    assert not failed and result["changed"] is False


def test_diff_mode(run_module, fake_api):
    Store(fake_api, status={"phase": "Pending"})
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}), diff=True)
    assert result["diff"] == {"before": {"status": {"phase": "Pending"}}, "after": {"status": {"phase": "Ready"}}}


def test_object_without_status_yet(run_module, fake_api):
    store = Store(fake_api)
    failed, result = run_module(k8s_status, args(fake_api, conditions=[{"type": "Ready", "status": "False"}]))
    assert not failed and result["changed"] is True
    assert store.obj["status"]["conditions"][0]["type"] == "Ready"


def test_conflict_is_retried(run_module, fake_api):
    store = Store(fake_api, status={"phase": "Pending"})
    store.conflicts = 2
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}))
    assert not failed, result
    assert len(store.patches) == 3
    assert store.obj["status"]["phase"] == "Ready"


def test_endless_conflict_fails(run_module, fake_api):
    store = Store(fake_api, status={"phase": "Pending"})
    store.conflicts = 100
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}))
    assert failed and "409" in result["msg"]
    assert len(store.patches) == k8s_status.CONFLICT_RETRIES


def test_pruned_fields_warn(run_module, fake_api):
    Store(fake_api, status={}, prune=("unknownField",))
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready", "unknownField": 1}))
    assert not failed
    assert "unknownField" not in result["result"]
    (warning,) = ansible_warnings.get_warning_messages()
    assert "unknownField" in warning and "x-kubernetes-preserve-unknown-fields" in warning


def test_object_missing(run_module, fake_api):
    fake_api.routes[("GET", GV)] = (200, RESOURCES)
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}))
    assert failed
    assert result["msg"] == "FrappeBench frappe/erp (vyogo.tech/v1alpha1) not found"


def test_api_version_not_served(run_module, fake_api):
    # An API server without the CRD lists no such group.
    fake_api.routes[("GET", "/apis")] = (200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}))
    assert failed and "apiVersion vyogo.tech/v1alpha1 is not served" in result["msg"]


def test_kind_not_served(run_module, fake_api):
    fake_api.routes[("GET", GV)] = (200, RESOURCES)
    failed, result = run_module(k8s_status, args(fake_api, kind="FrappeThing", status={"a": 1}))
    assert failed and result["msg"] == "kind FrappeThing is not served in vyogo.tech/v1alpha1"


def test_kind_without_status_subresource(run_module, fake_api):
    fake_api.routes[("GET", GV)] = (200, RESOURCES)
    failed, result = run_module(k8s_status, args(fake_api, kind="FrappeSite", status={"a": 1}))
    assert failed and "no status subresource" in result["msg"]


def test_namespace_required_for_namespaced_kind(run_module, fake_api):
    fake_api.routes[("GET", GV)] = (200, RESOURCES)
    failed, result = run_module(k8s_status, args(fake_api, namespace=None, status={"a": 1}))
    assert failed and result["msg"] == "namespace is required: FrappeBench is namespaced"


def test_cluster_scoped_kind(run_module, fake_api):
    store = Store(fake_api, path=GV + "/frappeclusters/erp")
    failed, result = run_module(k8s_status, args(fake_api, kind="FrappeCluster", status={"phase": "Ready"}))
    assert not failed, result
    assert store.patches[0]["path"] == GV + "/frappeclusters/erp/status"
    assert any("cluster-scoped" in w for w in ansible_warnings.get_warning_messages())


def test_forbidden_patch_names_the_rbac_rule(run_module, fake_api):
    Store(fake_api, status={})
    fake_api.routes[("PATCH", OBJ + "/status")] = (403, fake_api.status(403, "Forbidden", "nope"))
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}))
    assert failed
    assert result["msg"].startswith(
        "forbidden: the account needs patch on frappebenches/status (API group vyogo.tech) in namespace frappe")


def test_unauthorized(run_module, fake_api):
    fake_api.routes[("GET", GV)] = (401, fake_api.status(401, "Unauthorized", "Unauthorized"))
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}))
    assert failed and "rejected the credentials" in result["msg"]


def test_token_and_impersonation_headers_sent(run_module, fake_api):
    Store(fake_api, status={})
    failed, result = run_module(k8s_status, args(fake_api, status={"phase": "Ready"}, api_key="tok",
                                                 impersonate_user="jane", impersonate_groups=["devs", "ops"]))
    assert not failed, result
    request = fake_api.requests[0]
    assert fake_api.header_values(request, "Authorization") == ["Bearer tok"]
    assert fake_api.header_values(request, "Impersonate-User") == ["jane"]
    assert sorted(fake_api.header_values(request, "Impersonate-Group")) == ["devs", "ops"]


def test_unreachable_server_is_clear(run_module, clean_k8s_env):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host = "http://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()
    failed, result = run_module(k8s_status, dict(BASE, host=host, api_key="test-token", status={"phase": "Ready"}))
    assert failed
    assert result["msg"].startswith("cannot reach the Kubernetes API server at %s: " % host)
    assert "refused" in result["msg"].lower()
    assert "object at 0x" not in result["msg"]


def test_split_api_version():
    assert k8s_status.split_api_version("vyogo.tech/v1alpha1") == ("vyogo.tech", "v1alpha1")
    assert k8s_status.split_api_version("v1") == ("", "v1")
    for bad in ("", "a/b/c", "/v1", "g/"):
        with pytest.raises(ValueError):
            k8s_status.split_api_version(bad)
