"""progress_reads: what a pause between two reconcile rounds of playbooks/site.yml watches."""

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import site_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.progress import MOVING, progress_reads, \
    progress_seen
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
    read = {"jobs": [{"kind": "Job", "metadata": {"uid": "j1", "resourceVersion": "7"}}],
            "deployments": [{"kind": "Deployment", "metadata": {"uid": "d1", "resourceVersion": "9"}}],
            # Not what moves on its own: the pause does not read it, so it is no part of the comparison.
            "secrets": [{"metadata": {"uid": "s1", "resourceVersion": "3"}}]}
    seen = progress_seen(bench, read)
    assert sorted((s["key"], s["uid"], s["state"]) for s in seen) == [
        ("FrappeBench shop/erp deployments", "d1", "serving=0 settled=0 stuck=0"),
        ("FrappeBench shop/erp jobs", "j1", "finished=")]
    assert set(s["key"] for s in seen) <= set(r["key"] for r in progress_reads([bench]))
    # A site whose database objects were not read yet saw none of them; those it saw count by any write.
    site = {"kind": "FrappeSite", "namespace": "shop", "name": "erp"}
    assert progress_seen(site, {"jobs": []}) == []
    assert progress_seen(site, {"database": [{"kind": "Database", "metadata": {"uid": "x", "resourceVersion": "5"}}]}
                         ) == [{"key": "FrappeSite shop/erp database", "uid": "x", "state": "5"}]


def test_each_watched_read_says_what_counts_as_its_move_and_every_moving_key_is_one_the_object_reads():
    waiting = [{"kind": kind, "namespace": "shop", "name": "erp"} for kind in sorted(MOVING)]
    reads = progress_reads(waiting)
    for kind, keys in MOVING.items():
        own = [r for r in reads if r["key"].startswith(kind + " ")]
        assert sorted(r["key"].rsplit(" ", 1)[1] for r in own) == sorted(keys), kind
        assert all(r["moves_by"] == keys[r["key"].rsplit(" ", 1)[1]] for r in own), kind
