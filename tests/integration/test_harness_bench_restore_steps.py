"""Harness check, not a test of the collection: the stand-ins of the steps around a restore behave as Frappe's.

`bench --site S set-maintenance-mode on|off`, `bench --site S migrate` and
`bench --site S set-admin-password` (tests/harness/podscripts.py
_MAINTENANCE_MODE, _MIGRATE, _ADMIN_PASSWORD) must leave what Frappe
version-15 leaves, on a real MariaDB (a site made by the stand-in `bench
new-site`) with a real Redis for redis_cache: maintenance_mode 1 or 0 in the
site's config and nothing else; after migrate, one row of
`tabInstalled Application` per installed app with the version the bench
holds, and maintenance_mode as it was; the Administrator's passlib hash in
`__Auth`, replaced in place. When they fail, they fail where and as Frappe
does: a usage error (exit 2), a missing site, services that do not answer, a
database without tabDefaultValue, a migrate already running (exit 1).
"""

import base64
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys

import pytest

from support import REPO

sys.path.insert(0, str(REPO / "tests" / "harness"))
from podscripts import ImageBench  # noqa: E402

try:
    from passlib.context import CryptContext
except ImportError:  # not in the harness's environment: the hash is checked with hashlib alone then
    CryptContext = None

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]

SITE = "erp.example.com"
ADMIN = "first secret"


def bench(image, *args, stdin="", **env):
    return subprocess.run([str(image.bin / "bench")] + list(args), cwd=image.bench, capture_output=True, text=True,
                          input=stdin, env=dict(os.environ, HARNESS_LOG=str(image.log), HARNESS_MARIADB_REAL="1", **env),
                          timeout=120, check=False)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site(tmp_path, mariadb_server, redis_server):
    """A site with frappe and erpnext, in a bench configured as roles/frappe_bench/files/configure-bench.sh does:
    sites/apps.txt and the Redis of common_site_config.json."""
    image = ImageBench(tmp_path / "image")
    (image.sites / "apps.txt").write_text("".join(a + "\n" for a in sorted(os.listdir(image.bench / "apps"))))
    (image.sites / "common_site_config.json").write_text(json.dumps({
        "redis_cache": "redis://%s" % redis_server.address, "redis_queue": "redis://%s" % redis_server.address}))
    made = bench(image, "new-site", SITE, "--db-root-password", mariadb_server.root_password, "--db-host",
                 mariadb_server.host, "--db-port", str(mariadb_server.port), "--no-mariadb-socket",
                 "--admin-password", ADMIN, "--install-app", "erpnext")
    assert made.returncode == 0, made.stdout + made.stderr
    return image


def config_path(image):
    return image.sites / SITE / "site_config.json"


def site_config(image):
    return json.loads(config_path(image).read_text())


def query(mariadb_server, image, statement):
    """Rows of `statement` on the site's database, as root: lists of column values."""
    rows = mariadb_server.sql(statement, database=site_config(image)["db_name"])
    return [line.split("\t") for line in rows.splitlines()]


def verifies(password, stored):
    """passlib's pbkdf2_sha256 (Frappe's passlibctx) accepts `password` for `stored`."""
    _empty, scheme, rounds, salt, checksum = stored.split("$")

    def ab64(text):
        return base64.b64decode(text.replace(".", "+") + "=" * (-len(text) % 4))
    ours = scheme == "pbkdf2-sha256" and hashlib.pbkdf2_hmac(
        "sha256", password.encode(), ab64(salt), int(rounds), 32) == ab64(checksum)
    if CryptContext is not None:
        assert CryptContext(schemes=["pbkdf2_sha256", "argon2"]).verify(password, stored) == ours
    return ours


def admin_auth(mariadb_server, image):
    return query(mariadb_server, image, "SELECT doctype, name, fieldname, password, encrypted FROM `__Auth`")


# set-maintenance-mode


def test_set_maintenance_mode_writes_1_or_0_into_the_sites_config_and_nothing_else(site):
    before = site_config(site)
    run = bench(site, "--site", SITE, "set-maintenance-mode", "on")
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    assert site_config(site) == dict(before, maintenance_mode=1)
    # _update_config_file: indent 1, sorted keys, under the site_config lock of the site
    assert config_path(site).read_text() == json.dumps(dict(before, maintenance_mode=1), indent=1, sort_keys=True)
    assert (site.sites / SITE / "locks" / "site_config.lock").exists()
    assert bench(site, "--site", SITE, "set-maintenance-mode", "off").returncode == 0
    assert site_config(site) == dict(before, maintenance_mode=0)


def test_set_maintenance_mode_refuses_another_state_as_click_does_and_a_missing_site_as_frappe_does(site):
    before = config_path(site).read_text()
    run = bench(site, "--site", SITE, "set-maintenance-mode", "maybe")
    assert run.returncode == 2
    assert "Error: Invalid value for '{on|off}': 'maybe' is not one of 'on', 'off'." in run.stderr
    run = bench(site, "--site", SITE, "set-maintenance-mode")
    assert run.returncode == 2 and "Error: Missing argument '{on|off}'." in run.stderr
    assert config_path(site).read_text() == before
    run = bench(site, "--site", "other.example.com", "set-maintenance-mode", "on")
    assert run.returncode == 1 and run.stdout == "Site other.example.com does not exist!\n", run.stdout + run.stderr
    assert not (site.sites / "other.example.com").exists()


