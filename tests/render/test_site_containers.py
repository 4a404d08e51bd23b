"""What the site Job does, rendered without a cluster and run by the script harness.

The Job follows frappe/helm's job-create-site.yaml with the `bench new-site`
options Frappe version-15 declares (docs/FRAPPESITE.md, "The site Job"); the
harness's bench stand-in refuses any other option, as click does.
"""

import copy
import json
import shutil
import time

import localcluster
import pytest

from podscripts import ImageBench, StartError, pod_spec, render, run_container

BENCH = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": "shop"},
         "spec": {"frappeVersion": "version-15", "apps": [{"name": "erpnext", "source": "image"}],
                  "domainConfig": {"suffix": "example.com"}}}


def site(name, **spec):
    body = {"benchRef": {"name": "shop"}, "siteName": name}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": name, "namespace": "shop"},
            "spec": body}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("sites"), BENCH,
                  site("erp", dbConfig={"mariadbRef": {"name": "mariadb"}}),
                  site("crm.acme.test", domain="crm.acme.test", dbConfig={"connectionSecretRef": {"name": "db-admin"}}))


def site_job(objects, name):
    return next(o for o in objects if o["kind"] == "Job" and o["metadata"]["name"].startswith(name + "-new-site-"))


SECRETS = {
    "erp-db-credentials": {"password": "db-s3cret", "username": "_x", "database": "_x"},
    "erp-admin": {"password": "adm1n"},
    "crm.acme.test-db-credentials": {"password": "crm-db-pw"},
    "crm.acme.test-admin": {"password": "crm-adm1n"},
    "db-admin": {"host": "db.example.internal", "username": "root", "password": "r00t"},
}


def new_site_calls(run):
    """The bench new-site runs that make a site (not the --help that tells which options the image has)."""
    return [c for c in run.calls if c["program"] == "bench" and c["argv"][:1] == ["new-site"]
            and "--help" not in c["argv"]]


def bench_calls(run):
    return [c["argv"] for c in run.calls if c["program"] == "bench" and "--help" not in c["argv"]]


def env_value(job, name):
    return next(e["value"] for e in pod_spec(job)["containers"][0]["env"] if e["name"] == name)


def configured_bench(tmp_path, redis_pair):
    """A bench whose configuration Job has run: common_site_config.json names its two (real) Redis."""
    cache, queue = redis_pair
    image = ImageBench(tmp_path)
    (image.sites / "common_site_config.json").write_text(json.dumps({
        "redis_cache": "redis://%s" % cache.address,
        "redis_queue": "redis://default:%s@%s" % (queue.password, queue.address),
        "redis_socketio": "redis://default:%s@%s" % (queue.password, queue.address)}, indent=1, sort_keys=True))
    return image


def on_server(job, server):
    """The site Job of the MariaDB Operator path, pointed at the real server (as mariadb.shop.svc would be)."""
    job = copy.deepcopy(job)
    for var in pod_spec(job)["containers"][0]["env"]:
        if var["name"] == "DB_HOST":
            var["value"] = server.host
        if var["name"] == "DB_PORT":
            var["value"] = str(server.port)
    return job


def with_env(job, **values):
    job = copy.deepcopy(job)
    for var in pod_spec(job)["containers"][0]["env"]:
        if var["name"] in values:
            var["value"] = values[var["name"]]
    return job


def operator_made_database(server, db_name, password="db-s3cret"):
    """What the MariaDB Operator's Database, User and Grant make."""
    server.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
               "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%'"
               % (db_name, db_name, password, db_name, db_name))


def installed_apps(server, db_name):
    """frappe.get_installed_apps() of the site, read on the server (the installed_apps global)."""
    tables = server.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' "
                        "AND TABLE_NAME = 'tabDefaultValue'" % db_name).strip()
    if tables == "0":
        return []
    return json.loads(server.sql("SELECT defvalue FROM `%s`.`tabDefaultValue` WHERE parent = '__global' "
                                 "AND defkey = 'installed_apps'" % db_name).strip() or "[]")


