"""owners: the merge patches that give objects back the owner references a role rendered."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vyogotech.frappe.plugins.filter.current_objects import current_objects as current_objects_filter
from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import (
    current_objects,
    live_index,
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


def bench(name, generation, namespace="shop"):
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": name, "namespace": namespace, "generation": generation}}


def test_the_live_index_keys_every_listed_object_by_kind_namespace_and_name():
    live = {"benches-shop": [bench("erp", 1)], "sites-shop": [], "benches-crm": [bench("erp", 4, "crm")]}
    index = live_index(live)
    assert sorted(index) == [("FrappeBench", "crm", "erp"), ("FrappeBench", "shop", "erp")]
    assert index[("FrappeBench", "crm", "erp")]["metadata"]["generation"] == 4


def test_current_objects_take_what_an_apply_returned_else_what_the_read_found():
    definitions = [bench("erp", None), bench("crm", None)]
    live = {"benches-shop": [bench("erp", 1), bench("crm", 1)]}
    # A loop registered one run per applied item; crm had nothing to change and was not applied.
    applied = {"changed": True, "results": [{"item": definitions[0], "changed": True, "result": bench("erp", 2)}]}
    got = current_objects(definitions, applied, live)
    assert [(o["metadata"]["name"], o["metadata"]["generation"]) for o in got] == [("erp", 2), ("crm", 1)]


def test_a_loop_with_nothing_to_apply_leaves_every_object_as_read():
    skipped = {"changed": False, "skipped": True, "skipped_reason": "No items in the list", "results": []}
    live = {"benches-shop": [bench("erp", 3)]}
    assert current_objects([bench("erp", None)], skipped, live) == [bench("erp", 3)]


def test_a_definition_neither_applied_nor_read_is_named_by_the_filter():
    assert current_objects([bench("erp", None)], {"results": []}, {}) == [None]
    with pytest.raises(AnsibleFilterError, match="neither applied nor found by the read: FrappeBench shop/erp"):
        current_objects_filter([bench("erp", None)], {"results": []}, {})
