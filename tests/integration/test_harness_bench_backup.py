"""Harness check, not a test of the collection: the stand-in `bench backup` behaves as Frappe's.

It must leave what frappe/utils/backups.py BackupGenerator leaves, on a real
MariaDB (a site made by the stand-in `bench new-site`): the files named by
set_backup_file_name, the dump as a header member and mariadb-dump's output
piped through gzip, the site config verbatim, the file archives with paths
under ./<site>/, and when a step fails, that step's file removed, the
earlier ones kept, and exit 1 with Frappe's words.
"""

import gzip
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from support import REPO

sys.path.insert(0, str(REPO / "tests" / "harness"))
from podscripts import ImageBench  # noqa: E402

pytestmark = [pytest.mark.mariadb]

SITE = "erp.example.com"


def bench(image, *args, **env):
    return subprocess.run([str(image.bin / "bench")] + list(args), cwd=image.bench, capture_output=True, text=True,
                          env=dict(os.environ, HARNESS_LOG=str(image.log), HARNESS_MARIADB_REAL="1", **env),
                          timeout=120, check=False)


@pytest.fixture
def site(tmp_path, mariadb_server):
    image = ImageBench(tmp_path / "image")
    made = bench(image, "new-site", SITE, "--db-root-password", mariadb_server.root_password,
                 "--db-host", mariadb_server.host, "--db-port", str(mariadb_server.port), "--no-mariadb-socket")
    assert made.returncode == 0, made.stderr
    config = json.loads((image.sites / SITE / "site_config.json").read_text())
    mariadb_server.sql("CREATE TABLE `%s`.`tabNote` (title VARCHAR(140)); INSERT INTO `%s`.`tabNote` VALUES "
                       "('kept through the backup')" % (config["db_name"], config["db_name"]))
    (image.sites / SITE / "public" / "files" / "logo.txt").write_text("public file")
    (image.sites / SITE / "private" / "files" / "contract.txt").write_text("private file")
    return image