REAL = {"HARNESS_MARIADB_REAL": "1", "SITE_WAIT_SECONDS": "3"}


def recorded_schema(run):
    """status.schema as the site's status makes it from the run's last words: what the script writes to
    /dev/termination-log it prints last (the harness has no such file), given as the kubelet would."""
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import site_schema
    pod = {"metadata": {"labels": {"batch.kubernetes.io/job-name": "erp-new-site-0"}}, "status": {
        "phase": "Succeeded", "containerStatuses": [{"name": "new-site", "state": {"terminated": {
            "exitCode": 0, "message": run.stdout[run.stdout.rfind("\n{") + 1:]}}}]}}
    return site_schema([pod], "erp-new-site-0")


def run_site_job(image, job, secrets=None, **harness_env):
    return run_container(image, job, pod_spec(job)["containers"][0], secrets or SECRETS, timeout=120,
                         harness_env=dict(REAL, **harness_env))


@pytest.mark.mariadb
@pytest.mark.redis
def test_the_site_job_creates_the_site_on_the_database_the_operator_made(rendered, tmp_path, mariadb_server,
                                                                         redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    db_name = env_value(job, "DB_NAME")
    operator_made_database(mariadb_server, db_name)
    run = run_site_job(image, job)
    assert run.rc == 0, run.explain()
    [call] = new_site_calls(run)
    argv = call["argv"]
    # The database and its user exist: bench only bootstraps it. Never --force, never --db-user.
    assert "--no-setup-db" in argv and "--force" not in argv and "--db-user" not in argv
    assert argv[argv.index("--install-app") + 1] == "erpnext"
    config = json.loads((image.sites / "erp" / "site_config.json").read_text())
    assert config["db_name"] == db_name and config["db_password"] == "db-s3cret"
    assert (config["db_host"], config["db_port"]) == (mariadb_server.host, mariadb_server.port)
    # Frappe has recorded both apps on the database.
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"]
    # Served on erp.example.com (the bench's suffix), so Frappe's links use that URL.
    assert config["host_name"] == "http://erp.example.com"
    # Passwords reach the pod through Secrets only.
    env = pod_spec(job)["containers"][0]["env"]
    for var in ("DB_PASSWORD", "ADMIN_PASSWORD"):
        assert "secretKeyRef" in next(e for e in env if e["name"] == var)["valueFrom"]
    assert "s3cret" not in run.stdout + run.stderr
    # Every query of the script logs in as the site's user, its password in the environment only.
    queries = [c for c in run.calls if c["program"] == "mariadb"]
    assert queries and all("--user=%s" % db_name in q["argv"] for q in queries)
    assert all("db-s3cret" not in " ".join(q["argv"]) and q["env"]["MYSQL_PWD"] == "db-s3cret" for q in queries)

    # The versions the new schema was made for: those of the image's apps (bench version --format json).
    assert recorded_schema(run) == {"job": "erp-new-site-0", "versions": {"erpnext": "15.45.0", "frappe": "15.55.1"}}

    again = run_site_job(image, job)
    assert again.rc == 0 and new_site_calls(again) == [], again.explain()
    assert "is installed" in again.stdout
    # A site that existed keeps what it was migrated to: this run says nothing of versions.
    assert recorded_schema(again) == {"job": "erp-new-site-0"}


@pytest.mark.mariadb
@pytest.mark.redis
@pytest.mark.parametrize("step", ["make_conf", "bootstrap", "install:frappe", "install:erpnext"])
def test_a_site_job_killed_midway_is_completed_by_the_next_run(rendered, tmp_path, mariadb_server, redis_pair, step):
    """bench new-site writes site_config.json first: a run killed after that leaves a folder that looks like a site.
    The next run must finish it, and only then report it created."""
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    db_name = env_value(job, "DB_NAME")
    operator_made_database(mariadb_server, db_name)
    first = run_site_job(image, job, HARNESS_NEW_SITE_DIE_AFTER=step)
    assert first.rc != 0, first.explain()
    assert (image.sites / "erp" / "site_config.json").exists()
    assert "frappe" not in installed_apps(mariadb_server, db_name) or step == "install:erpnext"
    assert "erpnext" not in installed_apps(mariadb_server, db_name)

    retried = run_site_job(image, job)
    assert retried.rc == 0, retried.explain()
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"], retried.explain()
    if step == "install:erpnext":
        # frappe was complete: the app is installed on the site, never a new site over it, and no
        # versions are claimed for a schema this run did not make (installing an app migrates nothing else).
        assert new_site_calls(retried) == []
        assert ["--site", "erp", "install-app", "erpnext"] in bench_calls(retried)
        assert "versions" not in recorded_schema(retried)
    else:
        [call] = new_site_calls(retried)
        assert "--force" in call["argv"] and "--no-setup-db" in call["argv"]
        assert recorded_schema(retried)["versions"] == {"erpnext": "15.45.0", "frappe": "15.55.1"}


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_complete_site_is_never_made_again_and_gets_the_apps_added_later(rendered, tmp_path, mariadb_server,
                                                                           redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    db_name = env_value(job, "DB_NAME")
    operator_made_database(mariadb_server, db_name)
    first = run_site_job(image, with_env(job, INSTALL_APPS=""))
    assert first.rc == 0, first.explain()
    assert installed_apps(mariadb_server, db_name) == ["frappe"]
    mariadb_server.sql("INSERT INTO `%s`.`tabDocType` (name, module) VALUES ('Invoice of a user', 'Accounts')"
                       % db_name)

    # The bench gets ERPNext later: the site's Job runs again with it.
    run = run_site_job(image, job)
    assert run.rc == 0, run.explain()
    assert new_site_calls(run) == []
    assert ["--site", "erp", "install-app", "erpnext"] in bench_calls(run)
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"]
    assert mariadb_server.sql("SELECT module FROM `%s`.`tabDocType` WHERE name = 'Invoice of a user'"
                              % db_name).strip() == "Accounts"


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_complete_database_without_its_site_directory_is_refused(rendered, tmp_path, mariadb_server, redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    db_name = env_value(job, "DB_NAME")
    operator_made_database(mariadb_server, db_name)
    assert run_site_job(image, job).rc == 0
    shutil.rmtree(str(image.sites / "erp"))
    run = run_site_job(image, job)
    assert run.rc == 1 and new_site_calls(run) == [], run.explain()
    assert "holds a complete Frappe site" in run.stderr and "Restore the site directory" in run.stderr
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"]


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_half_made_site_directory_on_an_empty_database_is_completed(rendered, tmp_path, mariadb_server, redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    (image.sites / "erp").mkdir()
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    db_name = env_value(job, "DB_NAME")
    operator_made_database(mariadb_server, db_name)
    run = run_site_job(image, job)
    assert run.rc == 0, run.explain()
    [call] = new_site_calls(run)
    assert "--force" in call["argv"]
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"]


@pytest.mark.mariadb
@pytest.mark.redis
@pytest.mark.parametrize("version,flag", [("15.45.0", "--no-mariadb-socket"),
                                          ("15.55.1", "--mariadb-user-host-login-scope=%")])
def test_on_an_external_server_the_job_creates_the_database_with_the_admin_login(
        rendered, tmp_path, mariadb_server, redis_pair, version, flag):
    """The flag that lets the user log in from every pod is chosen from what the image's bench new-site offers."""
    image = configured_bench(tmp_path, redis_pair)
    job = site_job(rendered, "crm.acme.test")
    db_name = env_value(job, "DB_NAME")
    secrets = dict(SECRETS, **{"db-admin": {"host": mariadb_server.host, "port": str(mariadb_server.port),
                                            "username": "root", "password": mariadb_server.root_password}})
    run = run_site_job(image, job, secrets, HARNESS_FRAPPE_VERSION=version)
    assert run.rc == 0, run.explain()
    [call] = new_site_calls(run)
    argv = call["argv"]
    assert "--no-setup-db" not in argv and flag in argv
    assert argv[argv.index("--db-root-username") + 1] == "root"
    config = json.loads((image.sites / "crm.acme.test" / "site_config.json").read_text())
    assert (config["db_host"], config["db_port"]) == (mariadb_server.host, mariadb_server.port)
    assert "host_name" not in config
    # The user may log in from any host (every pod of the bench), with the password of its Secret.
    assert mariadb_server.sql("SELECT Host FROM mysql.user WHERE User = '%s'" % db_name).split() == ["%"]
    assert mariadb_server.sql("SELECT 1", user=db_name, password="crm-db-pw", database=db_name).strip() == "1"
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"]

    # Killed after the database was set up: the next run drops and makes it again (--force).
    mariadb_server.sql("DROP DATABASE `%s`; DROP USER '%s'@'%%'" % (db_name, db_name))
    shutil.rmtree(str(image.sites / "crm.acme.test"))
    first = run_site_job(image, job, secrets, HARNESS_FRAPPE_VERSION=version,
                         HARNESS_NEW_SITE_DIE_AFTER="setup_database")
    assert first.rc != 0 and installed_apps(mariadb_server, db_name) == []
    retried = run_site_job(image, job, secrets, HARNESS_FRAPPE_VERSION=version)
    assert retried.rc == 0, retried.explain()
    assert "--force" in new_site_calls(retried)[0]["argv"]
    assert installed_apps(mariadb_server, db_name) == ["frappe", "erpnext"]


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_site_of_provider_external_is_installed_into_its_owners_database_with_its_own_login(
        tmp_path, mariadb_server, redis_pair):
    """The Go operator's provider: external: the database and its user exist, made by their owner; the Job has no
    administrative login, so bench new-site only bootstraps (--no-setup-db), logging in as the Secret's user."""
    objects = render(tmp_path / "render", BENCH, site("shopdb", dbConfig={
        "provider": "external", "host": "db.example.internal", "connectionSecretRef": {"name": "shopdb-login"}}))
    job = with_env(site_job(objects, "shopdb"), DB_HOST=mariadb_server.host, DB_PORT=str(mariadb_server.port))
    env = pod_spec(job)["containers"][0]["env"]
    assert env_value(job, "DB_NAME") == "shopdb" and not any(e["name"].startswith("DB_ROOT") for e in env)
    assert next(e for e in env if e["name"] == "DB_PASSWORD")["valueFrom"] == {
        "secretKeyRef": {"name": "shopdb-login", "key": "password"}}
    operator_made_database(mariadb_server, "shopdb", password="own-pw")
    mariadb_server.sql("CREATE TABLE shopdb.ledger (id INT); INSERT INTO shopdb.ledger VALUES (7)")
    image = configured_bench(tmp_path, redis_pair)
    secrets = dict(SECRETS, **{"shopdb-login": {"username": "shopdb", "password": "own-pw", "database": "shopdb"},
                               "shopdb-admin": {"password": "adm1n"}})
    # The owner's database holds a table no bench new-site of this site left: nothing is bootstrapped over it.
    refused = run_site_job(image, job, secrets)
    assert refused.rc == 1 and new_site_calls(refused) == [], refused.explain()
    assert mariadb_server.sql("SELECT id FROM shopdb.ledger").strip() == "7"
    mariadb_server.sql("DROP TABLE shopdb.ledger")
    run = run_site_job(image, job, secrets)
    assert run.rc == 0, run.explain()
    [call] = new_site_calls(run)
    assert "--no-setup-db" in call["argv"] and "--db-root-username" not in call["argv"]
    config = json.loads((image.sites / "shopdb" / "site_config.json").read_text())
    assert (config["db_name"], config["db_password"]) == ("shopdb", "own-pw")
    assert installed_apps(mariadb_server, "shopdb") == ["frappe", "erpnext"]
    queries = [c for c in run.calls if c["program"] == "mariadb"]
    assert queries and all("--user=shopdb" in q["argv"] for q in queries)


def test_the_bench_new_site_stand_in_refuses_options_its_version_lacks(tmp_path):
    """click's answer to an undeclared option: exit 2, "No such option"."""
    image = ImageBench(tmp_path)
    container = {"workingDir": "/home/frappe/frappe-bench",
                 "args": ["bench", "new-site", "x", "--mariadb-user-host-login-scope=%"]}
    run = run_container(image, {}, container, harness_env={"HARNESS_FRAPPE_VERSION": "15.45.0"})
    assert run.rc == 2 and "No such option: --mariadb-user-host-login-scope" in run.stderr
    assert not (image.sites / "x").exists()


def test_a_failed_site_job_keeps_its_pods_with_the_end_of_their_log(rendered):
    """The FrappeSite status shows why the Job failed from its pods: they must stay, and carry their log's end."""
    spec = pod_spec(site_job(rendered, "erp"))
    assert spec["restartPolicy"] == "Never"
    assert spec["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_the_site_job_needs_its_password_secrets(rendered, tmp_path):
    job = site_job(rendered, "erp")
    secrets = {k: v for k, v in SECRETS.items() if k != "erp-admin"}
    with pytest.raises(StartError, match="erp-admin"):
        run_container(ImageBench(tmp_path), job, pod_spec(job)["containers"][0], secrets)


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_database_that_already_holds_tables_is_never_bootstrapped_over(rendered, tmp_path, mariadb_server,
                                                                         redis_pair):
    """--no-setup-db runs Frappe's framework SQL, which drops its tables first: tables that no bench new-site of
    this site left (no site_config.json names the database) must be restored, not created anew over the data."""
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    db_name = env_value(job, "DB_NAME")
    operator_made_database(mariadb_server, db_name)
    mariadb_server.sql("CREATE TABLE `%s`.orders (id INT); CREATE TABLE `%s`.customers (id INT); "
                       "INSERT INTO `%s`.orders VALUES (7)" % (db_name, db_name, db_name))
    run = run_site_job(image, job)
    assert run.rc == 1 and new_site_calls(run) == [], run.explain()
    assert "already holds 2 tables" in run.stderr
    assert mariadb_server.sql("SELECT id FROM `%s`.orders" % db_name).strip() == "7"
    assert not (image.sites / "erp").exists()


@pytest.mark.mariadb
@pytest.mark.redis
@pytest.mark.parametrize("missing", ["database", "redis_cache", "redis_queue"])
def test_the_site_job_waits_for_the_database_and_both_redis_then_gives_up_saying_which(
        rendered, tmp_path, mariadb_server, redis_pair, missing):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(rendered, "erp"), mariadb_server)
    operator_made_database(mariadb_server, env_value(job, "DB_NAME"))
    closed = localcluster.free_port()
    if missing == "database":
        job = with_env(job, DB_PORT=str(closed))
        what = "the database server 127.0.0.1:%d" % closed
    else:
        config = json.loads((image.sites / "common_site_config.json").read_text())
        config[missing] = "redis://127.0.0.1:%d" % closed
        (image.sites / "common_site_config.json").write_text(json.dumps(config, indent=1, sort_keys=True))
        what = "Redis %s at 127.0.0.1:%d" % (missing, closed)
    started = time.monotonic()
    run = run_site_job(image, job, SITE_WAIT_SECONDS="2")
    assert run.rc == 1 and new_site_calls(run) == [], run.explain()
    assert "Gave up after 2s (SITE_WAIT_SECONDS) waiting for %s" % what in run.stderr, run.explain()
    assert "Waiting for %s" % what in run.stdout
    assert time.monotonic() - started < 30
    assert not (image.sites / "erp").exists()


# -- host_name: Frappe's get_url (frappe/utils/data.py) builds the links made
# outside a request from site_config's host_name, else http://<site name>.

TLS_SITES = (
    site("secure.example.com", ingress={"enabled": True, "tls": {"enabled": True}},
         dbConfig={"mariadbRef": {"name": "mariadb"}}),
    site("plain.example.com", dbConfig={"mariadbRef": {"name": "mariadb"}}),
    site("moved.example.com", domain="moved.acme.test", tls={"enabled": True},
         dbConfig={"mariadbRef": {"name": "mariadb"}}),
)
TLS_SECRETS = dict(item for s in TLS_SITES for item in (
    ("%s-db-credentials" % s["metadata"]["name"], {"password": "pw"}),
    ("%s-admin" % s["metadata"]["name"], {"password": "adm1n"})))


@pytest.fixture(scope="module")
def tls_rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("tls-sites"), BENCH, *TLS_SITES)


def host_name_env(job):
    return next(e["value"] for e in pod_spec(job)["containers"][0]["env"] if e["name"] == "HOST_NAME")


def site_config(image, name):
    return json.loads((image.sites / name / "site_config.json").read_text())


def test_the_site_job_gets_the_public_url_of_the_site_as_host_name(tls_rendered):
    assert host_name_env(site_job(tls_rendered, "secure.example.com")) == "https://secure.example.com"
    assert host_name_env(site_job(tls_rendered, "moved.example.com")) == "https://moved.acme.test"
    assert host_name_env(site_job(tls_rendered, "plain.example.com")) == ""


def created_site(image, job, server, name):
    """A complete site, made by its site Job on the real server, with the host_name it had then."""
    db_name = env_value(job, "DB_NAME")
    operator_made_database(server, db_name, password="pw")
    run = run_site_job(image, job, secrets=TLS_SECRETS)
    assert run.rc == 0 and len(new_site_calls(run)) == 1, run.explain()
    assert installed_apps(server, db_name) == ["frappe", "erpnext"]
    return site_config(image, name)


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_site_served_with_tls_on_its_own_name_links_over_https(tls_rendered, tmp_path, mariadb_server, redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(tls_rendered, "secure.example.com"), mariadb_server)
    assert created_site(image, job, mariadb_server, "secure.example.com")["host_name"] == "https://secure.example.com"


@pytest.mark.mariadb
@pytest.mark.redis
def test_tls_turned_off_on_its_own_name_removes_the_host_name(tls_rendered, tmp_path, mariadb_server, redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(tls_rendered, "plain.example.com"), mariadb_server)
    # The site was served with TLS before: its Job then set https://plain.example.com.
    before = created_site(image, with_env(job, HOST_NAME="https://plain.example.com"), mariadb_server,
                          "plain.example.com")
    assert before["host_name"] == "https://plain.example.com"
    run = run_site_job(image, job, secrets=TLS_SECRETS)
    assert run.rc == 0 and new_site_calls(run) == [], run.explain()
    config = site_config(image, "plain.example.com")
    # Links fall back to http://plain.example.com; nothing else of the site's configuration changes.
    assert "host_name" not in config and config == {k: v for k, v in before.items() if k != "host_name"}


@pytest.mark.mariadb
@pytest.mark.redis
def test_a_new_domain_corrects_the_host_name_of_an_existing_site(tls_rendered, tmp_path, mariadb_server, redis_pair):
    image = configured_bench(tmp_path, redis_pair)
    job = on_server(site_job(tls_rendered, "moved.example.com"), mariadb_server)
    # Served on another domain, without TLS, before.
    before = created_site(image, with_env(job, HOST_NAME="http://old.acme.test"), mariadb_server, "moved.example.com")
    assert before["host_name"] == "http://old.acme.test"
    run = run_site_job(image, job, secrets=TLS_SECRETS)
    assert run.rc == 0 and new_site_calls(run) == [], run.explain()
    assert site_config(image, "moved.example.com")["host_name"] == "https://moved.acme.test"
