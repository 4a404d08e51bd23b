"""The bench's own nginx configuration, as the role renders it, loaded by a real nginx (Debian's).

In front of it on loopback: a gunicorn stand-in that answers per site from
X-Frappe-Site-Name, and a socket.io stand-in that applies the checks of
Frappe's realtime/middlewares/authenticate.js and calls back through the
nginx as realtime/utils.js get_url makes it (tests/harness/frappe_web.py). The
socket.io pod's hostAliases come from the bench's plan with its nginx Service
read live, as a reconcile after the Service exists has it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import REAL_IP_DEFAULTS
from frappe_web import Gunicorn, SocketIO, http_get, socketio_connect, start_nginx, stop
from podscripts import IMAGE_BENCH_DIR, render

# The role's settings as the role resolves them (shared with the plan's unit tests).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "frappe"))
from role_settings import role_settings  # noqa: E402

SITE_SPEC = {"dbConfig": {"mariadbRef": {"name": "mariadb"}}}


def bench(**spec):
    body = {"frappeVersion": "version-15", "domainConfig": {"suffix": "example.com"}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": "shop"},
            "spec": body}


def site(name, site_name, **spec):
    body = dict(SITE_SPEC, benchRef={"name": "shop"}, siteName=site_name, **spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": name, "namespace": "shop"},
            "spec": body}


SITES = [site("erp", "erp"),  # served on erp.example.com, by the bench's suffix
         site("crm", "crm.acme.test", domain="crm.example.org"),
         site("plain", "plain.example.com")]  # served on its own name
SESSIONS = {"erp": {"s-erp": "ada@erp.test"}, "crm.acme.test": {"s-crm": "bob@crm.test"},
            "plain.example.com": {"s-plain": "cy@plain.test"}}
# The nginx Service's clusterIP in the live read. Any address: the socket.io
# stand-in sends (this address, the Service port) to nginx's loopback port.
SERVICE_IP = "10.96.0.42"


def by_name(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("nginx"), bench(), *SITES)


@pytest.fixture(scope="module")
def upstreams():
    gunicorn = Gunicorn(SESSIONS)
    yield gunicorn
    gunicorn.close()


def live_plan(spec_bench):
    """The bench's plan in a reconcile that reads its sites and its nginx Service."""
    settings = role_settings("frappe_bench", "frappe_bench_settings")
    b = dict(spec_bench, metadata=dict(spec_bench["metadata"], uid="u-1"))
    sites = [dict(s, metadata=dict(s["metadata"], creationTimestamp="2026-01-01T00:00:00Z")) for s in SITES]
    service = {"metadata": {"name": "shop-nginx"}, "spec": {"clusterIP": SERVICE_IP}}
    return bench_plan(b, live={"sites": sites, "services": [service]}, settings=settings, mode="apply")


def run_nginx(tmp_path, objects, gunicorn, socketio_port):
    config = by_name(objects, "ConfigMap", "shop-nginx")
    deployment = by_name(objects, "Deployment", "shop-nginx")
    pod = deployment["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    return start_nginx(tmp_path, config["data"], IMAGE_BENCH_DIR,
                       {"shop-gunicorn:8000": gunicorn.port, "shop-socketio:9000": socketio_port},
                       pod["containers"][0]["ports"][0]["containerPort"], mounts["nginx-config"], mounts["nginx-run"])


def test_the_nginx_pod_runs_debians_nginx_on_the_mounted_configuration(rendered):
    deployment = by_name(rendered, "Deployment", "shop-nginx")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    # No entrypoint template, no envsubst: nginx itself, on the bench's file.
    assert container["args"] == ["nginx", "-c", "/etc/nginx/frappe/nginx.conf"] and "env" not in container
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["nginx-config"] == {"name": "nginx-config", "mountPath": "/etc/nginx/frappe", "readOnly": True}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["nginx-config"]["configMap"] == {"name": "shop-nginx"}
    # pid and temporary files in an emptyDir: writable whatever the image.
    assert volumes["nginx-run"] == {"name": "nginx-run", "emptyDir": {}}
    main = by_name(rendered, "ConfigMap", "shop-nginx")["data"]["nginx.conf"]
    run_dir = mounts["nginx-run"]["mountPath"]
    for line in ("daemon off;", "pid %s/nginx.pid;" % run_dir, "client_body_temp_path %s/body;" % run_dir,
                 "proxy_temp_path %s/proxy;" % run_dir, "include /etc/nginx/frappe/frappe.conf;"):
        assert line in main, line
    assert len(deployment["spec"]["template"]["metadata"]["annotations"]["vyogo.tech/nginx-config-checksum"]) == 16