def test_a_backup_with_files_leaves_the_files_frappe_names_with_the_dump_config_and_archives(site, tmp_path):
    out = tmp_path / "set"
    run = bench(site, "--site", SITE, "backup", "--with-files", "--backup-path", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "Backup for Site %s has been successfully completed with files" % SITE
    names = sorted(os.listdir(out))
    stamp = names[0][:15]
    assert re.fullmatch(r"\d{8}_\d{6}", stamp)
    assert names == sorted("%s-erp_example_com-%s" % (stamp, kind) for kind in (
        "database.sql.gz", "site_config_backup.json", "files.tar", "private-files.tar"))
    dump = gzip.decompress((out / ("%s-erp_example_com-database.sql.gz" % stamp)).read_bytes()).decode()
    assert dump.startswith("-- begin frappe metadata\n-- [frappe]\n-- version = ")
    assert re.search(r"INSERT INTO `tabNote` VALUES\s*\('kept through the backup'\)", dump)
    assert (out / ("%s-erp_example_com-site_config_backup.json" % stamp)).read_text() == \
        (site.sites / SITE / "site_config.json").read_text()
    with tarfile.open(out / ("%s-erp_example_com-private-files.tar" % stamp)) as tar:
        assert "./%s/private/files/contract.txt" % SITE in tar.getnames()
    # Without --backup-path the set goes to the site's private/backups; the header says it is not partial.
    run = bench(site, "--site", SITE, "backup")
    assert run.returncode == 0, run.stderr
    assert len(list((site.sites / SITE / "private" / "backups").glob("*-database.sql.gz"))) == 1


def test_a_dump_that_fails_removes_its_file_keeps_nothing_half_made_and_exits_1(site, tmp_path, mariadb_server):
    config = json.loads((site.sites / SITE / "site_config.json").read_text())
    mariadb_server.sql("ALTER USER '%s'@'%%' IDENTIFIED BY 'changed'" % config["db_name"])
    out = tmp_path / "set"
    run = bench(site, "--site", SITE, "backup", "--backup-path", str(out))
    assert run.returncode == 1
    assert run.stdout.strip().endswith("Backup failed for Site %s. Database or site_config.json may be corrupted" % SITE)
    assert os.listdir(out) == []


def test_a_backup_killed_after_the_dump_leaves_the_dump_alone(site, tmp_path):
    out = tmp_path / "set"
    run = bench(site, "--site", SITE, "backup", "--with-files", "--backup-path", str(out),
                HARNESS_BACKUP_DIE_AFTER="dump")
    assert run.returncode == 137
    assert [name.split("-", 2)[-1] for name in os.listdir(out)] == ["database.sql.gz"]


def test_bench_version_lists_each_app_of_the_image_with_its_version(site):
    run = bench(site, "version", "--format", "json")
    apps = json.loads(run.stdout)
    assert [a["app"] for a in apps] == sorted(a["app"] for a in apps) and {"frappe", "erpnext"} <= {a["app"] for a in apps}
    assert all(set(a) == {"commit", "app", "branch", "version"} for a in apps)


def backup_set(site, tmp_path, *options):
    out = tmp_path / ("set-%d" % len(list(tmp_path.glob("set-*"))))
    run = bench(site, "--site", SITE, "backup", "--backup-path", str(out), *options)
    assert run.returncode == 0, run.stderr
    return dict((p.name.split("-", 2)[-1], p) for p in out.iterdir())


def notes(mariadb_server, site):
    config = json.loads((site.sites / SITE / "site_config.json").read_text())
    return mariadb_server.sql("SELECT title FROM `%s`.`tabNote` ORDER BY title" % config["db_name"]).split("\n")[:-1]


def test_restore_drops_and_remakes_the_database_from_the_dump_and_never_touches_the_encryption_key(
        site, tmp_path, mariadb_server):
    files = backup_set(site, tmp_path, "--with-files")
    config_path = site.sites / SITE / "site_config.json"
    config = json.loads(config_path.read_text())
    mariadb_server.sql("DELETE FROM `%s`.`tabNote`; INSERT INTO `%s`.`tabNote` VALUES ('written after')"
                       % (config["db_name"], config["db_name"]))
    (site.sites / SITE / "private" / "files" / "contract.txt").unlink()
    config_path.write_text(json.dumps(dict(config, encryption_key="the key of this site now")))
    run = bench(site, "--site", SITE, "restore", str(files["database.sql.gz"]), "--db-root-password",
                mariadb_server.root_password, "--with-private-files", str(files["private-files.tar"]))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("Site %s has been restored with files" % SITE)
    assert notes(mariadb_server, site) == ["kept through the backup"]
    assert (site.sites / SITE / "private" / "files" / "contract.txt").read_text() == "private file"
    assert json.loads(config_path.read_text())["encryption_key"] == "the key of this site now"


def test_restore_refuses_a_partial_a_newer_or_an_undecryptable_backup_with_frappes_words(site, tmp_path, mariadb_server):
    root = ["--db-root-password", mariadb_server.root_password]
    partial = backup_set(site, tmp_path, "--include", "Note")
    run = bench(site, "--site", SITE, "restore", str(next(p for k, p in partial.items() if "database" in k)), *root)
    assert run.returncode == 1 and "Use `bench partial-restore`" in run.stdout
    full = backup_set(site, tmp_path)["database.sql.gz"]
    newer = tmp_path / "newer.sql.gz"
    newer.write_bytes(gzip.compress(b"-- begin frappe metadata\n-- [frappe]\n-- version = 16.0.0\n")
                      + full.read_bytes())
    run = bench(site, "--site", SITE, "restore", str(newer), *root)
    assert run.returncode == 1 and "your backup is 16.0.0" in run.stdout and "Aborted!" in run.stdout
    assert bench(site, "--site", SITE, "restore", str(newer), "--force", *root).returncode == 0
    encrypted = tmp_path / "dump.sql.gz.gpg"
    subprocess.run(["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "ours", "--symmetric",
                    "-o", str(encrypted), str(full)], check=True, capture_output=True)
    run = bench(site, "--site", SITE, "restore", str(encrypted), *root)
    assert run.returncode == 1 and "Decryption failed" in run.stdout
    # Frappe generated a backup key it could not have used: it stays in the site config.
    assert "backup_encryption_key" in json.loads((site.sites / SITE / "site_config.json").read_text())
    assert notes(mariadb_server, site) == ["kept through the backup"]
