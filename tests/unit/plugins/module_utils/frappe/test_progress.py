"""progress_reads: what a pause between two reconcile rounds of playbooks/site.yml watches."""

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import site_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.progress import progress_reads, progress_seen
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_reads


def test_a_bench_on_its_way_is_watched_through_the_jobs_and_workloads_it_owns():
    reads = progress_reads([{"kind": "FrappeBench", "namespace": "shop", "name": "erp"}])
    assert sorted(r["kind"] for r in reads) == ["Deployment", "Job", "StatefulSet"]
    assert all(r["namespace"] == "shop" and r["label_selectors"] == ["vyogo.tech/bench=erp"] for r in reads)


def test_a_site_on_its_way_is_watched_through_its_jobs_and_database_objects_by_the_names_it_reads_them():
    reads = progress_reads([{"kind": "FrappeSite", "namespace": "shop", "name": "erp"}])
    by_kind = dict((r["kind"], r) for r in reads)
    assert by_kind["Database"]["name"] == site_names("erp")["database"]
    assert by_kind["Grant"]["name"] == site_names("erp")["grant"]
    # The Jobs by the selector the site's own read uses.
    site = {"metadata": {"name": "erp", "namespace": "shop"}, "spec": {"benchRef": {"name": "b"}}}
    [own_jobs] = [r for r in site_reads(site) if r["key"] == "jobs"]
    assert by_kind["Job"]["label_selectors"] == own_jobs["label_selectors"]


def test_each_read_has_its_own_key_and_nothing_waiting_reads_nothing():
    reads = progress_reads([{"kind": "FrappeBench", "namespace": "shop", "name": "erp"},
                            {"kind": "FrappeSite", "namespace": "shop", "name": "erp"}])
    assert len(set(r["key"] for r in reads)) == len(reads) == 7
    assert progress_reads([]) == []


def test_what_the_round_saw_is_keyed_as_the_pause_reads_it_and_only_what_moves_counts():
    bench = {"kind": "FrappeBench", "namespace": "shop", "name": "erp"}
    read = {"jobs": [{"metadata": {"uid": "j1", "resourceVersion": "7"}}],
            "deployments": [{"metadata": {"uid": "d1", "resourceVersion": "9"}}],
            # Not what moves on its own: the pause does not read it, so it is no part of the comparison.
            "secrets": [{"metadata": {"uid": "s1", "resourceVersion": "3"}}]}
    seen = progress_seen(bench, read)
    assert sorted((s["key"], s["uid"], s["resource_version"]) for s in seen) == [
        ("FrappeBench shop/erp deployments", "d1", "9"), ("FrappeBench shop/erp jobs", "j1", "7")]
    assert set(s["key"] for s in seen) <= set(r["key"] for r in progress_reads([bench]))
    # A site whose database objects were not read yet saw none of them.
    assert progress_seen({"kind": "FrappeSite", "namespace": "shop", "name": "erp"}, {"jobs": []}) == []