def test_a_new_site_on_another_domain_changes_the_configuration_and_rolls_nginx(rendered, tmp_path):
    more = render(tmp_path, bench(), *SITES, site("hr", "hr.acme.test", domain="hr.example.org"))
    assert "hr.example.org hr.acme.test;" in by_name(more, "ConfigMap", "shop-nginx")["data"]["frappe.conf"]

    def checksum(objects):
        return by_name(objects, "Deployment", "shop-nginx")["spec"]["template"]["metadata"]["annotations"][
            "vyogo.tech/nginx-config-checksum"]
    assert checksum(more) != checksum(rendered)


def test_plain_http_reaches_the_site_of_each_domain(rendered, upstreams, tmp_path):
    proc, port = run_nginx(tmp_path, rendered, upstreams, 1)
    try:
        assert http_get(port, "erp.example.com")[1] == '{"site": "erp", "request_ip": "127.0.0.1"}'
        assert '"site": "crm.acme.test"' in http_get(port, "crm.example.org")[1]
        assert '"site": "plain.example.com"' in http_get(port, "plain.example.com")[1]
        assert '"site": "crm.acme.test"' in http_get(port, "crm.acme.test")[1]
        # Static files from the mapped site's directory, assets from sites/assets (frappe_docker's locations).
        (tmp_path / "sites" / "erp" / "public" / "files").mkdir(parents=True)
        (tmp_path / "sites" / "erp" / "public" / "files" / "logo.txt").write_text("erp's own file")
        (tmp_path / "sites" / "assets" / "frappe").mkdir(parents=True)
        (tmp_path / "sites" / "assets" / "frappe" / "app.css").write_text("body{}")
        assert http_get(port, "erp.example.com", "/files/logo.txt") == (200, "erp's own file")
        assert http_get(port, "crm.example.org", "/assets/frappe/app.css") == (200, "body{}")
        assert http_get(port, "crm.example.org", "/assets/frappe/missing.css")[0] == 404
    finally:
        stop(proc)


def realtime(tmp_path, objects, upstreams, host_aliases, nginx_service_port):
    """nginx and a socket.io stand-in whose pod has `host_aliases`; the Service port forwards to nginx."""
    socketio = SocketIO(host_aliases)
    proc, port = run_nginx(tmp_path, objects, upstreams, socketio.port)
    socketio.services[(SERVICE_IP, nginx_service_port)] = port
    return socketio, proc, port


@pytest.mark.parametrize("host,namespace,sid,user", [
    ("plain.example.com", "plain.example.com", "s-plain", "cy@plain.test"),  # a site on its own name
    ("erp.example.com", "erp", "s-erp", "ada@erp.test"),  # a domain mapped to another site name
    ("crm.example.org", "crm.acme.test", "s-crm", "bob@crm.test"),
])
def test_socketio_accepts_each_site_and_calls_back_its_own_site_in_the_cluster(
        rendered, upstreams, tmp_path, host, namespace, sid, user):
    plan = live_plan(bench())
    [socketio_component] = [c for c in plan["components"] if c["name"] == "socketio"]
    aliases = socketio_component["host_aliases"]
    hosts = ["crm.acme.test", "crm.example.org", "erp", "erp.example.com", "plain.example.com"]
    assert aliases == [{"ip": SERVICE_IP, "hostnames": hosts}]
    service_port = by_name(rendered, "Service", "shop-nginx")["spec"]["ports"][0]["port"]
    socketio, proc, port = realtime(tmp_path, rendered, upstreams, aliases, service_port)
    try:
        # The browser's page is https on the public domain (TLS ends at the ingress).
        result = socketio_connect(port, host, namespace, origin="https://%s" % host, cookie="sid=%s; x=1" % sid)
        assert result[0] == "connected", result
        # The callback went by plain http to this nginx, on the Service port, and reached the right site.
        [callback] = socketio.callbacks
        assert callback == {"url": "http://%s:%d/api/method/frappe.realtime.get_user_info" % (host, service_port),
                            "site": namespace, "user": user}
        # The polling transport's same-origin GETs carry no Origin: accepted too.
        socketio.callbacks.clear()
        assert socketio_connect(port, host, namespace, origin=None, cookie="sid=%s" % sid)[0] == "connected"
    finally:
        stop(proc)
        socketio.close()


