"""backup_sets: where a site's backup sets live and which of them retention keeps."""

import datetime
import json
import os

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import (
    BackupError, DirectoryStorage, decrypt, parse_stamp, retention, set_prefix, set_stamp, site_prefix, store)

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


def bench_output(directory, stem="20261203_021500-erp_example_com"):
    """What `bench backup` leaves (frappe/utils/backups.py BackupGenerator's names), database and config only."""
    (directory / ("%s-database.sql.gz" % stem)).write_bytes(b"dump")
    (directory / ("%s-site_config_backup.json" % stem)).write_text('{"encryption_key": "k"}')


CONFIG = {"namespace": "shop", "site": "erp.example.com", "backup": "nightly", "prefix": "",
          "retention": {"keepLast": 2}}


def test_sets_on_a_volume_appear_whole_and_retention_prunes_only_this_backups_finished_sets(tmp_path):
    root = tmp_path / "backups"
    storage = DirectoryStorage(str(root))
    site = root / "shop" / "erp.example.com"
    # Another SiteBackup's set, and a set whose copy never finished (no manifest): neither is judged.
    (site / "20261101T000000Z").mkdir(parents=True)
    (site / "20261101T000000Z" / "manifest.json").write_text(json.dumps({"siteBackup": "weekly"}))
    (site / "20261102T000000Z").mkdir()
    outcomes = []
    for night in range(4):
        source = tmp_path / ("run-%d" % night)
        source.mkdir()
        bench_output(source)
        outcomes.append(store(storage, str(source), CONFIG, now=START + datetime.timedelta(days=night)))
    assert outcomes[-1]["kept"] == [set_stamp(START + datetime.timedelta(days=d)) for d in (3, 2)]
    assert sum(len(o["pruned"]) for o in outcomes) == 2
    assert sorted(os.listdir(site)) == sorted(["20261101T000000Z", "20261102T000000Z"] + outcomes[-1]["kept"])
    newest = site / outcomes[-1]["set"]
    manifest = json.loads((newest / "manifest.json").read_text())
    assert sorted(f["kind"] for f in manifest["files"]) == ["database", "site_config_backup"]
    assert all(f["size"] == (newest / f["name"]).stat().st_size for f in manifest["files"])
    assert not manifest["encrypted"] and outcomes[-1]["location"] == str(newest) + "/"


def test_the_newest_run_is_stored_and_a_run_without_a_database_dump_stores_nothing(tmp_path):
    storage = DirectoryStorage(str(tmp_path / "backups"))
    source = tmp_path / "run"
    source.mkdir()
    bench_output(source)
    bench_output(source, stem="20261203_031500-erp_example_com")
    outcome = store(storage, str(source), CONFIG)
    stored = tmp_path / "backups" / "shop" / "erp.example.com" / outcome["set"]
    assert sorted(p.name for p in stored.iterdir() if p.name != "manifest.json") == [
        "20261203_031500-erp_example_com-database.sql.gz", "20261203_031500-erp_example_com-site_config_backup.json"]
    (source / "20261203_041500-erp_example_com-site_config_backup.json").write_text("{}")
    with pytest.raises(BackupError, match="no database dump"):
        store(storage, str(source), CONFIG)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "20261203_021500-erp_example_com-site_config_backup.json").write_text("{}")
    with pytest.raises(BackupError, match="no database dump"):
        store(DirectoryStorage(str(tmp_path / "other")), str(empty), CONFIG)
    assert not (tmp_path / "other").exists()


def test_an_encrypted_set_holds_no_plain_text_and_opens_with_the_passphrase(tmp_path):
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple")
    source = tmp_path / "run"
    source.mkdir()
    bench_output(source)
    outcome = store(DirectoryStorage(str(tmp_path / "backups")), str(source), CONFIG, passphrase_file=str(passphrase))
    stored = tmp_path / "backups" / "shop" / "erp.example.com" / outcome["set"]
    config = next(stored.glob("*site_config_backup.json.gpg"))
    assert b"encryption_key" not in config.read_bytes()
    decrypt(str(config), str(passphrase), str(tmp_path / "plain.json"))
    assert json.loads((tmp_path / "plain.json").read_text()) == {"encryption_key": "k"}
    wrong = tmp_path / "wrong"
    wrong.write_text("another key")
    with pytest.raises(BackupError, match="a different key"):
        decrypt(str(config), str(wrong), str(tmp_path / "again.json"))


def test_forget_deletes_this_backups_sets_and_nothing_else(tmp_path):
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import forget
    storage = DirectoryStorage(str(tmp_path / "backups"))
    site = tmp_path / "backups" / "shop" / "erp.example.com"
    for night in range(2):
        source = tmp_path / ("run-%d" % night)
        source.mkdir()
        bench_output(source)
        store(storage, str(source), dict(CONFIG, retention={}), now=START + datetime.timedelta(days=night))
    (site / "20261101T000000Z").mkdir()
    (site / "20261101T000000Z" / "manifest.json").write_text(json.dumps({"siteBackup": "weekly"}))
    (site / "20261102T000000Z").mkdir()
    outcome = forget(storage, CONFIG)
    assert outcome["deleted"] == [set_stamp(START), set_stamp(START + datetime.timedelta(days=1))]
    assert sorted(os.listdir(site)) == ["20261101T000000Z", "20261102T000000Z"]
