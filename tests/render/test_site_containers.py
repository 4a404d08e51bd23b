"""What the site Job does, rendered without a cluster and run by the script harness.

The Job follows frappe/helm's job-create-site.yaml with the `bench new-site`
options Frappe version-15 declares (docs/FRAPPESITE.md, "The site Job"); the
harness's bench stand-in refuses any other option, as click does.
"""

import json

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
    return [c for c in run.calls if c["program"] == "bench" and c["argv"][:1] == ["new-site"]]


def test_the_site_job_creates_the_site_on_the_database_the_operator_made(rendered, tmp_path):
    image = ImageBench(tmp_path)
    job = site_job(rendered, "erp")
    run = run_container(image, job, pod_spec(job)["containers"][0], SECRETS)
    assert run.rc == 0, run.explain()
    [call] = new_site_calls(run)
    argv = call["argv"]
    # The database and its user exist: bench only bootstraps it. Never --force, never --db-user.
    assert "--no-setup-db" in argv and "--force" not in argv and "--db-user" not in argv
    assert argv[argv.index("--install-app") + 1] == "erpnext"
    config = json.loads((image.sites / "erp" / "site_config.json").read_text())
    db_name = next(e["value"] for e in pod_spec(job)["containers"][0]["env"] if e["name"] == "DB_NAME")
    assert config["db_name"] == db_name and config["db_password"] == "db-s3cret"
    assert config["db_host"] == "mariadb.shop.svc.cluster.local" and config["db_port"] == 3306
    # Served on erp.example.com (the bench's suffix), so Frappe's links use that URL.
    assert config["host_name"] == "http://erp.example.com"
    # Passwords reach the pod through Secrets only.
    env = pod_spec(job)["containers"][0]["env"]
    for var in ("DB_PASSWORD", "ADMIN_PASSWORD"):
        assert "secretKeyRef" in next(e for e in env if e["name"] == var)["valueFrom"]
    assert "s3cret" not in run.stdout + run.stderr

    again = run_container(image, job, pod_spec(job)["containers"][0], SECRETS)
    assert again.rc == 0 and new_site_calls(again) == [], again.explain()
    assert "exists" in again.stdout


def test_a_half_made_site_directory_is_reported_not_forced(rendered, tmp_path):
    image = ImageBench(tmp_path)
    (image.sites / "erp").mkdir()
    job = site_job(rendered, "erp")
    run = run_container(image, job, pod_spec(job)["containers"][0], SECRETS)
    assert run.rc == 1 and new_site_calls(run) == []
    assert "half-way" in run.stderr


def test_on_an_external_server_the_job_creates_the_database_with_the_admin_login(rendered, tmp_path):
    image = ImageBench(tmp_path)
    job = site_job(rendered, "crm.acme.test")
    run = run_container(image, job, pod_spec(job)["containers"][0], SECRETS)
    assert run.rc == 0, run.explain()
    [call] = new_site_calls(run)
    argv = call["argv"]
    assert "--no-setup-db" not in argv and "--mariadb-user-host-login-scope=%" in argv
    assert argv[argv.index("--db-root-username") + 1] == "root"
    config = json.loads((image.sites / "crm.acme.test" / "site_config.json").read_text())
    # Port left out of the Secret: the MariaDB default.
    assert (config["db_host"], config["db_port"]) == ("db.example.internal", 3306)
    assert "host_name" not in config


def test_the_site_job_needs_its_password_secrets(rendered, tmp_path):
    job = site_job(rendered, "erp")
    secrets = {k: v for k, v in SECRETS.items() if k != "erp-admin"}
    with pytest.raises(StartError, match="erp-admin"):
        run_container(ImageBench(tmp_path), job, pod_spec(job)["containers"][0], secrets)


def test_a_database_that_already_holds_tables_is_never_bootstrapped_over(rendered, tmp_path):
    """--no-setup-db runs Frappe's framework SQL, which drops its tables first: a site directory lost while its
    database was kept must be restored, not created anew over the data."""
    image = ImageBench(tmp_path)
    job = site_job(rendered, "erp")
    run = run_container(image, job, pod_spec(job)["containers"][0], SECRETS,
                        harness_env={"HARNESS_MARIADB_ANSWER": "87"})
    assert run.rc == 1 and new_site_calls(run) == [], run.explain()
    assert "already holds 87 tables" in run.stderr
    [query] = [c for c in run.calls if c["program"] == "mariadb"]
    db_name = next(e["value"] for e in pod_spec(job)["containers"][0]["env"] if e["name"] == "DB_NAME")
    assert "--user=%s" % db_name in query["argv"] and "db-s3cret" not in " ".join(query["argv"])
    assert query["env"]["MYSQL_PWD"] == "db-s3cret"  # the password reaches the client by its environment
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


def existing_site(image, name, **config):
    """A complete site an earlier site Job left on the volume."""
    (image.sites / name).mkdir(parents=True)
    config = dict({"db_name": "_x", "db_password": "pw", "db_type": "mariadb"}, **config)
    (image.sites / name / "site_config.json").write_text(json.dumps(config, indent=1, sort_keys=True))


def site_config(image, name):
    return json.loads((image.sites / name / "site_config.json").read_text())


def test_the_site_job_gets_the_public_url_of_the_site_as_host_name(tls_rendered):
    assert host_name_env(site_job(tls_rendered, "secure.example.com")) == "https://secure.example.com"
    assert host_name_env(site_job(tls_rendered, "moved.example.com")) == "https://moved.acme.test"
    assert host_name_env(site_job(tls_rendered, "plain.example.com")) == ""


def test_a_site_served_with_tls_on_its_own_name_links_over_https(tls_rendered, tmp_path):
    image = ImageBench(tmp_path)
    job = site_job(tls_rendered, "secure.example.com")
    run = run_container(image, job, pod_spec(job)["containers"][0], TLS_SECRETS)
    assert run.rc == 0 and len(new_site_calls(run)) == 1, run.explain()
    assert site_config(image, "secure.example.com")["host_name"] == "https://secure.example.com"


def test_tls_turned_off_on_its_own_name_removes_the_host_name(tls_rendered, tmp_path):
    image = ImageBench(tmp_path)
    existing_site(image, "plain.example.com", host_name="https://plain.example.com", encryption_key="k")
    job = site_job(tls_rendered, "plain.example.com")
    run = run_container(image, job, pod_spec(job)["containers"][0], TLS_SECRETS)
    assert run.rc == 0 and new_site_calls(run) == [], run.explain()
    config = site_config(image, "plain.example.com")
    # Links fall back to http://plain.example.com; nothing else of the site's configuration changes.
    assert "host_name" not in config and config["encryption_key"] == "k" and config["db_name"] == "_x"


def test_a_new_domain_corrects_the_host_name_of_an_existing_site(tls_rendered, tmp_path):
    image = ImageBench(tmp_path)
    existing_site(image, "moved.example.com", host_name="http://old.acme.test")
    job = site_job(tls_rendered, "moved.example.com")
    run = run_container(image, job, pod_spec(job)["containers"][0], TLS_SECRETS)
    assert run.rc == 0 and new_site_calls(run) == [], run.explain()
    assert site_config(image, "moved.example.com")["host_name"] == "https://moved.acme.test"
