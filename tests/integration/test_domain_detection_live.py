"""Domain detection on the local cluster: a site that sets no domain on a bench without a suffix.

Each source in its order (the bench's ingressControllerRef Service, OpenShift's
ingresses.config.openshift.io object cluster, an ingress controller Service the
Go operator looks at) and none, with the operator's shipped ClusterRole: the
bench records what it detected, the site its domain and source, and the bench's
nginx map routes the detected domain to the site.
"""

import pytest

from support import bound_service_account, shipped_cluster_role, wait_until
from test_frappe_site import frappe_site, site_yml

OPENSHIFT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "ingresses.config.openshift.io"},
    "spec": {"group": "config.openshift.io", "scope": "Cluster",
             "names": {"plural": "ingresses", "singular": "ingress", "kind": "Ingress", "listKind": "IngressList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"


def bench(namespace, **domain_config):
    spec = {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext", "tag": "v15.45.0"},
            "apps": [{"name": "erpnext", "source": "image"}]}
    if domain_config:
        spec["domainConfig"] = domain_config
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": "shop", "namespace": namespace}, "spec": spec}


def site(namespace):
    # A connection Secret not created yet: the site waits, and needs no database operator.
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "erp", "namespace": namespace},
            "spec": {"benchRef": {"name": "shop"}, "siteName": "erp",
                     "dbConfig": {"connectionSecretRef": {"name": "not-yet"}}}}


def service(namespace, name, hostname):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "annotations": {HOSTNAME: hostname}},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]}}


@pytest.fixture
def operator_role(kube, namespace, tmp_path):
    """A kubeconfig of a ServiceAccount bound to config/rbac/role.yaml, and nothing else."""
    yield bound_service_account(kube, namespace, shipped_cluster_role(), tmp_path / "operator.kubeconfig",
                                ("get", "services", "-n", "traefik"))
    kube.kubectl("delete", "clusterrolebinding", "frappe-operator-" + namespace, "--ignore-not-found")


@pytest.fixture
def cluster_objects(kube):
    """Namespaces, Services and the OpenShift-like CRD made by the test, removed after it."""
    made = []

    def make(obj):
        if obj["kind"] == "Service" and not kube.kubectl("get", "namespace", obj["metadata"]["namespace"],
                                                         check=False).returncode == 0:
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": obj["metadata"]["namespace"]}})
            made.append(("namespace", obj["metadata"]["namespace"], None))
        kube.apply(obj)
        made.append((obj["kind"].lower(), obj["metadata"]["name"], obj["metadata"].get("namespace")))
    yield make
    for kind, name, namespace in reversed(made):
        if kind == "ingress":
            kind = "ingresses.config.openshift.io"
        elif kind == "customresourcedefinition":
            kind = "crd"
        kube.kubectl("delete", kind, name, "--ignore-not-found", "--wait=false",
                     *(["-n", namespace] if namespace else []), check=False)


def reconcile(kube, tmp_path, namespace, kubeconfig, **domain_config):
    site_yml(kube, tmp_path, bench(namespace, **domain_config), site(namespace), kubeconfig=kubeconfig)
    b = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "shop")
    s = frappe_site(kube, namespace, "erp")["status"]
    return b["status"], (s.get("resolvedDomain"), s.get("domainSource"))


def test_the_domain_is_detected_from_each_source_in_order_and_the_site_says_when_there_is_none(
        kube, namespace, frappe_crds, operator_role, cluster_objects, tmp_path):
    # Nothing to detect: the site is served on its siteName, and both statuses say so.
    bench_status, domain = reconcile(kube, tmp_path, namespace, operator_role)
    assert domain == ("erp", "sitename-default")
    assert bench_status["domainDetection"]["suffix"] == ""
    assert bench_status["domainDetection"]["source"].startswith("nothing detected")
    assert "erp" not in (bench_status.get("routes") or {}).values()

    # A well-known ingress controller Service with a wildcard; a load balancer host name alone counts for nothing.
    cluster_objects(service("kube-system", "traefik", "traefik-lb.example.net"))
    cluster_objects(service("traefik", "traefik", "*.traefik.example.com"))
    bench_status, domain = reconcile(kube, tmp_path, namespace, operator_role)
    assert domain == ("erp.traefik.example.com", "auto-detected")
    assert bench_status["domainDetection"] == {"suffix": "traefik.example.com", "source": "Service traefik/traefik"}
    # The bench's nginx map routes the same domain to the site.
    assert bench_status["routes"] == {"erp.traefik.example.com": "erp"}
    # Earlier in the order: ingress-nginx's controller.
    cluster_objects(service("ingress-nginx", "ingress-nginx-controller", "*.nginx.example.com"))
    bench_status, domain = reconcile(kube, tmp_path, namespace, operator_role)
    assert domain == ("erp.nginx.example.com", "auto-detected")

    # OpenShift's cluster ingress configuration comes before those Services.
    cluster_objects(OPENSHIFT_CRD)
    kube.kubectl("wait", "--for=condition=Established", "crd/ingresses.config.openshift.io", "--timeout=60s")
    wait_until(lambda: kube.group_served("config.openshift.io"), 60, "config.openshift.io in discovery")
    cluster_objects({"apiVersion": "config.openshift.io/v1", "kind": "Ingress", "metadata": {"name": "cluster"},
                     "spec": {"domain": "apps.ocp.example.com"}})
    bench_status, domain = reconcile(kube, tmp_path, namespace, operator_role)
    assert domain == ("erp.apps.ocp.example.com", "auto-detected")
    assert bench_status["domainDetection"]["source"] == "ingresses.config.openshift.io/cluster"
    assert bench_status["routes"] == {"erp.apps.ocp.example.com": "erp"}

    # The bench's own ingressControllerRef comes first.
    cluster_objects(service(namespace, "edge", "*.edge.example.com"))
    bench_status, domain = reconcile(kube, tmp_path, namespace, operator_role, ingressControllerRef={"name": "edge"})
    assert domain == ("erp.edge.example.com", "auto-detected")
    assert bench_status["domainDetection"]["source"] == "Service %s/edge" % namespace

    # autoDetect false: served on the siteName again, its old route gone.
    bench_status, domain = reconcile(kube, tmp_path, namespace, operator_role, autoDetect=False)
    assert domain == ("erp", "sitename-default")
    assert bench_status["domainDetection"] == {"suffix": "", "source": "domainConfig.autoDetect is false"}
    assert not bench_status.get("routes")
