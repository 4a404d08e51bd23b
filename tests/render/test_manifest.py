"""The manifest playbooks read: every document checked before anything is rendered or applied."""

import pytest

from manifests import bench
from podscripts import RenderError, render


def test_a_document_that_is_not_a_frappe_object_is_refused_naming_it(tmp_path):
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench(), config_map)
    assert ("Document 2 of %s must be a vyogo.tech/v1alpha1 or vyogo.tech/v1 FrappeBench, FrappeSite, SiteBackup, SiteRestore or "
            "SiteMigration with "
            "metadata.name; "
            "got v1 ConfigMap." % (tmp_path / "manifest.yaml")) in str(err.value)
    assert not (tmp_path / "rendered" / "manifests.yaml").exists()


def test_a_list_stands_for_its_items_and_a_bench_without_namespace_goes_to_frappe_namespace(tmp_path):
    unnamespaced = bench()
    del unnamespaced["metadata"]["namespace"]
    listed = {"apiVersion": "v1", "kind": "List", "items": [unnamespaced]}
    objects = render(tmp_path, listed, extra_vars={"frappe_namespace": "shop"})
    assert objects and {o["metadata"]["namespace"] for o in objects} == {"shop"}