def test_socketio_still_refuses_another_sites_page_and_a_wrong_namespace(rendered, upstreams, tmp_path):
    aliases = [c for c in live_plan(bench())["components"] if c["name"] == "socketio"][0]["host_aliases"]
    socketio, proc, port = realtime(tmp_path, rendered, upstreams, aliases, 8080)
    try:
        # Cross-site WebSocket hijacking stays refused: a foreign page's Origin is passed on as it is.
        assert socketio_connect(port, "erp.example.com", "erp", origin="https://evil.example.net",
                                cookie="sid=s-erp") == ("refused", "Invalid origin")
        # The namespace is the site the Host maps to, not the domain.
        assert socketio_connect(port, "erp.example.com", "erp.example.com", origin="https://erp.example.com",
                                cookie="sid=s-erp") == ("refused", "Invalid namespace")
        assert socketio.callbacks == []
    finally:
        stop(proc)
        socketio.close()


def test_without_the_host_aliases_the_callback_cannot_reach_the_bench(rendered, upstreams, tmp_path):
    """The first reconcile, before the nginx Service exists: the next one adds them (tests/unit)."""
    socketio, proc, port = realtime(tmp_path, rendered, upstreams, [], 8080)
    try:
        assert socketio_connect(port, "erp.example.com", "erp", origin="https://erp.example.com",
                                cookie="sid=s-erp") == (
            "refused", "Unauthorized: fetch failed: getaddrinfo ENOTFOUND erp.example.com")
    finally:
        stop(proc)
        socketio.close()


# What nginx ran before this configuration: frappe_docker's nginx-template.conf
# (resources/core/nginx/nginx-template.conf, as in 2024 and again since
# 2026-03), its /socket.io and @webserver locations and real-IP lines, through
# its nginx-entrypoint.sh's envsubst with the environment the role gave it
# (FRAPPE_SITE_NAME_HEADER=$frappe_site_name beside the sites map,
# UPSTREAM_REAL_IP_ADDRESS=127.0.0.1, recursion off).
TEMPLATE = """
upstream backend-server {
    server ${BACKEND} fail_timeout=0;
}
upstream socketio-server {
    server ${SOCKETIO} fail_timeout=0;
}
map $http_x_forwarded_proto $proxy_x_forwarded_proto {
    default $scheme;
    https https;
}
map $host $frappe_site_name {
    default $host;
    erp.example.com erp;
    crm.example.org crm.acme.test;
}
server {
    listen 8080;
    root /home/frappe/frappe-bench/sites;
    set_real_ip_from ${UPSTREAM_REAL_IP_ADDRESS};
    real_ip_header ${UPSTREAM_REAL_IP_HEADER};
    real_ip_recursive ${UPSTREAM_REAL_IP_RECURSIVE};
    location /socket.io {
        proxy_http_version 1.1;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $proxy_x_forwarded_proto;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header X-Frappe-Site-Name ${FRAPPE_SITE_NAME_HEADER};
        proxy_set_header Origin $proxy_x_forwarded_proto://${FRAPPE_SITE_NAME_HEADER};
        proxy_set_header Host $host;
        proxy_pass http://socketio-server;
    }
    location / {
        try_files /${FRAPPE_SITE_NAME_HEADER}/public/$uri @webserver;
    }
    location @webserver {
        proxy_http_version 1.1;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $proxy_x_forwarded_proto;
        proxy_set_header X-Frappe-Site-Name ${FRAPPE_SITE_NAME_HEADER};
        proxy_set_header Host $host;
        proxy_pass http://backend-server;
    }
}
"""
TEMPLATE_ENV = {"BACKEND": "shop-gunicorn:8000", "SOCKETIO": "shop-socketio:9000",
                "UPSTREAM_REAL_IP_ADDRESS": "127.0.0.1", "UPSTREAM_REAL_IP_HEADER": "X-Forwarded-For",
                "UPSTREAM_REAL_IP_RECURSIVE": "off", "FRAPPE_SITE_NAME_HEADER": "$frappe_site_name"}
DEBIAN_MAIN = """daemon off;
pid /tmp/nginx/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path /tmp/nginx/body;
    proxy_temp_path /tmp/nginx/proxy;
    include /etc/nginx/frappe/frappe.conf;
}
"""


