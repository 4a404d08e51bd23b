"""Harness check, not a test of the collection: the real MariaDB Operator against the local control plane.

Its Database, User and Grant objects, on an ExternalMariaDB that points at a
real MariaDB server on a loopback port, must turn into a real database, user
and grant, proven with SQL. The second test pins down what deleting them does
on an ExternalMariaDB in the operator version the harness builds.
"""

import base64

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from support import localcluster, wait_until

pytestmark = [pytest.mark.mariadb]

GROUP, VERSION = "k8s.mariadb.com", "v1alpha1"
DATABASE = "frappe_site"       # the SQL name; the object is called site-db
USERNAME = "frappe_site_user"  # the SQL name; the object is called site-user
# A failed reconcile (say, the ExternalMariaDB not found yet) is retried after
# retryInterval instead of with growing backoff. requeueInterval (10 h unless
# set) gets a random offset of up to --requeue-sql-max-offset (1 h) on top, so
# these tests do not wait for a periodic requeue.
INTERVALS = {"requeueInterval": "30s", "retryInterval": "1s"}


def _ref():
    return {"kind": "ExternalMariaDB", "name": "external"}


def _get(kube, namespace, plural, name):
    return kube.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)


def _create(kube, namespace, plural, kind, name, spec):
    body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return kube.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)


def _wait_ready(kube, namespace, plural, name, operator):
    def ready():
        obj = _get(kube, namespace, plural, name)
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in obj.get("status", {}).get("conditions", []))

    def why():
        obj = _get(kube, namespace, plural, name)
        return "%s/%s Ready=True; conditions %s (operator log %s)" % (
            plural, name, obj.get("status", {}).get("conditions"), operator.logfile)
    wait_until(ready, 60, why)


def _provision(kube, namespace, server, operator):
    """Root Secret, ExternalMariaDB, Database, password Secret, User and Grant, each Ready in turn."""
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="mariadb-root"), string_data={"password": server.root_password}))
    _create(kube, namespace, "externalmariadbs", "ExternalMariaDB", "external", {
        "host": server.host, "port": server.port, "username": server.root_user,
        "passwordSecretKeyRef": {"name": "mariadb-root", "key": "password"},
    })
    _wait_ready(kube, namespace, "externalmariadbs", "external", operator)

    _create(kube, namespace, "databases", "Database", "site-db", dict(
        INTERVALS, mariaDbRef=_ref(), name=DATABASE, characterSet="utf8mb4", collate="utf8mb4_unicode_ci",
        cleanupPolicy="Delete"))
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="site-user-password"),
        string_data={"password": "s3cret-%s" % namespace}))
    _create(kube, namespace, "users", "User", "site-user", dict(
        INTERVALS, mariaDbRef=_ref(), name=USERNAME, maxUserConnections=50,
        passwordSecretKeyRef={"name": "site-user-password", "key": "password"}, cleanupPolicy="Delete"))
    _create(kube, namespace, "grants", "Grant", "site-grant", dict(
        INTERVALS, mariaDbRef=_ref(), privileges=["ALL PRIVILEGES"], database=DATABASE, table="*",
        username=USERNAME, host="%", cleanupPolicy="Delete"))
    for plural, name in (("databases", "site-db"), ("users", "site-user"), ("grants", "site-grant")):
        _wait_ready(kube, namespace, plural, name, operator)


def _user_password(kube, namespace):
    secret = kube.core.read_namespaced_secret("site-user-password", namespace)
    return base64.b64decode(secret.data["password"]).decode()


def test_database_user_and_grant_become_real_on_an_external_mariadb(
        kube, namespace, mariadb_operator, mariadb_server):
    _provision(kube, namespace, mariadb_server, mariadb_operator)
    external = _get(kube, namespace, "externalmariadbs", "external")
    assert external["status"]["version"] in mariadb_server.sql("SELECT VERSION()")

    schema = mariadb_server.sql(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME = '%s'" % DATABASE)
    assert schema.split() == ["utf8mb4", "utf8mb4_unicode_ci"]

    account = mariadb_server.sql("SELECT Host, max_user_connections FROM mysql.user WHERE User = '%s'" % USERNAME)
    assert account.split() == ["%", "50"]

    # The user logs in over TCP with the password from its Secret and sees its database.
    password = _user_password(kube, namespace)
    as_user = {"user": USERNAME, "password": password}
    assert mariadb_server.sql("SELECT CURRENT_USER()", **as_user).strip() == "%s@%%" % USERNAME
    assert DATABASE in mariadb_server.sql("SHOW DATABASES", **as_user).split()
    grants = mariadb_server.sql("SHOW GRANTS", **as_user)
    assert "GRANT ALL PRIVILEGES ON `%s`.* TO `%s`@`%%`" % (DATABASE, USERNAME) in grants, grants
    mariadb_server.sql("CREATE TABLE probe (id INT PRIMARY KEY); INSERT INTO probe VALUES (1)",
                       database=DATABASE, **as_user)
    assert mariadb_server.sql("SELECT id FROM probe", database=DATABASE, **as_user).split() == ["1"]

    with pytest.raises(localcluster.MariaDBError, match="Access denied"):
        mariadb_server.sql("SELECT 1", user=USERNAME, password="wrong")


def test_deleting_objects_on_an_external_mariadb_keeps_database_and_user(
        kube, namespace, mariadb_operator, mariadb_server):
    """A fact of MariaDB Operator v25.10.2: its SQL finalizer resolves mariaDbRef as kind MariaDB only.

    For a Database, User or Grant on an ExternalMariaDB it finds no MariaDB,
    removes its finalizer and drops nothing, even with cleanupPolicy Delete.
    Anything that relies on the operator to drop a site's database there
    must drop it itself. Should a later version start cleaning up, this test
    fails and says so.
    """
    _provision(kube, namespace, mariadb_server, mariadb_operator)
    for plural, name in (("grants", "site-grant"), ("users", "site-user"), ("databases", "site-db")):
        obj = _get(kube, namespace, plural, name)
        assert obj["spec"]["cleanupPolicy"] == "Delete"
        # The operator's finalizer is there, so it does get a say in the deletion.
        assert obj["metadata"].get("finalizers"), (plural, name, obj["metadata"])

    for plural, name in (("grants", "site-grant"), ("users", "site-user"), ("databases", "site-db")):
        kube.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)

        def gone(plural=plural, name=name):
            try:
                _get(kube, namespace, plural, name)
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise
            return False
        wait_until(gone, 60, "%s/%s to be deleted (operator log %s)" % (plural, name, mariadb_operator.logfile))

    # Had the finalizer cleaned up, all of this would be gone.
    fact = "MariaDB Operator %s dropped it: the fact this test pins down no longer holds" % (
        localcluster.versions()["MARIADB_OPERATOR_VERSION"])
    assert DATABASE in mariadb_server.sql("SHOW DATABASES").split(), "database: " + fact
    assert mariadb_server.sql("SELECT COUNT(*) FROM mysql.user WHERE User = '%s'" % USERNAME).strip() == "1", \
        "user: " + fact
    grants = mariadb_server.sql("SHOW GRANTS FOR '%s'@'%%'" % USERNAME)
    assert "GRANT ALL PRIVILEGES ON `%s`.*" % DATABASE in grants, "grant: %s (%s)" % (fact, grants)
    password = _user_password(kube, namespace)
    assert DATABASE in mariadb_server.sql("SHOW DATABASES", user=USERNAME, password=password).split()
