"""backup_sets: where a site's backup sets live and which of them retention keeps."""

import datetime

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import (
    parse_stamp, retention, set_prefix, set_stamp, site_prefix)

START = datetime.datetime(2026, 1, 1, 2, 15)


def nightly(days, start=START):
    """The names of one set a night for `days` nights, as a scheduled SiteBackup would leave them."""
    return [set_stamp(start + datetime.timedelta(days=day)) for day in range(days)]


def test_a_set_is_named_by_its_start_in_utc_and_sits_under_namespace_and_site():
    aware = datetime.datetime(2026, 12, 3, 7, 45, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    assert set_stamp(aware) == "20261203T021500Z"
    assert parse_stamp("20261203T021500Z") == datetime.datetime(2026, 12, 3, 2, 15)
    assert set_prefix("backups/", "shop", "erp.example.com", "20261203T021500Z") == \
        "backups/shop/erp.example.com/20261203T021500Z/"
    # No prefix, or one with slashes around it: the same layout.
    assert site_prefix("", "shop", "erp") == site_prefix("/", "shop", "erp") == "shop/erp/"
    assert site_prefix("/a//b/", "shop", "erp") == "a/b/shop/erp/"


def test_without_a_policy_every_set_is_kept():
    stamps = nightly(40)
    keep, prune = retention(stamps, {})
    assert prune == [] and sorted(keep) == sorted(stamps)
    assert retention(stamps, {"keepLast": 0, "keepDaily": None})[1] == []


def test_a_year_of_nightly_sets_keeps_the_grandfather_father_son_anchors_and_prunes_the_rest():
    stamps = nightly(400)
    policy = {"keepLast": 3, "keepDaily": 7, "keepWeekly": 4, "keepMonthly": 6}
    keep, prune = retention(stamps, policy)
    newest = sorted(stamps)[-1]
    days = sorted(parse_stamp(s) for s in keep)
    # The last seven nights (the last three among them), one set in each of the last four ISO weeks
    # (the newest night of each) and in each of the last six months.
    assert sum("day" in r for r in keep.values()) == 7 and sum("last" in r for r in keep.values()) == 3
    assert sum("week" in r for r in keep.values()) == 4 and sum("month" in r for r in keep.values()) == 6
    assert newest in keep and set(keep) | set(prune) == set(stamps) and not set(keep) & set(prune)
    # Each month's set is the last night of that month (the newest in it), bar the current month's.
    months = [parse_stamp(s) for s, r in keep.items() if "month" in r]
    assert all((d + datetime.timedelta(days=1)).month != d.month for d in months if d != parse_stamp(newest))
    assert len(keep) == len(days) < 7 + 4 + 6
    # Pruning is idempotent: what is kept, judged again, is all kept.
    assert retention(list(keep), policy)[1] == []


def test_over_a_simulated_calendar_pruning_night_by_night_keeps_what_pruning_the_whole_history_keeps():
    """A scheduled SiteBackup prunes after each run: what it ends with must not depend on that."""
    policy = {"keepLast": 2, "keepDaily": 3, "keepWeekly": 2, "keepMonthly": 2}
    history, stored = nightly(120), []
    for night, stamp in enumerate(history):
        stored.append(stamp)
        keep, prune = retention(stored, policy)
        assert stamp in keep and set(prune) <= set(stored)
        stored = sorted(keep)
        assert stored == sorted(retention(history[:night + 1], policy)[0])
        assert len(stored) <= 2 + 3 + 2 + 2


def test_the_newest_set_is_always_kept_and_names_no_site_backup_wrote_are_left_alone():
    stamps = nightly(10)
    keep, prune = retention(stamps + ["manual-copy", "20261301T000000Z"], {"keepMonthly": 1})
    newest = sorted(stamps)[-1]
    assert list(keep) == [newest] and "manual-copy" not in prune and "20261301T000000Z" not in prune
    assert sorted(prune) == sorted(stamps)[:-1]
    assert retention([], {"keepLast": 2}) == ({}, [])
