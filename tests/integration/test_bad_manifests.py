"""Bad manifests, as a new user writes them, are refused before anything is written.

Each case is the example bench with one mistake. It is refused either at
admission (the CRD's schema, patterns and CEL rules: the FrappeBench is not
stored) or by the role before its first write (the FrappeBench is stored and
marked Failed); either way the message names the field, and no object of the
bench exists. REFUSED_BY says which, so a change that moves a check shows here.
"""

import json

import pytest
import yaml

from support import REPO, reconcile

LONG_NAME = "a" * 40  # one more than fits (keda-hpa-<name>-worker-default is a 63-character label)

BAD_MANIFESTS = [
    # (id, change to the example bench, field named in the message, refused by)
    ("name-too-long", {"metadata": {"name": LONG_NAME}}, "metadata.name", "admission"),
    ("name-starts-with-digit", {"metadata": {"name": "1erp"}}, "metadata.name", "admission"),
    ("name-with-dot", {"metadata": {"name": "erp.v2"}}, "metadata.name", "admission"),
    ("storage-zero", {"spec": {"storageSize": "0"}}, "spec.storageSize", "admission"),
    ("storage-negative", {"spec": {"storageSize": "-10Gi"}}, "spec.storageSize", "admission"),
    ("storage-words", {"spec": {"storageSize": "ten gigs"}}, "spec.storageSize", "admission"),
    ("cache-memory-zero", {"spec": {"redisConfig": {"maxMemory": 0}}}, "spec.redisConfig.maxMemory", "admission"),
    ("queue-storage-zero", {"spec": {"redisConfig": {"storageSize": "0Gi"}}}, "spec.redisConfig.storageSize",
     "admission"),
    ("negative-cpu-request", {"spec": {"componentResources": {"gunicorn": {"requests": {"cpu": "-1"}}}}},
     "spec.componentResources.gunicorn.requests", "admission"),
    ("negative-memory-limit", {"spec": {"redisConfig": {"resources": {"limits": {"memory": "-1Gi"}}}}},
     "spec.redisConfig.resources.limits", "admission"),
    ("repository-upper-case", {"spec": {"imageConfig": {"repository": "docker.io/Frappe/ERPNext"}}},
     "spec.imageConfig.repository", "admission"),
    ("repository-with-tag", {"spec": {"imageConfig": {"repository": "frappe/erpnext:v15"}}},
     "spec.imageConfig.repository", "admission"),
    ("tag-with-space", {"spec": {"imageConfig": {"tag": "v15 beta"}}}, "spec.imageConfig.tag", "admission"),
    ("version-is-no-tag", {"spec": {"frappeVersion": "version 15", "imageConfig": {"tag": None}}},
     "spec.frappeVersion", "admission"),
    ("redis-image", {"spec": {"redisConfig": {"image": "redis::7"}}}, "spec.redisConfig.image", "admission"),
    ("replicas-negative", {"spec": {"componentReplicas": {"gunicorn": -1}}}, "spec.componentReplicas.gunicorn",
     "admission"),
    ("pull-policy", {"spec": {"imageConfig": {"pullPolicy": "Sometimes"}}}, "spec.imageConfig.pullPolicy",
     "admission"),
    ("min-above-max", {"spec": {"workerAutoscalingConfig": {"short": {"minReplicas": 5, "maxReplicas": 2}}}},
     "spec.workerAutoscalingConfig.short", "admission"),
    ("grace-negative", {"spec": {"workerAutoscalingConfig": {"long": {"terminationGracePeriodSeconds": -1}}}},
     "spec.workerAutoscalingConfig.long.terminationGracePeriodSeconds", "admission"),
    ("queue-twice", {"spec": {"workerAutoscalingConfig": {"short": {"queues": ["short", "short"]}}}},
     "spec.workerAutoscalingConfig.short.queues", "admission"),
    ("redis-type", {"spec": {"redisConfig": {"type": "memcached"}}}, "spec.redisConfig.type", "admission"),
    ("bench-id-space", {"spec": {"benchId": "my bench"}}, "spec.benchId", "admission"),
    ("no-such-storage-class", {"spec": {"storageClassName": "no-such-class"}}, "spec.storageClassName", "role"),
    ("missing-redis-secret", {"spec": {"redisConfig": {"connectionSecretRef": {"name": "nope"}}}},
     "spec.redisConfig.connectionSecretRef", "role"),
    ("redis-secret-elsewhere", {"spec": {"redisConfig": {"connectionSecretRef": {"name": "r", "namespace": "x"}}}},
     "spec.redisConfig.connectionSecretRef.namespace", "role"),
    ("access-mode-annotation", {"metadata": {"annotations": {"vyogo.tech/sites-access-mode": "Sometimes"}}},
     "vyogo.tech/sites-access-mode", "role"),
]


