"""k8s_multi_info hides every value of a Secret but those a read names in secret_values."""

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
