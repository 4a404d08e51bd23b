"""owners: the merge patches that give objects back the owner references a role rendered."""

from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import (
    owner_fix,
    owner_reference_fixes,
    same_owners,
    without_owner,
)

BENCH = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "name": "erp", "uid": "u-1",
         "controller": True, "blockOwnerDeletion": True}
# What the Ansible Operator SDK's proxy appends on a create: the same owner, not as controller.
PROXY = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "name": "erp", "uid": "u-1"}


def obj(kind, name, owners, namespace="shop"):
    meta = {"name": name, "namespace": namespace}
    if owners is not None:
        meta["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_the_same_references_in_any_order_agree_and_a_missing_list_is_empty():
    other = dict(PROXY, uid="u-2", name="crm")
    assert same_owners([BENCH, other], [other, BENCH])
    assert same_owners(None, [])
    assert not same_owners([BENCH, PROXY], [BENCH])
    # controller and blockOwnerDeletion count: the proxy's copy is not the role's reference.
    assert not same_owners([PROXY], [BENCH])


def test_a_created_object_with_the_proxy_s_copy_goes_back_to_the_role_s_one_reference():
    fix = owner_fix(obj("Service", "erp-gunicorn", [BENCH, PROXY]), [BENCH])
    assert fix == {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "erp-gunicorn", "namespace": "shop", "ownerReferences": [BENCH]}}
    assert owner_fix(obj("Service", "erp-gunicorn", [BENCH]), [BENCH]) is None


def test_an_object_rendered_without_an_owner_loses_the_proxy_s_reference():
    fix = owner_fix(obj("Secret", "erp-db-credentials", [PROXY]), None)
    # null removes the list in a JSON merge patch.
    assert fix["metadata"]["ownerReferences"] is None
    assert owner_fix(obj("Secret", "erp-db-credentials", None), []) is None


def test_without_owner_takes_off_only_references_to_that_uid():
    keeper = dict(PROXY, uid="u-9", kind="Something")
    fix = without_owner(obj("Database", "erp-db", [PROXY, keeper]), "u-1")
    assert fix["metadata"]["ownerReferences"] == [keeper]
    assert without_owner(obj("Database", "erp-db", [keeper]), "u-1") is None
    # Without a uid (render mode) nothing is anyone's.
    assert without_owner(obj("Database", "erp-db", [PROXY]), "") is None


def test_fixes_cover_one_and_several_definitions_and_skip_what_has_no_definition():
    svc = obj("Service", "erp-gunicorn", [BENCH])
    cm = obj("ConfigMap", "erp-config", [BENCH])
    definitions = [svc, cm]
    several = {"changed": True, "result": {"results": [
        {"changed": True, "result": obj("Service", "erp-gunicorn", [BENCH, PROXY])},
        {"changed": False, "result": obj("ConfigMap", "erp-config", [BENCH])}]}}
    one = {"changed": True, "result": obj("ConfigMap", "erp-config", [BENCH, PROXY])}
    stranger = {"changed": True, "result": obj("ConfigMap", "someone-else", [PROXY])}
    fixes = owner_reference_fixes([several, one, stranger, {"skipped": True}, {}], definitions)
    assert [(f["kind"], f["metadata"]["name"], f["metadata"]["ownerReferences"]) for f in fixes] == [
        ("Service", "erp-gunicorn", [BENCH]), ("ConfigMap", "erp-config", [BENCH])]
    # A single registered result works as well as a list of them.
    assert owner_reference_fixes(one, definitions) == fixes[1:]
    # Matched by kind, namespace and name, not by position.
    assert owner_reference_fixes(one, [obj("ConfigMap", "erp-config", [BENCH], namespace="other")]) == []