def merge(base, change):
    out = json.loads(json.dumps(base))
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def bench_children(kube, namespace):
    listed = json.loads(kube.kubectl("get", "deployments,statefulsets,services,jobs,persistentvolumeclaims",
                                     "-n", namespace, "-o", "json").stdout)["items"]
    return ["%s/%s" % (o["kind"], o["metadata"]["name"]) for o in listed]


def test_there_are_at_least_twenty_bad_manifests():
    assert len(BAD_MANIFESTS) >= 20
    assert len({case[0] for case in BAD_MANIFESTS}) == len(BAD_MANIFESTS)


@pytest.mark.parametrize("change, field, refused_by", [case[1:] for case in BAD_MANIFESTS],
                         ids=[case[0] for case in BAD_MANIFESTS])
def test_bad_manifest_is_refused_before_anything_is_written(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path, change, field, refused_by):
    example = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    example["metadata"]["namespace"] = namespace
    bad = merge(example, change)
    run = reconcile(kube, tmp_path, bad)
    assert run.rc != 0, run.explain()
    message = run.failure_message
    assert field in message, run.explain()
    assert '"kind":"Status"' not in message and "b'{" not in message, message  # words, not a JSON dump
    assert bench_children(kube, namespace) == []
    stored = kube.custom.list_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches")["items"]
    if refused_by == "admission":
        assert stored == [] and "was refused" in message
    else:
        assert [b["status"]["phase"] for b in stored] == ["Failed"]


def test_fields_of_the_go_operator_are_kept_read_or_refused_naming_them(kube, namespace, frappe_crds, no_keda_crds,
                                                                        tmp_path):
    """A manifest written for the Go frappe-operator is stored whole; what it says is read as this collection's
    fields, a field accepted without effect is named, and what is not done here is refused (docs/MIGRATING.md)."""
    example = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    example["metadata"]["namespace"] = namespace
    go_fields = {
        "appsJSON": '["erpnext", "hrms"]',
        "gitConfig": {"enabled": False},
        "domainConfig": {"suffix": ".erp.example.com", "autoDetect": False},
        "redisConfig": {"type": "dragonfly"},
        "siteReconcileConcurrency": 4,
    }
    run = reconcile(kube, tmp_path, merge(example, {"spec": go_fields}))
    assert run.rc == 0, run.explain()
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")
    for field, value in go_fields.items():
        assert stored["spec"][field] == value, field
    ignored = [w for w in run.warnings if "accepts but" in w]
    assert len(ignored) == 1, run.warnings
    assert "spec.redisConfig.type dragonfly" in ignored[0] and "spec.siteReconcileConcurrency" in ignored[0]
    for read in ("spec.appsJSON", "spec.gitConfig", "spec.domainConfig"):
        assert read not in ignored[0], read
    # Apps from a package repository at run time are not done here: refused, the bench left as it was.
    fpm = {"fpmConfig": {"repositories": [{"name": "main", "url": "https://fpm.example.com"}], "defaultRepo": "main"}}
    refused = reconcile(kube, tmp_path, merge(example, {"spec": dict(go_fields, **fpm)}))
    assert refused.rc != 0 and "spec.fpmConfig.repositories is not taken" in refused.failure_message, refused.explain()
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")
    assert stored["spec"]["fpmConfig"]["repositories"] == [
        {"name": "main", "url": "https://fpm.example.com", "priority": 50}]
    assert stored["status"]["phase"] == "Failed"