def template_nginx(tmp_path, gunicorn, socketio_port):
    server = subprocess.run(["envsubst", " ".join("${%s}" % v for v in TEMPLATE_ENV)], input=TEMPLATE,
                            capture_output=True, text=True, check=True, env=TEMPLATE_ENV).stdout
    return start_nginx(tmp_path, {"nginx.conf": DEBIAN_MAIN, "frappe.conf": server}, IMAGE_BENCH_DIR,
                       {"shop-gunicorn:8000": gunicorn.port, "shop-socketio:9000": socketio_port}, 8080,
                       "/etc/nginx/frappe", "/tmp/nginx")


def test_the_image_templates_socketio_directives_lose_realtime_on_a_mapped_domain(upstreams, tmp_path):
    """Why the bench renders its own: the template's Origin is the site name, not the Host."""
    aliases = [c for c in live_plan(bench())["components"] if c["name"] == "socketio"][0]["host_aliases"]
    socketio = SocketIO(aliases)
    proc, port = template_nginx(tmp_path, upstreams, socketio.port)
    socketio.services[(SERVICE_IP, 8080)] = port
    try:
        assert socketio_connect(port, "erp.example.com", "erp", origin="https://erp.example.com",
                                cookie="sid=s-erp") == ("refused", "Invalid origin")
        # On its own name, the callback goes to port 80 (https behind TLS), where no Service listens.
        assert socketio_connect(port, "plain.example.com", "plain.example.com", origin="https://plain.example.com",
                                cookie="sid=s-plain") == (
            "refused", "Unauthorized: fetch failed: connect ECONNREFUSED %s:80" % SERVICE_IP)
    finally:
        stop(proc)
        socketio.close()


# -- the client's address, as Frappe reads it ----------------------------------

# A client behind a load balancer (10.0.0.5, in the pod network's private
# ranges) and the ingress controller, which connects from 127.0.0.1 here.
CLIENT_CHAIN = "203.0.113.7, 10.0.0.5"


def test_behind_an_ingress_frappe_sees_the_client_by_default(rendered, upstreams, tmp_path):
    proc, port = run_nginx(tmp_path, rendered, upstreams, 1)
    try:
        status, body = http_get(port, "erp.example.com", headers={"X-Forwarded-For": CLIENT_CHAIN})
        assert status == 200 and '"request_ip": "203.0.113.7"' in body, body
        assert upstreams.requests[-1]["X-Forwarded-For"] == "203.0.113.7"
    finally:
        stop(proc)
    conf = by_name(rendered, "ConfigMap", "shop-nginx")["data"]["frappe.conf"]
    for address in REAL_IP_DEFAULTS["upstreamRealIPAddresses"]:
        assert "set_real_ip_from %s;" % address in conf
    assert "real_ip_recursive on;" in conf and "real_ip_header X-Forwarded-For;" in conf


def test_with_the_images_template_frappe_sees_a_proxy(upstreams, tmp_path):
    socketio = SocketIO()
    proc, port = template_nginx(tmp_path, upstreams, socketio.port)
    try:
        body = http_get(port, "erp.example.com", headers={"X-Forwarded-For": CLIENT_CHAIN})[1]
        assert '"request_ip": "10.0.0.5"' in body, body
    finally:
        stop(proc)
        socketio.close()


def test_the_bench_settings_decide_whom_nginx_believes(upstreams, tmp_path):
    # Only the load balancer's range is trusted: the connection from 127.0.0.1 is not, so its header is ignored.
    (tmp_path / "render").mkdir()
    objects = render(tmp_path / "render", bench(nginx={"upstreamRealIPAddresses": ["10.0.0.0/24"],
                                                       "upstreamRealIPRecursive": False}), *SITES)
    conf = by_name(objects, "ConfigMap", "shop-nginx")["data"]["frappe.conf"]
    assert "set_real_ip_from 10.0.0.0/24;" in conf and "127.0.0.1" not in conf.split("real_ip_header")[0].split(
        "set_real_ip_from", 1)[1] and "real_ip_recursive off;" in conf
    (tmp_path / "run").mkdir()
    proc, port = run_nginx(tmp_path / "run", objects, upstreams, 1)
    try:
        body = http_get(port, "erp.example.com", headers={"X-Forwarded-For": CLIENT_CHAIN})[1]
        assert '"request_ip": "127.0.0.1"' in body, body
    finally:
        stop(proc)
