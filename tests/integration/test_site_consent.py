"""A FrappeSite's database on a server of another namespace needs that namespace's consent.

The server is an ExternalMariaDB of the MariaDB Operator's CRDs; the operator
itself does not run (nothing here needs the database made): what is checked is
what the role writes, or does not write, in the site's namespace.
"""

import json

import pytest
import yaml

from support import REPO, reconcile

pytestmark = [pytest.mark.mariadb]

CONSENT = "vyogo.tech/allow-sites-from"


def server(namespace, allow=None):
    obj = {"apiVersion": "k8s.mariadb.com/v1alpha1", "kind": "ExternalMariaDB",
           "metadata": {"name": "mariadb", "namespace": namespace},
           "spec": {"host": "mariadb.example.test", "port": 3306, "username": "root",
                    "passwordSecretKeyRef": {"name": "mariadb-root", "key": "password"}}}
    if allow is not None:
        obj["metadata"]["annotations"] = {CONSENT: allow}
    return obj


def bench(namespace):
    """The site's bench, stored and not reconciled: a site reads it, and writes nothing while it is missing."""
    obj = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    obj["metadata"] = {"name": "shop", "namespace": namespace}
    return obj


def site(namespace, db_namespace):
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "erp", "namespace": namespace},
            "spec": {"benchRef": {"name": "shop"}, "siteName": "erp.example.com",
                     "dbConfig": {"mariadbRef": {"name": "mariadb", "namespace": db_namespace,
                                                 "kind": "ExternalMariaDB"}}}}


def written(kube, namespace):
    """What the role may write for a site: the MariaDB Operator's objects, Secrets, Jobs, Ingresses."""
    listed = json.loads(kube.kubectl("get", "databases.k8s.mariadb.com,users.k8s.mariadb.com,grants.k8s.mariadb.com,"
                                     "secrets,jobs,ingresses", "-n", namespace, "-o", "json").stdout)["items"]
    return sorted("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in listed)


def conditions(kube, namespace):
    obj = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", "erp")
    return dict((c["type"], c) for c in obj.get("status", {}).get("conditions", []))


def test_a_site_gets_a_database_on_a_server_of_another_namespace_only_with_its_consent(
        kube, namespace_factory, frappe_crds, mariadb_operator_crds, tmp_path):
    shop, db = namespace_factory("shop"), namespace_factory("db")
    kube.apply(server(db))
    kube.apply(bench(shop))
    kube.apply(site(shop, db))

    # Without consent: refused, nothing written, the status names the annotation and the object.
    run = reconcile(kube, tmp_path, site(shop, db))
    assert run.rc != 0
    assert written(kube, shop) == []
    ready = conditions(kube, shop)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "Refused", ready
    assert "ExternalMariaDB %s/mariadb" % db in ready["message"] and CONSENT in ready["message"]
    assert "kubectl annotate externalmariadb mariadb -n %s %s=%s" % (db, CONSENT, shop) in ready["message"]

    # A list naming another namespace is no consent either.
    kube.apply(server(db, allow="other,%s-x" % shop))
    assert reconcile(kube, tmp_path, site(shop, db)).rc != 0
    assert written(kube, shop) == []

    # Consent given: the Database, User and Grant are made for it.
    kube.apply(server(db, allow="other, %s" % shop))
    run = reconcile(kube, tmp_path, site(shop, db))
    assert run.rc == 0, run.explain()
    made = written(kube, shop)
    assert {"Database/erp-db", "User/erp-user", "Grant/erp-grant"} <= set(made), made
    consent = conditions(kube, shop)["DatabaseConsent"]
    assert consent["status"] == "True" and consent["reason"] == "Consented", consent

    # Consent withdrawn: the site, whose database is there now, keeps being
    # reconciled, with a warning condition and one Warning Event; nothing
    # is dropped there (cleanupPolicy Skip).
    kube.apply(server(db, allow="other"))
    run = reconcile(kube, tmp_path, site(shop, db))
    assert run.rc == 0, run.explain()
    consent = conditions(kube, shop)["DatabaseConsent"]
    assert consent["status"] == "False" and consent["reason"] == "ConsentMissing", consent
    assert any(CONSENT in w for w in run.warnings), run.warnings
    database = kube.custom.get_namespaced_custom_object("k8s.mariadb.com", "v1alpha1", shop, "databases", "erp-db")
    assert database["spec"]["cleanupPolicy"] == "Skip"

    def consent_events():
        items = json.loads(kube.kubectl("get", "events", "-n", shop, "--field-selector",
                                        "involvedObject.kind=FrappeSite,reason=ConsentMissing",
                                        "-o", "json").stdout)["items"]
        return [(e["type"], e["involvedObject"]["name"]) for e in items]

    assert consent_events() == [("Warning", "erp")]
    assert reconcile(kube, tmp_path, site(shop, db)).rc == 0
    assert consent_events() == [("Warning", "erp")]

    # Every namespace (*) is consent too.
    kube.apply(server(db, allow="*"))
    assert reconcile(kube, tmp_path, site(shop, db)).rc == 0
    assert conditions(kube, shop)["DatabaseConsent"]["status"] == "True"
