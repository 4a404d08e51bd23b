"""Unit tests of the bench_ignored_fields filter."""

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.ignored_fields import bench_ignored_fields


def test_nothing_to_say_for_a_bench_without_them():
    assert bench_ignored_fields({"frappeVersion": "v15", "redisConfig": {"type": "redis"},
                                 "gitConfig": {}, "appsJSON": ""}) == []


def test_each_ignored_field_is_named_once_with_its_reason():
    notes = bench_ignored_fields({
        "appsJSON": '["erpnext"]', "fpmConfig": {"repositories": [{"name": "r", "url": "https://fpm.example"}]},
        "gitConfig": {"enabled": True}, "domainConfig": {"suffix": ".example.com"},
        "redisConfig": {"type": "dragonfly"}})
    assert [n.split(":")[0] for n in notes] == ["spec.appsJSON", "spec.fpmConfig", "spec.gitConfig",
                                                "spec.domainConfig", "spec.redisConfig.type dragonfly"]
    assert all(len(n.split(": ", 1)[1]) > 20 for n in notes)
