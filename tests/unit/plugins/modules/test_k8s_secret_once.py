"""k8s_secret_once: one create request, and an existing Secret is never touched."""

import base64

from ansible_collections.vyogotech.frappe.plugins.modules import k8s_secret_once

PATH = "/api/v1/namespaces/shop/secrets"


def args(fake_api, **extra):
    return dict({"host": fake_api.url, "api_key": "test-token", "name": "erp-db-credentials", "namespace": "shop",
                 "data": {"username": "_abc"}, "labels": {"app": "frappe"}}, **extra)


def test_a_missing_secret_is_created_with_a_generated_password_never_returned(run_module, fake_api):
    fake_api.routes[("POST", PATH)] = lambda request: (201, request["body"])
    failed, result = run_module(k8s_secret_once, args(fake_api))
    assert not failed and result["changed"] and result["created"], result
    [request] = fake_api.requests
    data = dict((k, base64.b64decode(v).decode()) for k, v in request["body"]["data"].items())
    assert data["username"] == "_abc" and len(data["password"]) == 32 and data["password"].isalnum()
    assert request["body"]["metadata"]["labels"] == {"app": "frappe"}
    assert request["body"]["metadata"]["ownerReferences"] == []
    assert data["password"] not in repr(result)
    # Every run generates anew: what keeps a password is that the Secret is only ever created.
    failed, again = run_module(k8s_secret_once, args(fake_api))
    second = base64.b64decode(fake_api.requests[1]["body"]["data"]["password"]).decode()
    assert second != data["password"]


PROXY_REF = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "name": "erp", "uid": "u-1"}


def test_owner_references_added_on_create_are_set_back_to_those_asked_for(run_module, fake_api):
    # The Ansible Operator SDK's proxy appends a reference to the reconciled object on every create.
    def created(request):
        body = dict(request["body"])
        body["metadata"] = dict(body["metadata"], ownerReferences=body["metadata"]["ownerReferences"] + [PROXY_REF])
        return 201, body
    fake_api.routes[("POST", PATH)] = created
    # The API server answers a patch with the whole object.
    fake_api.routes[("PATCH", PATH + "/erp-db-credentials")] = lambda request: (
        200, dict(request["body"], apiVersion="v1", kind="Secret"))
    failed, result = run_module(k8s_secret_once, args(fake_api))
    assert not failed and result["created"], result
    post, patch = fake_api.requests
    assert dict(patch["headers"])["Content-Type"] == "application/merge-patch+json"
    # Only the references: the generated values are never sent again.
    assert patch["body"] == {"metadata": {"name": "erp-db-credentials", "namespace": "shop", "ownerReferences": None}}

    owner = dict(PROXY_REF, controller=True, blockOwnerDeletion=True)
    fake_api.requests.clear()
    failed, result = run_module(k8s_secret_once, args(fake_api, owner_references=[owner]))
    assert fake_api.requests[1]["body"]["metadata"]["ownerReferences"] == [owner]


def test_a_created_secret_with_the_references_asked_for_is_not_patched(run_module, fake_api):
    fake_api.routes[("POST", PATH)] = lambda request: (201, request["body"])
    failed, result = run_module(k8s_secret_once, args(fake_api))
    assert [r["method"] for r in fake_api.requests] == ["POST"]


def test_an_existing_secret_is_left_as_it_is(run_module, fake_api):
    fake_api.routes[("POST", PATH)] = (409, fake_api.status(409, "AlreadyExists", 'secrets "erp-db-credentials" already exists'))
    failed, result = run_module(k8s_secret_once, args(fake_api))
    assert not failed and not result["changed"] and not result["created"], result
    # One create request and nothing else: no read, no patch, no replace.
    assert [r["method"] for r in fake_api.requests] == ["POST"]


def test_other_errors_fail_with_the_rule_that_is_missing(run_module, fake_api):
    fake_api.routes[("POST", PATH)] = (403, fake_api.status(403, "Forbidden", "no"))
    failed, result = run_module(k8s_secret_once, args(fake_api))
    assert failed and "create on secrets" in result["msg"] and result["status"] == 403


def test_check_mode_creates_nothing(run_module, fake_api):
    failed, result = run_module(k8s_secret_once, args(fake_api), check_mode=True)
    assert not failed and result["changed"] and fake_api.requests == []
