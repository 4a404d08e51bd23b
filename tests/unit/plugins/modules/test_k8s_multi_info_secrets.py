"""k8s_multi_info hides every value of a Secret but those a read names in secret_values."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.modules import k8s_multi_info


class Resource:
    kind, group_version = "Secret", "v1"


SECRET = {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "db", "managedFields": [{}]},
          "data": {"host": "ZGI=", "username": "dQ==", "password": "cHc="}, "stringData": {"password": "pw"}}


def test_a_secret_keeps_its_keys_and_only_the_values_asked_for():
    assert k8s_multi_info._clean(dict(SECRET), Resource())["data"] == {"host": "", "username": "", "password": ""}
    obj = k8s_multi_info._clean(dict(SECRET), Resource(), ("host", "username"))
    assert obj["data"] == {"host": "ZGI=", "username": "dQ==", "password": ""}
    assert "stringData" not in obj and "managedFields" not in obj["metadata"]


def test_a_read_that_asks_for_a_password_fails_before_anything_is_read(monkeypatch):
    failed = {}

    class Module:
        params = {"reads": [{"key": "login", "secret_values": ["host", "password"]},
                            {"key": "admin", "secret_values": ["Root-Password"]},
                            {"key": "fine", "secret_values": ["host"]}], "api_groups": []}

        def fail_json(self, **result):
            failed.update(result)
            raise SystemExit(1)

    monkeypatch.setattr(k8s_multi_info, "AnsibleK8SModule", lambda **_kwargs: Module())
    monkeypatch.setattr(k8s_multi_info, "get_api_client", lambda _module: pytest.fail("the API was reached"))
    with pytest.raises(SystemExit):
        k8s_multi_info.main()
    assert failed["msg"].endswith("out of: admin, login")
