"""Unit tests of the bench_spec_errors filter, and of the CRD rules that repeat it."""

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import bench_validation as checks

CRD = Path(__file__).resolve().parents[5] / "config" / "crd" / "bases" / "vyogo.tech_frappebenches.yaml"


def bench(name="erp", **spec):
    body = {"frappeVersion": "version-15"}
    body.update(spec)
    return {"metadata": {"name": name}, "spec": body}


def test_a_good_bench_has_no_errors():
    good = bench(imageConfig={"repository": "registry.example.com:5000/team/erpnext", "tag": "v15.45.0"},
                 redisConfig={"image": "redis:7.4@sha256:" + "a" * 64, "maxMemory": "256Mi", "storageSize": 1073741824},
                 componentResources={"gunicorn": {"requests": {"cpu": "500m"}}})
    assert checks.bench_spec_errors(good) == []


def test_the_longest_name_fits_exactly():
    longest = "b" * checks.MAX_BENCH_NAME_LENGTH
    assert checks.MAX_BENCH_NAME_LENGTH == 39
    assert len("keda-hpa-%s-worker-default" % longest) == 63
    assert checks.bench_spec_errors(bench(longest)) == []
    [error] = checks.bench_spec_errors(bench(longest + "b"))
    assert error.startswith("metadata.name") and "at most 39" in error


@pytest.mark.parametrize("name", ["1erp", "erp.v2", "Erp", "erp-", "erp_1"])
def test_names_that_cannot_name_a_service(name):
    [error] = checks.bench_spec_errors(bench(name))
    assert "DNS-1035" in error and repr(name) in error


@pytest.mark.parametrize("spec,field", [
    ({"imageConfig": {"repository": "Docker.io/Frappe/ERPNext"}}, "spec.imageConfig.repository"),
    ({"imageConfig": {"repository": "frappe/erpnext:v15"}}, "spec.imageConfig.repository"),
    ({"imageConfig": {"tag": "v15 beta"}}, "spec.imageConfig.tag"),
    ({"imageConfig": {"tag": "v15@sha256:abc"}}, "spec.imageConfig.tag"),
    ({"frappeVersion": "version 15"}, "spec.frappeVersion"),
    ({"redisConfig": {"image": "redis::7"}}, "spec.redisConfig.image"),
    ({"storageSize": "0"}, "spec.storageSize must be more than 0"),
    ({"storageSize": "-5Gi"}, "spec.storageSize must be more than 0"),
    ({"redisConfig": {"maxMemory": "lots"}}, "spec.redisConfig.maxMemory must be a Kubernetes quantity"),
    ({"componentResources": {"nginx": {"limits": {"memory": "-1Gi"}}}},
     "spec.componentResources.nginx.limits.memory must not be negative"),
])
def test_each_problem_names_its_field(spec, field):
    errors = checks.bench_spec_errors(bench(**spec))
    assert len(errors) == 1 and field in errors[0], errors


def test_a_tag_may_carry_the_digest_it_was_pushed_as():
    digest = "sha256:" + "fc7d472b" * 8
    assert checks.bench_spec_errors(bench(imageConfig={"tag": "sha-ae82c47@" + digest})) == []


def test_a_tag_makes_frappe_version_free_text():
    assert checks.bench_spec_errors(bench(frappeVersion="version 15", imageConfig={"tag": "v15.45.0"})) == []


# -- the CRD repeats these rules ----------------------------------------------

@pytest.fixture(scope="module")
def schema():
    return yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_crd_checks_the_name_like_the_filter(schema):
    rules = {r["rule"]: r["message"] for r in schema["x-kubernetes-validations"]}
    assert "self.metadata.name.size() <= %d" % checks.MAX_BENCH_NAME_LENGTH in rules
    assert "self.metadata.name.matches('%s')" % checks.DNS1035_LABEL in rules


