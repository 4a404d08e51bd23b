"""backup_sets, the restore side: a set fetched whole and checked, the versions compared, the key decided."""

import datetime
import gzip
import json
import os

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import (
    BackupError, DirectoryStorage, compare_versions, dump_frappe_version, fetch_set, finish_key, key_action,
    prepare_restore, seal_key, store, unseal_key)

STEM = "20261203_021500-erp_example_com"
CONFIG = {"namespace": "shop", "site": "erp.example.com", "backup": "nightly", "prefix": "", "retention": {}}
NIGHT = datetime.datetime(2026, 12, 3, 2, 15)
APPS = [{"app": "frappe", "version": "15.55.1"}, {"app": "erpnext", "version": "15.45.0"}]


def bench_output(directory, key="the backed-up key"):
    """What `bench backup` leaves: the dump with Frappe's metadata header first (frappe/utils/backups.py
    take_dump), and the copy of site_config.json."""
    with gzip.open(str(directory / ("%s-database.sql.gz" % STEM)), "wt") as handle:
        handle.write("-- begin frappe metadata\n-- [frappe]\n-- version = 15.55.1\n-- branch = N/A\n"
                     "-- end frappe metadata\n-- \n")
    (directory / ("%s-site_config_backup.json" % STEM)).write_text(json.dumps({"encryption_key": key}))


@pytest.fixture
def stored(tmp_path):
    """Two nights of sets of SiteBackup nightly, encrypted, on a volume."""
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple")
    storage = DirectoryStorage(str(tmp_path / "backups"))
    for night in range(2):
        source = tmp_path / ("run-%d" % night)
        source.mkdir()
        bench_output(source, key="key of night %d" % night)
        store(storage, str(source), CONFIG, now=NIGHT + datetime.timedelta(days=night),
              passphrase_file=str(passphrase), apps=APPS)
    return storage, str(passphrase)


def test_the_newest_set_or_the_named_one_comes_back_decrypted_with_its_apps(tmp_path, stored):
    storage, passphrase = stored
    work = tmp_path / "work"
    work.mkdir()
    newest = fetch_set(storage, CONFIG, str(work), passphrase)
    assert newest["set"] == "20261204T021500Z" and newest["apps"] == APPS
    assert json.loads(open(newest["files"]["site_config_backup"]).read()) == {"encryption_key": "key of night 1"}
    assert newest["files"]["database"].endswith("-database.sql.gz"), "bench restore reads the extension"
    assert dump_frappe_version(newest["files"]["database"]) == "15.55.1"
    first = fetch_set(storage, dict(CONFIG, stamp="20261203T021500Z"), str(work), passphrase)
    assert json.loads(open(first["files"]["site_config_backup"]).read()) == {"encryption_key": "key of night 0"}
    with pytest.raises(BackupError, match="there is no set 20261101T000000Z"):
        fetch_set(storage, dict(CONFIG, stamp="20261101T000000Z"), str(work), passphrase)
    with pytest.raises(BackupError, match="has stored no complete set"):
        fetch_set(storage, dict(CONFIG, backup="weekly"), str(work), passphrase)


def test_a_damaged_set_or_a_wrong_passphrase_is_refused(tmp_path, stored):
    storage, passphrase = stored
    work = tmp_path / "work"
    work.mkdir()
    wrong = tmp_path / "wrong"
    wrong.write_text("another passphrase")
    with pytest.raises(BackupError, match="a different key"):
        fetch_set(storage, CONFIG, str(work), str(wrong))
    set_dir = tmp_path / "backups" / "shop" / "erp.example.com" / "20261204T021500Z"
    dump = next(set_dir.glob("*database.sql.gz.gpg"))
    dump.write_bytes(dump.read_bytes() + b"x")
    with pytest.raises(BackupError, match="does not match the checksum"):
        fetch_set(storage, CONFIG, str(work), passphrase)


def test_older_code_is_migrated_newer_code_and_missing_apps_are_refused_unless_forced():
    bench = [{"app": "frappe", "version": "15.60.0"}, {"app": "erpnext", "version": "15.45.0"}]
    same = compare_versions(bench, bench)
    assert not same["migrate"] and not same["refusals"]
    older = compare_versions(APPS, bench)
    assert older["migrate"] and older["older"] == ["frappe"] and not older["refusals"]
    newer = compare_versions([{"app": "frappe", "version": "16.0.0"}], bench)
    assert "newer code than the bench runs: frappe 16.0.0 (bench: 15.60.0)" in newer["refusals"][0]
    assert not compare_versions([{"app": "frappe", "version": "16.0.0"}], bench, force=True)["refusals"]
    missing = compare_versions(APPS + [{"app": "hrms", "version": "15.1.0"}], bench)
    assert "apps the bench lacks: hrms" in missing["refusals"][0]
    assert compare_versions([], bench)["migrate"], "unknown versions: migrate (a no-op on a matching schema)"
    # What the restored schema is made for: the bench's code once migrated, else the set's own (forced: newer).
    assert older["schema"] == {"frappe": "15.60.0", "erpnext": "15.45.0"}
    assert compare_versions([{"app": "frappe", "version": "16.0.0"}], bench, force=True)["schema"] == {
        "frappe": "16.0.0", "erpnext": "15.45.0"}