# -- FrappeSite -----------------------------------------------------------------
# What a site names is refused at admission (the CRD repeats
# plugins/module_utils/frappe/site_validation.py, which the site plan applies in render
# mode and to a manifest); what needs the bench (the domain made from its
# suffix) is refused by the plan, before the site's first write.

BAD_SITES = [
    # (id, change to a good site's spec, field named in the message)
    ("site-label-64", {"siteName": "a" * 64 + ".example.com"}, "spec.siteName"),
    ("site-is-assets", {"siteName": "assets"}, "spec.siteName"),
    ("site-is-apps-txt", {"siteName": "apps.txt"}, "spec.siteName"),
    ("site-is-apps-json", {"siteName": "apps.json"}, "spec.siteName"),
    ("site-is-currentsite", {"siteName": "currentsite.txt"}, "spec.siteName"),
    ("site-too-long-for-backups", {"siteName": ".".join(["a" * 60] * 3) + "." + "b" * 40}, "spec.siteName"),
    ("domain-label-64", {"domain": "a" * 64 + ".example.com"}, "spec.domain"),
    ("bench-name", {"benchRef": {"name": "shop.v2"}}, "spec.benchRef.name"),
    ("bench-namespace", {"benchRef": {"name": "shop", "namespace": "Shop"}}, "spec.benchRef.namespace"),
    ("mariadb-name", {"dbConfig": {"mariadbRef": {"name": "MariaDB"}}}, "spec.dbConfig.mariadbRef.name"),
    ("mariadb-name-dot", {"dbConfig": {"mariadbRef": {"name": "maria.db"}}}, "spec.dbConfig.mariadbRef"),
    ("mariadb-namespace", {"dbConfig": {"mariadbRef": {"name": "mariadb", "namespace": "db_ns"}}},
     "spec.dbConfig.mariadbRef.namespace"),
    ("connection-secret", {"dbConfig": {"connectionSecretRef": {"name": "db creds"}}},
     "spec.dbConfig.connectionSecretRef.name"),
    ("admin-secret", {"adminPasswordSecretRef": {"name": "Admin_Password"}}, "spec.adminPasswordSecretRef.name"),
    ("admin-secret-key", {"adminPasswordSecretRef": {"name": "admin", "key": "pass word"}},
     "spec.adminPasswordSecretRef.key"),
    ("tls-secret", {"tls": {"enabled": True, "secretName": "erp_tls"}}, "spec.tls.secretName"),
    ("tls-issuer", {"tls": {"enabled": True, "issuer": "Lets Encrypt"}}, "spec.tls.issuer"),
    ("ingress-class", {"ingressClassName": "-nginx"}, "spec.ingressClassName"),
    ("ingress-class-name", {"ingress": {"enabled": True, "className": "nginx_"}}, "spec.ingress.className"),
    ("ingress-tls-secret", {"ingress": {"enabled": True, "tls": {"enabled": True, "secretName": "erp.tls-"}}},
     "spec.ingress.tls.secretName"),
    ("ingress-tls-issuer", {"ingress": {"enabled": True, "tls": {"enabled": True, "issuer": "x" * 254}}},
     "spec.ingress.tls.issuer"),
]


def good_site(namespace, **spec):
    body = {"benchRef": {"name": "shop"}, "siteName": "erp.example.com", "dbConfig": {"mariadbRef": {"name": "mariadb"}}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "erp", "namespace": namespace},
            "spec": body}


