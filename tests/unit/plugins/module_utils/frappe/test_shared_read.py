"""shared_reads and shared_read_of: one read for the reconciles of several objects, and each one's share."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import (
    being_deleted, round_objects, round_reads, shared_read_of, shared_reads)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_reads

SETTINGS = {"keda_namespace": "keda", "keda_lease": "operator.keda.sh"}


def site(name, bench="shop", namespace="shop"):
    return {"kind": "FrappeSite", "metadata": {"name": name, "namespace": namespace},
            "spec": {"benchRef": {"name": bench}, "siteName": "%s.example.com" % name,
                     "dbConfig": {"mariadbRef": {"name": "mariadb"}}}}


def bench(name, namespace="shop"):
    return {"kind": "FrappeBench", "metadata": {"name": name, "namespace": namespace},
            "spec": {"frappeVersion": "version-15"}}


def answer_to(reads, served):
    """What k8s_multi_info answers: under each read's key one object named after what was read."""
    return {"objects": dict((r["key"], [{"kind": r["kind"], "metadata": {"name": r.get("name") or r["key"]}}])
                            for r in reads),
            "api_groups_served": served}


def test_sites_of_one_bench_share_the_reads_of_their_bench_namespace_and_server():
    erp, crm = site("erp"), site("crm")
    shared = shared_reads([erp, crm])
    assert len(shared["reads"]) == 2 * len(site_reads(erp)) - 3
    assert len(set(r["key"] for r in shared["reads"])) == len(shared["reads"])
    assert shared["api_groups"] == ["k8s.mariadb.com/v1alpha1", "cert-manager.io/v1"]


def test_each_object_gets_what_its_own_read_would_have_given_it():
    objects = [bench("shop"), bench("other"), site("erp"), site("crm")]
    shared = shared_reads(objects, SETTINGS)
    answer = answer_to(shared["reads"], {"keda.sh/v1alpha1": True, "k8s.mariadb.com/v1alpha1": True,
                                         "cert-manager.io/v1": False})
    for obj in objects:
        own = bench_reads(obj, SETTINGS) if obj["kind"] == "FrappeBench" else site_reads(obj)
        share = shared_read_of(answer, obj, SETTINGS)
        assert sorted(share["objects"]) == sorted(r["key"] for r in own)
        for read in own:
            if read.get("name"):
                assert [o["metadata"]["name"] for o in share["objects"][read["key"]]] == [read["name"]]
    assert shared_read_of(answer, bench("shop"), SETTINGS)["api_groups_served"] == {"keda.sh/v1alpha1": True}
    assert shared_read_of(answer, site("erp"), SETTINGS)["api_groups_served"] == {
        "k8s.mariadb.com/v1alpha1": True, "cert-manager.io/v1": False}
    # Two sites' own objects stay apart; an object nobody read is an empty list.
    assert shared_read_of(answer, site("erp"))["objects"]["database"] != shared_read_of(answer, site("crm"))[
        "objects"]["database"]
    assert shared_read_of({"objects": {}}, site("erp"))["objects"]["database"] == []


def test_anything_but_a_bench_or_a_site_is_refused():
    with pytest.raises(InvalidInput, match="ConfigMap"):
        shared_reads([{"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}}])


def test_without_the_role_settings_the_bench_reads_find_kedas_own_lease():
    [lease] = [r for r in bench_reads(bench("shop"), {"keda_namespace": "", "keda_lease": ""}) if r["key"] == "keda_lease"]
    assert (lease["namespace"], lease["name"]) == ("keda", "operator.keda.sh")
    [lease] = [r for r in bench_reads(bench("shop"), {"keda_namespace": "autoscale", "keda_lease": "l"})
               if r["key"] == "keda_lease"]
    assert (lease["namespace"], lease["name"]) == ("autoscale", "l")


def test_objects_being_deleted_that_the_manifest_does_not_hold_are_found_in_the_rounds_read():
    def obj(kind, name, deleting=True, namespace="shop"):
        metadata = {"name": name, "namespace": namespace}
        if deleting:
            metadata["deletionTimestamp"] = "2026-12-04T10:00:00Z"
        return {"kind": kind, "metadata": metadata}
    read = {"benches-shop": [dict(obj("FrappeBench", "erp"))],
            "sites-shop": [obj("FrappeSite", "gone"), obj("FrappeSite", "kept"), obj("FrappeSite", "live", False)],
            "sitebackups-shop": [obj("SiteBackup", "nightly"), obj("SiteBackup", "gone")]}
    manifest = [obj("FrappeSite", "kept", False), obj("SiteBackup", "nightly", False)]
    assert being_deleted(read, manifest, ["FrappeSite"]) == [obj("FrappeSite", "gone")]
    assert being_deleted(read, manifest, ["SiteBackup"]) == [obj("SiteBackup", "gone")]
    assert being_deleted(read, manifest) == [obj("FrappeSite", "gone"), obj("SiteBackup", "gone")]
    # A site of the same name in another namespace is another site.
    assert being_deleted({"sites-other": [obj("FrappeSite", "kept", namespace="other")]}, manifest) != []
    assert being_deleted(read, manifest + [obj("FrappeSite", "gone", False), obj("SiteBackup", "gone", False)]) == []


def test_a_round_reads_each_kind_in_the_namespaces_that_need_it_and_keeps_only_those_objects():
    def obj(kind, namespace):
        return {"kind": kind, "metadata": {"name": "x", "namespace": namespace}}
    manifest = [obj("FrappeBench", "a"), obj("FrappeSite", "b"), obj("SiteBackup", "c"), obj("SiteRestore", "d"),
                obj("FrappeSite", "a")]
    keys = [read["key"] for read in round_reads(manifest)]
    assert keys == ["benches-a", "benches-b", "sites-a", "sites-b", "sitebackups-a", "sitebackups-b",
                    "sitebackups-c", "siterestores-d"]
    assert all(read["api_version"] == "vyogo.tech/v1alpha1" for read in round_reads(manifest))
    read = dict((key, [obj("Any", "a")]) for key in keys)
    read["shop apps/v1 Deployment"] = [obj("Deployment", "a")]
    assert round_objects(read) == dict((key, [obj("Any", "a")]) for key in keys)
