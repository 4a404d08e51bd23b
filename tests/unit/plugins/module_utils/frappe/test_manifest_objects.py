"""A manifest: where it is looked for, and its FrappeBench, FrappeSite, SiteBackup, SiteRestore and SiteMigration objects,
checked."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.manifest import manifest_candidates, manifest_objects


def doc(kind, name, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": kind, "metadata": meta, "spec": {}}


def test_objects_are_sorted_by_kind_in_their_order_and_get_the_namespace_they_lack():
    docs = [doc("FrappeSite", "erp.example.com"), doc("FrappeBench", "erp", "shop"), None,
            doc("FrappeBench", "crm"), doc("SiteBackup", "nightly"), doc("SiteRestore", "back", "shop")]
    got = manifest_objects(docs, "default", "m.yaml")
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in got["backups"]] == [("nightly", "default")]
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in got["restores"]] == [("back", "shop")]
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in got["benches"]] == [
        ("erp", "shop"), ("crm", "default")]
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in got["sites"]] == [
        ("erp.example.com", "default")]
    assert got["errors"] == []
    # What was read is left as it was.
    assert "namespace" not in docs[0]["metadata"]


def test_a_list_stands_for_its_items():
    listed = {"apiVersion": "v1", "kind": "List", "items": [doc("FrappeBench", "erp"), doc("FrappeSite", "a")]}
    got = manifest_objects([listed], "shop")
    assert [o["kind"] for o in got["benches"] + got["sites"]] == ["FrappeBench", "FrappeSite"]


@pytest.mark.parametrize("bad, says", [
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, "got v1 ConfigMap"),
    ({"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {}}, "got vyogo.tech/v1alpha1 FrappeBench"),
    ({"kind": "FrappeBench", "metadata": {"name": "erp"}}, "got (no apiVersion) FrappeBench"),
    ("just text", "got (not a mapping) str"),
])
def test_anything_else_is_refused_naming_the_document(bad, says):
    got = manifest_objects([doc("FrappeBench", "erp"), bad], "shop", "benches.yaml")
    [error] = got["errors"]
    assert error.startswith("Document 2 of benches.yaml must be a vyogo.tech/v1alpha1 or vyogo.tech/v1 FrappeBench, "
                            "FrappeSite, SiteBackup, SiteRestore or SiteMigration with metadata.name; ")
    assert says in error


def test_a_document_of_the_go_operators_v1_is_read_as_the_v1alpha1_object_it_is_stored_as():
    v1 = dict(doc("FrappeBench", "erp"), apiVersion="vyogo.tech/v1")
    got = manifest_objects([v1], "shop")
    assert got["errors"] == [] and got["benches"][0]["apiVersion"] == "vyogo.tech/v1alpha1"
    assert v1["apiVersion"] == "vyogo.tech/v1"


def test_an_empty_manifest_has_no_objects():
    assert manifest_objects([None], "shop") == {"benches": [], "sites": [], "backups": [], "restores": [],
                                                "migrations": [], "errors": []}


def test_a_relative_manifest_is_looked_for_in_the_project_then_in_the_current_directory():
    assert manifest_candidates("/srv/m.yaml", "/project", "/cwd") == ["/srv/m.yaml"]
    both = ["/project/examples/m.yaml", "/cwd/examples/m.yaml"]
    assert manifest_candidates("examples/m.yaml", "/project", "/cwd") == both
    # AWX and ansible-runner may leave $PWD unset.
    assert manifest_candidates("examples/m.yaml", "/project", None) == ["/project/examples/m.yaml"]
