"""Unit tests of the k8s_error_message filter."""

import json

import pytest

from ansible_collections.vyogotech.frappe.plugins.filter.k8s_error_message import k8s_error_message

STATUS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Invalid", "code": 422,
          "message": 'FrappeBench.vyogo.tech "1erp" is invalid: metadata.name: Invalid value: "string": '
                     "must be a DNS-1035 label (é)"}


@pytest.mark.parametrize("body", [json.dumps(STATUS).encode(), json.dumps(STATUS)])
def test_the_status_message_replaces_the_dump(body):
    msg = "Failed to create object: %s" % (repr(body) if isinstance(body, bytes) else body)
    assert k8s_error_message({"failed": True, "msg": msg}) == "Failed to create object: " + STATUS["message"]


@pytest.mark.parametrize("result,expected", [
    ({"msg": "Failed to get client due to HTTPSConnectionPool: Connection refused"},
     "cannot reach the Kubernetes API server (connection refused); run the reconcile again once it answers"),
    ({"msg": "oops {not json}"}, "oops {not json}"),
    ({}, "the task failed without a message"),
    ("text", "text"),
])
def test_anything_else_is_left_as_it_is(result, expected):
    assert k8s_error_message(result) == expected


@pytest.mark.parametrize("result", [
    {"msg": "MODULE FAILURE: No start of json char found\nSee stdout/stderr for the exact error",
     "module_stderr": "urllib3.exceptions.MaxRetryError: HTTPSConnectionPool(host='127.0.0.1', port=32771): Max "
                      "retries exceeded with url: /api/v1/namespaces/x/services/erp-gunicorn (Caused by "
                      "NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish "
                      "a new connection: [Errno 111] Connection refused'))"},
])
def test_an_unreachable_api_server_is_said_in_words(result):
    assert k8s_error_message(result) == ("cannot reach the Kubernetes API server at https://127.0.0.1:32771 "
                                         "(connection refused); run the reconcile again once it answers")


def test_a_kind_the_cluster_does_not_serve_is_said_in_words():
    result = {"failed": True, "msg": "Failed to find exact match for vyogo.tech/v1alpha1.FrappeBench by "
                                     "[kind, name, singularName, shortNames]"}
    assert k8s_error_message(result) == ("the cluster does not serve vyogo.tech/v1alpha1 FrappeBench: "
                                         "its CRD is not installed")
    # The same, when kubernetes.core's discovery cache still listed the kind: the API server's plain 404.
    cached = {"failed": True, "msg": "Failed to apply object: 404 page not found\n",
              "item": {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "erp"}}}
    assert k8s_error_message(cached) == ("the cluster does not serve vyogo.tech/v1alpha1 FrappeBench: "
                                         "its CRD is not installed")
    assert k8s_error_message({"failed": True, "msg": "404 page not found"}) == "404 page not found"