@pytest.mark.parametrize("command", [["set-maintenance-mode", "on"], ["migrate"], ["set-admin-password", "x"]])
def test_every_command_needs_the_apps_txt_of_the_sites_volume(site, command):
    # frappe/utils/bench_helper.py get_apps reads it before click finds the command.
    (site.sites / "apps.txt").unlink()
    run = bench(site, "--site", SITE, *command)
    assert run.returncode == 1 and "OSError: b'./apps.txt' Not Found" in run.stderr, run.stdout + run.stderr


# migrate


def installed_applications(mariadb_server, image):
    return query(mariadb_server, image, "SELECT idx, app_name, app_version, git_branch, parent, parentfield, "
                                        "parenttype FROM `tabInstalled Application` ORDER BY idx")


def test_migrate_records_the_versions_of_the_installed_apps_and_leaves_maintenance_mode_as_it_was(
        site, mariadb_server):
    assert bench(site, "--site", SITE, "set-maintenance-mode", "on").returncode == 0
    run = bench(site, "--site", SITE, "migrate")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "Migrating %s\nQueued rebuilding of search index for %s\n\n" % (SITE, SITE)
    table = ("Installed Applications", "installed_applications", "Installed Applications")
    assert installed_applications(mariadb_server, site) == [
        ["1", "frappe", "15.55.1", "UNVERSIONED", *table], ["2", "erpnext", "15.45.0", "UNVERSIONED", *table]]
    # migrate neither sets nor clears maintenance_mode: the site stays in maintenance until told otherwise.
    assert site_config(site)["maintenance_mode"] == 1
    assert "migration_hash" in [row[0] for row in query(mariadb_server, site, "SHOW COLUMNS FROM `tabDocType`")]
    assert json.loads((site.sites / SITE / "touched_tables.json").read_text()) == ["tabInstalled Application"]
    migrated = [c for c in site.calls() if c["program"] == "bench-migrate"]
    assert [(c["site"], c["versions"]) for c in migrated] == [(SITE, {"frappe": "15.55.1", "erpnext": "15.45.0"})]

    # Again, of a bench whose apps.txt no longer lists erpnext: the rows are replaced, erpnext's dropped.
    assert bench(site, "--site", SITE, "set-maintenance-mode", "off").returncode == 0
    (site.sites / "apps.txt").write_text("frappe\n")
    run = bench(site, "--site", SITE, "migrate", "--skip-search-index", "--skip-failing")
    assert run.returncode == 0 and run.stdout == "Migrating %s\n\n" % SITE, run.stdout + run.stderr
    assert installed_applications(mariadb_server, site) == [["1", "frappe", "15.55.1", "UNVERSIONED", *table]]
    assert site_config(site)["maintenance_mode"] == 0
    assert site.calls()[-1]["skip_search_index"] is True and site.calls()[-1]["skip_failing"] is True


def test_migrate_of_a_missing_site_or_with_an_unknown_option_fails_before_it_does_anything(site):
    run = bench(site, "--site", "other.example.com", "migrate")
    assert run.returncode == 1
    assert run.stdout == "Migrating other.example.com\n\nSite other.example.com does not exist!\n"
    run = bench(site, "--site", SITE, "migrate", "--skip-patches")
    assert run.returncode == 2 and "Error: No such option: --skip-patches" in run.stderr and run.stdout == ""
    assert not [c for c in site.calls() if c["program"] == "bench-migrate"]


@pytest.mark.parametrize("service", ["mariadb", "redis_cache"])
def test_migrate_stops_with_frappes_words_when_the_database_or_redis_cache_does_not_answer(site, mariadb_server,
                                                                                           service):
    config = site_config(site)
    if service == "mariadb":
        config["db_port"] = closed_port()
    else:
        config["redis_cache"] = "redis://127.0.0.1:%d" % closed_port()
    config_path(site).write_text(json.dumps(config))
    run = bench(site, "--site", SITE, "migrate")
    assert run.returncode == 1
    assert "Service %s is not running." % service in run.stdout
    assert "Cannot run bench migrate without the services running." in run.stdout
    assert installed_applications(mariadb_server, site) == []
    assert not (site.sites / SITE / "touched_tables.json").exists()