def site_children(kube, namespace):
    """What a site writes: Secrets, Jobs, Ingresses, and the MariaDB Operator's objects where it is served."""
    kinds = ["secrets", "jobs", "ingresses"]
    for kind in ("databases.k8s.mariadb.com", "users.k8s.mariadb.com", "grants.k8s.mariadb.com",
                 "mariadbs.k8s.mariadb.com"):
        if kube.kubectl("get", kind, "-n", namespace, check=False).returncode == 0:
            kinds.append(kind)
    listed = json.loads(kube.kubectl("get", ",".join(kinds), "-n", namespace, "-o", "json").stdout)["items"]
    return ["%s/%s" % (o["kind"], o["metadata"]["name"]) for o in listed]


def test_there_is_a_bad_site_for_every_name_a_site_gives():
    fields = {case[2] for case in BAD_SITES}
    for field in ("spec.siteName", "spec.domain", "spec.benchRef.name", "spec.dbConfig.mariadbRef.name",
                  "spec.dbConfig.connectionSecretRef.name", "spec.adminPasswordSecretRef.name", "spec.tls.secretName",
                  "spec.ingress.tls.secretName"):
        assert field in fields, field


@pytest.mark.parametrize("change, field", [case[1:] for case in BAD_SITES], ids=[case[0] for case in BAD_SITES])
def test_a_bad_site_is_refused_by_the_api_server(kube, namespace, frappe_crds, change, field):
    applied = kube.kubectl("apply", "--server-side", "--field-manager=pytest", "-f", "-",
                           input=yaml.safe_dump(good_site(namespace, **change)), check=False)
    assert applied.returncode != 0, applied.stdout
    assert field in applied.stderr, applied.stderr
    assert kube.custom.list_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites")["items"] == []
    assert site_children(kube, namespace) == []


def test_a_domain_made_too_long_by_the_bench_suffix_is_refused_with_nothing_written(
        kube, namespace, frappe_crds, tmp_path):
    """Each name fits, the domain they make does not: only the plan sees both, and says so in the status."""
    example = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    shop = merge(example, {"metadata": {"name": "shop", "namespace": namespace},
                           "spec": {"domainConfig": {"suffix": "b" * 60 + ".example.com"}}})
    kube.apply(shop)  # stored, not reconciled: the site only reads it
    site = good_site(namespace, siteName=".".join(["a" * 60] * 3))
    run = reconcile(kube, tmp_path, site)
    assert run.rc != 0, run.explain()
    assert "domainConfig.suffix" in run.failure_message and "253" in run.failure_message, run.explain()
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", "erp")
    ready = [c for c in stored["status"]["conditions"] if c["type"] == "Ready"][0]
    assert stored["status"]["phase"] == "Failed" and ready["reason"] == "Refused", stored["status"]
    assert "domainConfig.suffix" in ready["message"]
    assert site_children(kube, namespace) == []


def test_a_site_whose_bench_does_not_exist_writes_nothing_and_says_what_to_create(
        kube, namespace, frappe_crds, tmp_path):
    """The database server is there (a connection Secret), the bench is not: no password Secret, Job or Ingress."""
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-admin", "namespace": namespace},
                "stringData": {"host": "db.example.com", "username": "root", "password": "s3cret"}})
    site = good_site(namespace, dbConfig={"connectionSecretRef": {"name": "db-admin"}}, ingress={"enabled": True})
    run = reconcile(kube, tmp_path, site)
    assert run.rc == 0, run.explain()
    stored = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappesites", "erp")
    bench_ready = [c for c in stored["status"]["conditions"] if c["type"] == "BenchReady"][0]
    assert stored["status"]["phase"] == "Pending", stored["status"]
    assert bench_ready["reason"] == "BenchNotFound" and "create it" in bench_ready["message"], bench_ready
    assert site_children(kube, namespace) == ["Secret/db-admin"]