def test_the_key_comes_back_unless_the_site_has_another_which_only_force_replaces():
    assert key_action({"encryption_key": "k"}, {}) == "restored"
    assert key_action({"encryption_key": "k"}, {"encryption_key": "k"}) == "restored"
    assert key_action({}, {"encryption_key": "mine"}) == "kept"
    with pytest.raises(BackupError, match="set spec.force: true"):
        key_action({"encryption_key": "k"}, {"encryption_key": "mine"})
    assert key_action({"encryption_key": "k"}, {"encryption_key": "mine"}, force=True) == "replaced"


def bench_dir(tmp_path, site_config):
    bench = tmp_path / "bench"
    (bench / "sites" / "erp.example.com").mkdir(parents=True)
    (bench / "sites" / "erp.example.com" / "site_config.json").write_text(json.dumps(site_config))
    (bench / "bench-apps.json").write_text(json.dumps(APPS))
    return bench


def restore_config(tmp_path, passphrase, **more):
    return dict({"site": "erp.example.com", "workdir": str(tmp_path / "work"),
                 "benchAppsFile": str(tmp_path / "bench" / "bench-apps.json"),
                 "set": dict(CONFIG, storage={"type": "pvc", "directory": str(tmp_path / "backups")},
                             passphraseFile=passphrase)}, **more)


def test_prepare_refuses_before_the_site_is_touched_and_finish_key_keeps_the_old_config(
        tmp_path, stored, monkeypatch):
    _storage, passphrase = stored
    bench = bench_dir(tmp_path, {"db_name": "_abc", "encryption_key": "key of the new site"})
    monkeypatch.chdir(bench)
    before = (bench / "sites" / "erp.example.com" / "site_config.json").read_text()
    with pytest.raises(BackupError, match="encryption_key differs"):
        prepare_restore(restore_config(tmp_path, passphrase))
    assert (bench / "sites" / "erp.example.com" / "site_config.json").read_text() == before
    config = restore_config(tmp_path, passphrase, force=True)
    prepared = prepare_restore(config, now=NIGHT)
    assert prepared["encryptionKey"] == "replaced" and not prepared["migrate"]
    assert finish_key(config, prepared) == "replaced"
    site = bench / "sites" / "erp.example.com"
    expected = {"db_name": "_abc", "encryption_key": "key of night 1"}
    assert json.loads((site / "site_config.json").read_text()) == expected
    kept = site / prepared["keptConfig"]
    assert kept.read_text() == before and oct(os.stat(str(kept)).st_mode & 0o777) == "0o600"
    assert prepared["previousKeySealed"] == "", "no pad mounted: the key is kept on the volume only"


def test_a_replaced_key_leaves_the_job_sealed_with_the_pad_and_only_that_pad_unseals_it(
        tmp_path, stored, monkeypatch):
    _storage, passphrase = stored
    bench = bench_dir(tmp_path, {"db_name": "_abc", "encryption_key": "key of the new site"})
    monkeypatch.chdir(bench)
    (tmp_path / "pad").write_text("Zq3" * 20 + "\n")
    prepared = prepare_restore(restore_config(tmp_path, passphrase, force=True, keyPadFile=str(tmp_path / "pad")),
                               now=NIGHT)
    sealed = prepared["previousKeySealed"]
    assert "key of the new site" not in sealed and "key of the new site".encode().hex() not in sealed
    assert unseal_key(sealed, "Zq3" * 20) == "key of the new site"
    with pytest.raises(ValueError, match="does not unseal"):
        unseal_key(sealed, "Zq4" * 20)
    # A Fernet key as Frappe makes it (frappe/utils/password.py get_encryption_key), and a key longer than 64 bytes.
    for key in ("n8LlvT6Gk0pTj0v6OEfn2lQwgHbQZ_3uW3K7hCwq9-E=", "x" * 300):
        assert seal_key(key, "pad") != seal_key(key, "pad2")
        assert unseal_key(seal_key(key, "pad"), "pad") == key


def test_a_site_that_is_not_there_is_not_restored_into(tmp_path, stored, monkeypatch):
    _storage, passphrase = stored
    (tmp_path / "bench" / "sites").mkdir(parents=True)
    (tmp_path / "bench" / "bench-apps.json").write_text(json.dumps(APPS))
    monkeypatch.chdir(tmp_path / "bench")
    with pytest.raises(BackupError, match="must be created"):
        prepare_restore(restore_config(tmp_path, passphrase))