def test_migrate_fails_with_pymysqls_error_when_the_site_user_cannot_log_in_or_tabdefaultvalue_is_missing(
        site, mariadb_server):
    config = site_config(site)
    mariadb_server.sql("ALTER USER '%s'@'%%' IDENTIFIED BY 'changed'" % config["db_name"])
    run = bench(site, "--site", SITE, "migrate")
    assert run.returncode == 1 and "pymysql.err.OperationalError: (1045, " in run.stderr, run.stdout + run.stderr
    mariadb_server.sql("ALTER USER '%s'@'%%' IDENTIFIED BY '%s'" % (config["db_name"], config["db_password"]))
    mariadb_server.sql("DROP TABLE `%s`.`tabDefaultValue`" % config["db_name"])
    run = bench(site, "--site", SITE, "migrate")
    assert run.returncode == 1
    assert "pymysql.err.ProgrammingError: (1146, \"Table '%s.tabDefaultValue' doesn't exist\")" % config["db_name"] \
        in run.stderr
    # It failed in setUp, before the steps whose tearDown writes touched_tables.json.
    assert not (site.sites / SITE / "touched_tables.json").exists()
    assert installed_applications(mariadb_server, site) == []
    assert not [c for c in site.calls() if c["program"] == "bench-migrate"]


def test_migrate_of_a_dump_without_the_installed_application_table_fails_after_its_teardown(site, mariadb_server):
    mariadb_server.sql("DROP TABLE `%s`.`tabInstalled Application`" % site_config(site)["db_name"])
    run = bench(site, "--site", SITE, "migrate")
    assert run.returncode == 1 and "pymysql.err.ProgrammingError: (1146, " in run.stderr
    assert "Queued rebuilding of search index for %s" % SITE in run.stdout
    assert json.loads((site.sites / SITE / "touched_tables.json").read_text()) == []


def test_a_second_migrate_of_the_site_fails_on_the_lock_of_the_first(site, mariadb_server):
    lock = site.sites / SITE / "locks" / "bench_migrate.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        run = bench(site, "--site", SITE, "migrate")
    assert run.returncode == 1
    assert "LockTimeoutError: Failed to aquire lock: bench_migrate. Lock may be held by another process." \
        in run.stderr and str(lock) in run.stderr
    assert installed_applications(mariadb_server, site) == []
    # Released, the lock is free again.
    assert bench(site, "--site", SITE, "migrate").returncode == 0


# set-admin-password


def test_set_admin_password_replaces_the_administrators_passlib_hash_in_auth(site, mariadb_server):
    # new-site wrote the first one (frappe's after_install -> update_password).
    [row] = admin_auth(mariadb_server, site)
    assert row[:3] == ["User", "Administrator", "password"] and row[4] == "0" and verifies(ADMIN, row[3])
    mariadb_server.sql("UPDATE `%s`.`__Auth` SET encrypted = 1" % site_config(site)["db_name"])
    run = bench(site, "--site", SITE, "set-admin-password", "second secret")
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    [row] = admin_auth(mariadb_server, site)
    assert row[:3] == ["User", "Administrator", "password"] and row[4] == "0"
    assert verifies("second secret", row[3]) and not verifies(ADMIN, row[3])
    # Without the argument Frappe asks: without a terminal getpass reads a line of stdin.
    run = bench(site, "--site", SITE, "set-admin-password", stdin="piped secret\n")
    assert run.returncode == 0, run.stdout + run.stderr
    [row] = admin_auth(mariadb_server, site)
    assert verifies("piped secret", row[3])


def test_set_admin_password_logs_the_administrator_out_of_every_other_session_only_when_asked(site, mariadb_server):
    db = site_config(site)["db_name"]
    mariadb_server.sql("INSERT INTO `%s`.`tabSessions` (user, sid, lastupdate) VALUES ('Administrator', 'a', NOW(6)), "
                       "('Administrator', 'b', NOW(6)), ('Administrator', 'Administrator', NOW(6)), "
                       "('jane@example.com', 'j', NOW(6))" % db)

    def sids():
        return sorted(row[0] for row in query(mariadb_server, site, "SELECT sid FROM `tabSessions`"))

    assert bench(site, "--site", SITE, "set-admin-password", "second secret").returncode == 0
    assert sids() == ["Administrator", "a", "b", "j"]
    run = bench(site, "--site", SITE, "set-admin-password", "third secret", "--logout-all-sessions")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sids() == ["Administrator", "j"]
    assert verifies("third secret", admin_auth(mariadb_server, site)[0][3])


def test_set_admin_password_fails_as_frappe_does_and_leaves_the_hash_alone(site, mariadb_server):
    [before] = admin_auth(mariadb_server, site)
    run = bench(site, "--site", SITE, "set-admin-password")  # no password, nothing on stdin: getpass's EOFError
    assert run.returncode == 1 and "EOFError" in run.stderr
    run = bench(site, "--site", SITE, "set-admin-password", "a", "b")
    assert run.returncode == 2 and "Error: Got unexpected extra argument (b)" in run.stderr
    run = bench(site, "--site", "other.example.com", "set-admin-password", "x")
    assert run.returncode == 1 and run.stdout == "Site other.example.com does not exist!\n"
    mariadb_server.sql("DELETE FROM `%s`.`tabUser` WHERE name = 'Administrator'" % site_config(site)["db_name"])
    run = bench(site, "--site", SITE, "set-admin-password", "x")
    assert run.returncode == 1 and run.stdout == "User Administrator does not exist\n"
    assert admin_auth(mariadb_server, site) == [before]
