"""A real nginx (Debian's) with the bench's routing as the role renders it.

Frappe serves the site directory named by X-Frappe-Site-Name. The bench's own
nginx configuration (ConfigMap <bench>-nginx, after frappe_docker's
resources/core/nginx/nginx-template.conf) sets it from a map of the domains
served under another site name; a real nginx loads the rendered files
(tests/harness/frappe_web.py) in front of a gunicorn stand-in that answers
with the site it was asked for. The last test keeps what nginx does without
the map: frappe_docker's template with FRAPPE_SITE_NAME_HEADER=$host.
"""

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import urllib.request

import pytest

from frappe_web import Gunicorn, http_get, stop, wait_listening
from frappe_web import start_nginx as start_real_nginx
from podscripts import IMAGE_BENCH_DIR, render

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

BENCH = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": "shop"},
         "spec": {"frappeVersion": "version-15", "domainConfig": {"suffix": "example.com"}}}


def site(name, site_name, **spec):
    body = {"benchRef": {"name": "shop"}, "siteName": site_name, "dbConfig": {"mariadbRef": {"name": "mariadb"}}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": name, "namespace": "shop"},
            "spec": body}


SITES = [site("erp", "erp"),  # erp.example.com, by the bench's suffix
         site("crm", "crm.acme.test", domain="crm.example.org"),
         site("plain", "plain.example.com")]  # served on its own name

# The directives of frappe_docker's template that pick the site, with its variables.
SERVER_TEMPLATE = """
upstream backend-server {
    server ${BACKEND} fail_timeout=0;
}
server {
    listen 127.0.0.1:${NGINX_LISTEN_PORT};
    root ${SITES_DIR};
    location / {
        try_files /${FRAPPE_SITE_NAME_HEADER}/public/$uri @webserver;
    }
    location @webserver {
        proxy_set_header X-Frappe-Site-Name ${FRAPPE_SITE_NAME_HEADER};
        proxy_set_header Host $host;
        proxy_pass http://backend-server;
    }
}
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the handler's name)
        body = (self.headers.get("X-Frappe-Site-Name") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("routing"), BENCH, *SITES)


def nginx_of(objects):
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "shop-nginx")
    return deployment, deployment["spec"]["template"]["spec"]["containers"][0]


def start_nginx(tmp_path, env, routes_conf, upstream):
    """nginx with conf.d/frappe.conf (the template through envsubst) and the mounted map beside it."""
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package nginx-light; hack/setup-env.sh installs it)")
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    sites = tmp_path / "sites"
    (sites / "erp" / "public" / "files").mkdir(parents=True)
    (sites / "erp" / "public" / "files" / "logo.txt").write_text("erp's own file")
    port = free_port()
    variables = dict(env, BACKEND="127.0.0.1:%d" % upstream, NGINX_LISTEN_PORT=str(port), SITES_DIR=str(sites))
    # Only these variables, as the image's entrypoint lists its own: nginx's $host, $uri stay.
    names = ("BACKEND", "NGINX_LISTEN_PORT", "SITES_DIR", "FRAPPE_SITE_NAME_HEADER")
    frappe_conf = subprocess.run(["envsubst", " ".join("${%s}" % v for v in names)], input=SERVER_TEMPLATE,
                                 capture_output=True, text=True, check=True, env=variables).stdout
    (conf_d / "frappe.conf").write_text(frappe_conf)
    if routes_conf is not None:
        (conf_d / "frappe-sites.conf").write_text(routes_conf)
    # Started as root, nginx's workers would run as nobody, who cannot read pytest's directories.
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "") +
        "pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n  access_log off;\n"
        "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n  include %s/*.conf;\n}\n"
        % (tmp_path, tmp_path, tmp_path, tmp_path, conf_d))
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return wait_listening(proc, port, lambda: proc.stdout.read().decode(errors="replace")), port


def get(port, host, path="/"):
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers={"Host": host})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


def test_the_role_renders_the_map_into_the_benchs_nginx_configuration(rendered):
    conf = next(o for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "shop-nginx")["data"][
        "frappe.conf"]
    site_map = conf.split("map $host $frappe_site_name {", 1)[1].split("}", 1)[0]
    assert site_map.split("\n")[1:-1] == ["    default $host;", "    crm.example.org crm.acme.test;",
                                          "    erp.example.com erp;"]
    # Every place the template names the site takes the map's answer.
    assert conf.count("proxy_set_header X-Frappe-Site-Name $frappe_site_name;") == 2  # /socket.io, @webserver
    assert conf.count("try_files /$frappe_site_name/public/$uri @webserver;") == 2
    assert "try_files /$frappe_site_name/$1 =404;" in conf  # /protected, X-Accel-Redirect
    # No other ConfigMap of nginx: the map is part of its configuration.
    assert not [o for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "shop-nginx-routes"]


def test_a_real_nginx_sends_each_domain_to_its_site(rendered, tmp_path):
    gunicorn = Gunicorn({"erp": {}, "crm.acme.test": {}, "plain.example.com": {}})
    config = next(o for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "shop-nginx")
    _deployment, container = nginx_of(rendered)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    proc, port = start_real_nginx(tmp_path, config["data"], IMAGE_BENCH_DIR,
                                  {"shop-gunicorn:8000": gunicorn.port, "shop-socketio:9000": gunicorn.port},
                                  container["ports"][0]["containerPort"], mounts["nginx-config"], mounts["nginx-run"])
    (tmp_path / "sites" / "erp" / "public" / "files").mkdir(parents=True)
    (tmp_path / "sites" / "erp" / "public" / "files" / "logo.txt").write_text("erp's own file")

    def site_of(host, path="/"):
        return json.loads(http_get(port, host, path)[1])["site"]
    try:
        assert site_of("erp.example.com") == "erp"
        assert site_of("crm.example.org") == "crm.acme.test"
        assert site_of("plain.example.com") == "plain.example.com"
        assert site_of("crm.acme.test") == "crm.acme.test"
        # Static files come from the mapped site's directory too.
        assert http_get(port, "erp.example.com", "/files/logo.txt") == (200, "erp's own file")
    finally:
        stop(proc)
        gunicorn.close()


def test_without_the_map_the_domain_would_name_no_site(upstream, tmp_path):
    """What the Go operator does (FRAPPE_SITE_NAME_HEADER=$host): Frappe would look for a site erp.example.com."""
    proc, port = start_nginx(tmp_path, {"FRAPPE_SITE_NAME_HEADER": "$host"}, None, upstream)
    try:
        assert get(port, "erp.example.com") == "erp.example.com"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