def test_crd_image_patterns_are_the_filters(schema):
    spec = schema["properties"]["spec"]["properties"]
    assert spec["imageConfig"]["properties"]["repository"]["pattern"] == checks.IMAGE_REPOSITORY_PATTERN
    assert spec["imageConfig"]["properties"]["tag"]["pattern"] == checks.IMAGE_TAG_PATTERN
    assert spec["redisConfig"]["properties"]["image"]["pattern"] == checks.IMAGE_REFERENCE_PATTERN
    site_spec = yaml.safe_load(CRD.with_name("vyogo.tech_frappesites.yaml").read_text())["spec"]["versions"][0][
        "schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert site_spec["dbConfig"]["properties"]["image"]["pattern"] == checks.IMAGE_REFERENCE_PATTERN
    frappe_version_rules = [r["rule"] for r in schema["properties"]["spec"]["x-kubernetes-validations"]
                            if "frappeVersion" in r["rule"]]
    # spec.version is the Go operator's older spelling of frappeVersion (go_operator_fields.py): either is required,
    # and the one given is the tag when imageConfig.tag is not set.
    assert frappe_version_rules == [
        "has(self.frappeVersion) || has(self.version)",
        "(has(self.imageConfig) && has(self.imageConfig.tag) && self.imageConfig.tag != '') || "
        "(has(self.frappeVersion) ? self.frappeVersion : (has(self.version) ? self.version : 'x'))"
        ".matches('%s')" % checks.IMAGE_TAG_PATTERN]


def spec_property(schema, dotted):
    """The schema of spec.<dotted>."""
    prop = schema["properties"]["spec"]
    for part in dotted.split("."):
        prop = prop["properties"][part]
    return prop


def test_crd_quantities_that_size_something_must_be_positive(schema):
    for path in checks.POSITIVE_QUANTITIES:
        prop = spec_property(schema, path)
        assert [r["rule"] for r in prop["x-kubernetes-validations"]] == [POSITIVE_RULE], path


def test_crd_resource_quantities_must_not_be_negative(schema):
    for owner in checks.RESOURCE_OWNERS:
        prop = spec_property(schema, owner)
        for kind in ("requests", "limits"):
            # A pattern without a sign, not CEL: a rule over an unbounded map exceeds the CEL cost budget.
            pattern = prop["properties"][kind]["additionalProperties"]["pattern"]
            assert pattern.startswith("^\\+?(") and re.match(pattern, "500m") and not re.match(pattern, "-1"), owner


POSITIVE_RULE = "!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))"


def test_patterns_compile_in_re2_compatible_syntax():
    for pattern in (checks.IMAGE_REPOSITORY_PATTERN, checks.IMAGE_TAG_PATTERN, checks.IMAGE_REFERENCE_PATTERN):
        assert "(?=" not in pattern and "(?!" not in pattern and "\\1" not in pattern  # RE2 has no lookaround
        re.compile(pattern)


# -- spec.nginx: whom nginx believes about the client's address ----------------

@pytest.mark.parametrize("nginx,field", [
    ({"upstreamRealIPAddresses": ["10.1.2.3/8"]}, "spec.nginx.upstreamRealIPAddresses[0]"),
    ({"upstreamRealIPAddresses": ["10.0.0.0/8", "ingress"]}, "spec.nginx.upstreamRealIPAddresses[1]"),
    ({"upstreamRealIPAddresses": ["300.0.0.1"]}, "spec.nginx.upstreamRealIPAddresses[0]"),
    ({"upstreamRealIPAddresses": "10.0.0.0/8"}, "spec.nginx.upstreamRealIPAddresses must be a list"),
    ({"upstreamRealIPHeader": "X-Forwarded-For; evil"}, "spec.nginx.upstreamRealIPHeader"),
    ({"upstreamRealIPRecursive": "on"}, "spec.nginx.upstreamRealIPRecursive must be true or false"),
])
def test_each_real_ip_problem_names_its_field(nginx, field):
    errors = checks.bench_spec_errors(bench(nginx=nginx))
    assert len(errors) == 1 and field in errors[0], errors


def test_a_range_with_host_bits_gets_the_range_it_likely_meant():
    [error] = checks.bench_spec_errors(bench(nginx={"upstreamRealIPAddresses": ["10.1.2.3/8"]}))
    assert "did you mean 10.0.0.0/8?" in error


def test_good_real_ip_settings_pass_and_override_the_default():
    nginx = {"upstreamRealIPAddresses": ["10.244.0.0/16", "fd00::/8", "203.0.113.7"],
             "upstreamRealIPHeader": "X-Real-IP", "upstreamRealIPRecursive": False}
    assert checks.bench_spec_errors(bench(nginx=nginx)) == []
    assert checks.bench_real_ip(bench(nginx=nginx)["spec"]) == nginx
    assert checks.bench_real_ip(bench(nginx={"upstreamRealIPAddresses": []})["spec"]) == checks.REAL_IP_DEFAULTS
    assert checks.bench_real_ip(bench()["spec"]) == checks.REAL_IP_DEFAULTS


def test_the_default_passes_its_own_check():
    assert checks.bench_spec_errors(bench(nginx=dict(checks.REAL_IP_DEFAULTS))) == []


def test_crd_real_ip_fields_repeat_the_filter(schema):
    nginx = spec_property(schema, "nginx")
    props = nginx["properties"]
    assert props["upstreamRealIPAddresses"]["items"]["pattern"] == checks.ADDRESS_PATTERN
    assert props["upstreamRealIPHeader"]["pattern"] == checks.HEADER_NAME
    assert props["upstreamRealIPRecursive"]["type"] == "boolean"
    for address in checks.REAL_IP_DEFAULTS["upstreamRealIPAddresses"]:
        assert re.match(checks.ADDRESS_PATTERN, address), address
        # The CRD says what the default is: every range of it (loopback by that word).
        assert address in nginx["description"] or address in ("127.0.0.1", "::1"), address
    assert "loopback" in nginx["description"]
    for bad in ("ingress", "10.0.0.0/8;", "10.0.0.0/8 evil"):
        assert not re.match(checks.ADDRESS_PATTERN, bad)


def test_a_reconcile_refuses_what_is_not_a_frappebench_before_it_reads_anything():
    good = {"kind": "FrappeBench", "metadata": {"name": "erp", "namespace": "shop"}, "spec": {"frappeVersion": 15}}
    checks.require_bench_object(good)
    for bad in (None, [], dict(good, kind="FrappeSite"), dict(good, metadata={"name": "erp"}),
                dict(good, spec={}), dict(good, spec={"frappeVersion": ""}), dict(good, spec=None)):
        with pytest.raises(checks.InvalidInput, match="must be a FrappeBench object with metadata.name, "
                                                      "metadata.namespace and spec.frappeVersion"):
            checks.require_bench_object(bad)
