"""k8s_api: the errors of kubernetes.core's client in words a playbook author can act on."""

from kubernetes.client.exceptions import ApiException

from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_api import K8sNotFoundError, translate_api_exception


def api_error(status, reason, message):
    exc = ApiException(status=status, reason=reason)
    exc.body = '{"kind": "Status", "message": "%s"}' % message
    return exc


def test_a_403_names_the_rule_the_account_needs_and_a_401_the_credentials():
    error = translate_api_exception(api_error(403, "Forbidden", "no"), "https://k", "PATCH", "/x",
                                    "patch on frappebenches/status (API group vyogo.tech) in namespace shop")
    assert str(error).startswith("forbidden: the account needs patch on frappebenches/status (API group vyogo.tech) "
                                 "in namespace shop (403 Forbidden from https://k: no)") and error.status == 403
    error = translate_api_exception(api_error(401, "Unauthorized", "expired"), "https://k", "GET", "/x")
    assert "rejected the credentials (401 Unauthorized)" in str(error) and "expired" in str(error)


def test_a_404_is_its_own_error_and_others_quote_the_server():
    assert isinstance(translate_api_exception(api_error(404, "Not Found", "gone"), "h", "GET", "/x"), K8sNotFoundError)
    error = translate_api_exception(api_error(422, "Unprocessable Entity", "bad field"), "h", "PATCH", "/x")
    assert str(error) == "the API server at h answered 422 Unprocessable Entity to PATCH /x: bad field"
