"""Domain detection: the suffix of a bench's sites when neither the site nor the bench names one."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import bench_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.domain_detection import (
    EXTERNAL_DNS_HOSTNAME, detect_suffix, detection_reads, resolve_domain, suffix_of)

import test_bench_plan as bench_case
import test_site_plan as site_case
from test_bench_status import healthy


def bench(**domain_config):
    spec = {"domainConfig": domain_config} if domain_config else {}
    return {"metadata": {"name": "erp", "namespace": "erp-ns"}, "spec": spec}


def service(namespace, name, hostname=None, lb_hostname=None):
    svc = {"kind": "Service", "metadata": {"name": name, "namespace": namespace},
           "spec": {"type": "LoadBalancer"}, "status": {}}
    if hostname is not None:
        svc["metadata"]["annotations"] = {EXTERNAL_DNS_HOSTNAME: hostname}
    if lb_hostname:
        svc["status"] = {"loadBalancer": {"ingress": [{"hostname": lb_hostname}]}}
    return svc


OPENSHIFT = {"kind": "Ingress", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "cluster"},
             "spec": {"domain": "apps.ocp.example.com"}}


def keys(b):
    return [r["key"] for r in detection_reads(b)]


def test_reads_follow_the_order_and_are_all_optional():
    b = bench(ingressControllerRef={"name": "my-ingress", "namespace": "edge"})
    reads = detection_reads(b)
    assert [(r["kind"], r.get("namespace"), r["name"]) for r in reads] == [
        ("Service", "edge", "my-ingress"), ("Ingress", None, "cluster"),
        ("Service", "ingress-nginx", "ingress-nginx-controller"), ("Service", "ingress-nginx", "nginx-ingress-controller"),
        ("Service", "traefik", "traefik"), ("Service", "kube-system", "traefik")]
    assert reads[1]["api_version"] == "config.openshift.io/v1"
    assert all(r["optional"] for r in reads)
    # The ref's namespace defaults to the bench's.
    assert detection_reads(bench(ingressControllerRef={"name": "mine"}))[0]["namespace"] == "erp-ns"
    assert keys(bench())[0] == "domain_openshift_ingress"


def test_nothing_is_read_with_a_suffix_or_with_autodetect_false():
    assert detection_reads(bench(suffix="example.com")) == []
    assert detection_reads(bench(autoDetect=False)) == []
    # The CRD's default (and the Go operator's nil) is true.
    assert detection_reads(bench(autoDetect=True)) and detection_reads(bench())


@pytest.mark.parametrize("value, wildcard_only, suffix", [
    ("*.apps.example.com", True, "apps.example.com"),
    ("*.Apps.Example.com.", True, "apps.example.com"),
    ("shop.example.com, *.apps.example.com", True, "apps.example.com"),
    # One host, not a zone: the Go operator would take example.com.
    ("ingress.example.com", True, ""),
    ("*.bad_name.example.com", True, ""),
    ("", True, ""),
    (None, True, ""),
    ("apps.ocp.example.com", False, "apps.ocp.example.com"),
    (".apps.ocp.example.com", False, "apps.ocp.example.com"),
])
def test_suffix_of(value, wildcard_only, suffix):
    assert suffix_of(value, wildcard_only) == suffix


def test_the_ingress_controller_ref_comes_first():
    b = bench(ingressControllerRef={"name": "edge", "namespace": "edge"})
    live = {"domain_ingress_controller": [service("edge", "edge", "*.edge.example.com")],
            "domain_openshift_ingress": [OPENSHIFT],
            "domain_service_0": [service("ingress-nginx", "ingress-nginx-controller", "*.nginx.example.com")]}
    assert detect_suffix(b, live) == {"suffix": "edge.example.com", "source": "Service edge/edge"}


def test_openshift_comes_before_the_well_known_services():
    live = {"domain_openshift_ingress": [OPENSHIFT],
            "domain_service_0": [service("ingress-nginx", "ingress-nginx-controller", "*.nginx.example.com")]}
    assert detect_suffix(bench(), live) == {"suffix": "apps.ocp.example.com",
                                            "source": "ingresses.config.openshift.io/cluster"}
    # A ref without a wildcard falls through to the next source.
    b = bench(ingressControllerRef={"name": "edge"})
    live["domain_ingress_controller"] = [service("erp-ns", "edge", "edge.example.com")]
    assert detect_suffix(b, live)["suffix"] == "apps.ocp.example.com"


def test_the_first_well_known_service_with_a_wildcard_wins():
    live = {"domain_service_0": [service("ingress-nginx", "ingress-nginx-controller")],
            "domain_service_2": [service("traefik", "traefik", "*.traefik.example.com")],
            "domain_service_3": [service("kube-system", "traefik", "*.kube.example.com")]}
    assert detect_suffix(bench(), live) == {"suffix": "traefik.example.com", "source": "Service traefik/traefik"}


def test_a_load_balancer_host_name_is_never_a_suffix():
    live = {"domain_service_0": [service("ingress-nginx", "ingress-nginx-controller",
                                         lb_hostname="a1b2c3.us-west-2.elb.amazonaws.com")]}
    found = detect_suffix(bench(), live)
    assert found["suffix"] == "" and found["source"].startswith("nothing detected (looked at ")
    assert "Service kube-system/traefik" in found["source"]


def test_nothing_detected_or_detection_off_says_why():
    assert detect_suffix(bench(), {})["suffix"] == ""
    assert detect_suffix(bench(autoDetect=False), {"domain_openshift_ingress": [OPENSHIFT]}) == {
        "suffix": "", "source": "domainConfig.autoDetect is false"}
    assert detect_suffix(bench(suffix="example.com"), {"domain_openshift_ingress": [OPENSHIFT]}) == {
        "suffix": "", "source": "domainConfig.suffix is set"}


def site(name="erp", **spec):
    return {"metadata": {"name": name}, "spec": dict({"siteName": name, "benchRef": {"name": "erp"}}, **spec)}


def recorded(detected, **domain_config):
    b = bench(**domain_config)
    b["status"] = {"domainDetection": {"suffix": detected, "source": "Service traefik/traefik"}}
    return b


def test_resolve_domain_explicit_then_suffix_then_detected_then_site_name():
    assert resolve_domain(site(domain="erp.example.org"), recorded("apps.example.com")) == ("erp.example.org", "explicit")
    with_suffix = recorded("apps.example.com", suffix=".example.com")
    assert resolve_domain(site(), with_suffix) == ("erp.example.com", "bench-suffix")
    assert resolve_domain(site(), recorded("apps.example.com")) == ("erp.apps.example.com", "auto-detected")
    # A siteName already under the suffix is kept as it is.
    assert resolve_domain(site(siteName="erp.apps.example.com"), recorded("apps.example.com")) == (
        "erp.apps.example.com", "auto-detected")
    assert resolve_domain(site(), recorded("apps.example.com", autoDetect=False)) == ("erp", "sitename-default")
    assert resolve_domain(site(), recorded("")) == ("erp", "sitename-default")
    assert resolve_domain(site(), bench()) == ("erp", "sitename-default")
    # The bench's own reconcile passes what it detected now.
    assert resolve_domain(site(), bench(), {"suffix": "now.example.com"}) == ("erp.now.example.com", "auto-detected")


def test_the_bench_maps_detected_domains_and_records_the_detection():
    live = {"sites": [bench_case._site("erp", "erp")],
            "domain_service_0": [service("ingress-nginx", "ingress-nginx-controller", "*.apps.example.com")]}
    p = bench_case.plan(**live)
    assert p["domain_detection"] == {"suffix": "apps.example.com",
                                     "source": "Service ingress-nginx/ingress-nginx-controller"}
    assert p["routes"]["map"] == {"erp.apps.example.com": "erp"}
    status = bench_status(p, healthy(p), bench_case.bench(), bench_case.SETTINGS)["status"]
    assert status["domainDetection"] == p["domain_detection"]
    # A bench with a suffix of its own maps that one.
    p = bench_case.plan(bench_case.bench(domainConfig={"suffix": "example.org"}), **live)
    assert p["routes"]["map"] == {"erp.example.org": "erp"}


def test_a_site_takes_the_suffix_its_bench_recorded_and_says_when_there_is_none():
    detected = site_case.bench()
    detected["status"]["domainDetection"] = {"suffix": "apps.example.com", "source": "ingresses.config.openshift.io/cluster"}
    p = site_case.plan(site_case.site(siteName="erp"), bench=[detected])
    assert p["domain"] == {"resolved": "erp.apps.example.com", "source": "auto-detected"}
    assert p["host_name"] == "http://erp.apps.example.com" and p["route_request"] == "erp=erp.apps.example.com"
    status = site_case.site_status(p, site_case.site(siteName="erp"))["status"]
    assert (status["resolvedDomain"], status["domainSource"]) == ("erp.apps.example.com", "auto-detected")
    nothing = site_case.bench()
    nothing["spec"]["domainConfig"] = {"autoDetect": True}  # as the CRD defaults it
    nothing["status"]["domainDetection"] = {"suffix": "", "source": "nothing detected (looked at Service traefik/traefik)"}
    p = site_case.plan(site_case.site(siteName="erp"), bench=[nothing])
    assert p["domain"] == {"resolved": "erp", "source": "sitename-default"}
    assert [w for w in p["warnings"] if "served on its siteName erp" in w and "nothing detected" in w]
    # A bench that does not ask for detection is not warned about it.
    del nothing["spec"]["domainConfig"]
    assert site_case.plan(site_case.site(siteName="erp"), bench=[nothing])["warnings"] == []
