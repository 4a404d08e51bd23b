"""What a FrappeSite may name (plugins/module_utils/frappe/site_validation.py), as the site plan refuses it and as the CRD repeats it."""

import re

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import site_validation as rules
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.go_operator_fields import REFUSED_SITE
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_plan

from role_settings import REPO, role_settings
from test_site_plan import bench, live, site

SETTINGS = role_settings("frappe_site", "frappe_site_settings")
CRD = REPO / "config" / "crd" / "bases" / "vyogo.tech_frappesites.yaml"
LABEL_64 = "a" * 64

# (id, spec change, field named in the refusal)
BAD_SITES = [
    ("site-label-64", {"siteName": LABEL_64 + ".example.com"}, "spec.siteName"),
    ("site-assets", {"siteName": "assets"}, "spec.siteName"),
    ("site-apps-txt", {"siteName": "apps.txt"}, "spec.siteName"),
    ("site-apps-json", {"siteName": "apps.json"}, "spec.siteName"),
    ("site-currentsite", {"siteName": "currentsite.txt"}, "spec.siteName"),
    ("site-common-config", {"siteName": "common_site_config.json"}, "spec.siteName"),
    ("site-too-long-for-backups", {"siteName": ".".join(["a" * 50] * 4) + ".examples"}, "spec.siteName"),
    ("domain-label-64", {"domain": LABEL_64 + ".example.com"}, "spec.domain"),
    ("domain-upper-case", {"domain": "ERP.example.com"}, "spec.domain"),
    ("bench-name-dot", {"benchRef": {"name": "shop.v2"}}, "spec.benchRef.name"),
    ("bench-name-too-long", {"benchRef": {"name": "b" * 40}}, "spec.benchRef.name"),
    ("bench-namespace", {"benchRef": {"name": "shop", "namespace": "Shop"}}, "spec.benchRef.namespace"),
    ("mariadb-name", {"dbConfig": {"mariadbRef": {"name": "MariaDB"}}}, "spec.dbConfig.mariadbRef.name"),
    ("mariadb-name-dot", {"dbConfig": {"mariadbRef": {"name": "maria.db"}}}, "spec.dbConfig.mariadbRef.name"),
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


def bad_site(change):
    s = site()
    s["spec"].update(change)
    if "connectionSecretRef" in (change.get("dbConfig") or {}):
        s["spec"]["dbConfig"].pop("mariadbRef", None)
    return s


def refusal(s, mode="apply", **overrides):
    p = site_plan(s, live=live(**overrides), settings=SETTINGS, mode=mode,
                  new_site_script="echo new", drop_site_script="echo drop")
    return p


@pytest.mark.parametrize("mode", ["apply", "render"])
@pytest.mark.parametrize("change, field", [c[1:] for c in BAD_SITES], ids=[c[0] for c in BAD_SITES])
def test_a_bad_name_is_refused_by_the_plan_with_nothing_to_render(change, field, mode):
    p = refusal(bad_site(change), mode=mode)
    assert len(p["errors"]) == 1, p["errors"]
    assert field in p["errors"][0] and "Nothing was changed" in p["errors"][0]
    assert p["render"] == [] and p["delete"] == [] and "job" not in p and "database" not in p


def test_the_good_names_next_to_the_bad_ones_are_accepted():
    good = [{"siteName": "a" * 63 + ".example.com"}, {"siteName": "assets.example.com"},
            {"siteName": ".".join(["a" * 50] * 4) + ".example"},  # 211 characters: the longest
            {"domain": "a" * 63 + ".example.com"}, {"benchRef": {"name": "b" * 39, "namespace": "shop"}},
            {"dbConfig": {"mariadbRef": {"name": "maria.db", "kind": "ExternalMariaDB", "namespace": "db-ns"}}},
            {"adminPasswordSecretRef": {"name": "admin.password", "key": "ADMIN_password.1"}},
            {"ingress": {"enabled": True, "className": "nginx", "tls": {"enabled": True, "secretName": "erp-tls",
                                                                        "issuer": "letsencrypt-prod"}}}]
    for change in good:
        assert rules.site_name_errors(bad_site(change)["spec"]["siteName"]) == [], change
        assert rules.reference_errors(bad_site(change)) == [], change
        assert refusal(bad_site(change), mode="render")["errors"] == [], change


def test_the_longest_site_name_keeps_every_backup_file_name_within_255_bytes():
    assert rules.MAX_SITE_NAME_LENGTH == 211
    longest = "a" * rules.MAX_SITE_NAME_LENGTH
    slug = longest.replace(".", "_")
    # The names frappe/utils/backups.py (version 15) gives a backup, encrypted or not.
    for suffix in ("-site_config_backup-enc.json", "-site_config_backup.json", "-partial-database-enc.sql.gz",
                   "-database-enc.sql.gz", "-private-files-enc.tgz", "-files-enc.tar"):
        assert len("%s-%s%s" % ("20261202_224500", slug, suffix)) <= 255, suffix
    assert len("20261202_224500-%s-site_config_backup-enc.json" % (longest + "a")) == 256


def test_a_domain_made_from_the_bench_suffix_is_checked_like_spec_domain():
    long_suffix = bench(domainConfig={"suffix": "x" * 64 + ".example.com"})
    p = refusal(site(siteName="erp"), bench=[long_suffix])
    assert len(p["errors"]) == 1 and "domainConfig.suffix" in p["errors"][0] and "63" in p["errors"][0], p["errors"]
    assert p["render"] == [] and "job" not in p
    too_long = bench(domainConfig={"suffix": ".".join(["s" * 60] * 3)})
    p = refusal(site(siteName=".".join(["a" * 60] * 2)), bench=[too_long])
    assert len(p["errors"]) == 1 and "253" in p["errors"][0], p["errors"]
    assert refusal(site(siteName="erp"), bench=[bench(domainConfig={"suffix": "example.com"})])["errors"] == []


# -- the CRD repeats these rules ----------------------------------------------

@pytest.fixture(scope="module")
def spec_schema():
    return yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def _field(spec_schema, path):
    node = spec_schema
    for part in path.split(".")[1:]:
        node = node["properties"][part]
    return node


def test_the_crd_checks_site_name_and_domain_like_the_plan(spec_schema):
    for field in ("spec.siteName", "spec.domain"):
        assert _field(spec_schema, field)["pattern"] == rules.DNS_NAME_PATTERN, field
    assert _field(spec_schema, "spec.siteName")["maxLength"] == rules.MAX_SITE_NAME_LENGTH
    assert _field(spec_schema, "spec.domain")["maxLength"] == rules.MAX_DNS_NAME_LENGTH
    cel = [r["rule"] for r in _field(spec_schema, "spec.siteName")["x-kubernetes-validations"] if " in [" in r["rule"]]
    assert len(cel) == 1
    assert re.findall(r"'([^']*)'", cel[0]) == list(rules.RESERVED_SITE_NAMES)


@pytest.mark.parametrize("field, kind", rules.REFERENCE_FIELDS, ids=[f for f, _k in rules.REFERENCE_FIELDS])
def test_the_crd_checks_every_reference_like_the_plan(spec_schema, field, kind):
    pattern, longest, _words = rules.RULES[kind]
    node = _field(spec_schema, field)
    assert (node["pattern"], node["maxLength"]) == (pattern, longest)


def test_every_name_field_of_the_crd_is_checked(spec_schema):
    """A field added later that names an object gets a rule here too."""
    found = []

    def walk(node, path):
        for key, child in (node.get("properties") or {}).items():
            here = "%s.%s" % (path, key)
            # Fields of the Go operator that are refused whole (go_operator_fields.REFUSED_SITE), and Secret
            # namespaces, which may only name the site's own, are not names a Job or an Ingress carries.
            refused = any(here.startswith(field + ".") for field in REFUSED_SITE)
            own_namespace = here in ("spec.adminPasswordSecretRef.namespace", "spec.dbConfig.connectionSecretRef.namespace")
            if child.get("type") == "string" and re.search(r"(name|Name|namespace|secretName|issuer|key)$", key) \
                    and here not in ("spec.siteName",) and not refused and not own_namespace:
                found.append(here)
            walk(child, here)
    walk(spec_schema, "spec")
    assert sorted(found) == sorted(f for f, _k in rules.REFERENCE_FIELDS)


def test_the_crd_checks_a_mariadb_name_as_a_label(spec_schema):
    rule = _field(spec_schema, "spec.dbConfig.mariadbRef")["x-kubernetes-validations"][0]["rule"]
    assert rules.DNS1123_LABEL in rule and "size() <= 63" in rule
