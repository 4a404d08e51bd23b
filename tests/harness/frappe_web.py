"""The web side of a bench on loopback: a real nginx with the rendered configuration, and Frappe's two upstreams.

* ``start_nginx(tmp_path, files, ...)`` runs Debian's nginx (the package
  frappe_docker's images/production/Containerfile installs) on the files of
  the bench's nginx ConfigMap, as rendered. Only what the cluster provides is
  put in place of the pod's paths and Service names, each replacement
  asserted: the ConfigMap's mount and the emptyDir become directories here,
  the gunicorn and socket.io Services become the stand-ins' loopback ports,
  nginx listens on a free loopback port instead of the pod's 8080, and the
  sites volume is a directory here. Everything else is loaded as rendered.

* ``Gunicorn`` answers as Frappe's WSGI application would for what these
  tests ask, per site: the site comes from X-Frappe-Site-Name (frappe/app.py
  ``init_request``: ``frappe.init(site=site)`` with the header, 404 for a site
  directory that does not exist); ``/api/method/frappe.realtime.get_user_info``
  answers ``{"message": {"user", "user_type", ...}}`` for the session of the
  ``sid`` cookie, Guest for an unknown one (frappe/realtime.py
  ``get_user_info``, frappe/sessions.py ``Session(resume=True)``); any other
  path answers the site and the client address Frappe would log,
  ``frappe.local.request_ip``: the first X-Forwarded-For entry, else
  REMOTE_ADDR (frappe/auth.py ``HTTPRequest.set_request_ip``).

* ``SocketIO`` is Frappe's socket.io server (frappe realtime/index.js) for the
  Engine.IO v4 polling transport: a handshake GET opens a session and keeps
  its request (socket.io's ``socket.request``), a POSTed CONNECT packet
  ``40/<namespace>,`` runs ``authenticate_with_frappe``
  (realtime/middlewares/authenticate.js) on that request, and the next GET
  returns ``40/<ns>,{"sid":..}`` or ``44/<ns>,{"message":..}``. The
  middleware's checks, in its order: the namespace is the site (X-Frappe-Site-Name,
  ``get_site_name``), hostname(Origin) equals hostname(Host) (``get_hostname``:
  scheme and port ignored), a cookie with ``sid``; then it fetches
  ``<Origin>/api/method/frappe.realtime.get_user_info`` with ``Cookie: sid=..``
  (realtime/utils.js ``get_url``: the Origin as it is, without
  ``server_ip`` or developer mode) and any failure of that request is
  ``Unauthorized: <error>``. The fetch resolves the Origin's host the way the
  pod does: only the names of its ``hostAliases`` (no DNS here), and the
  Service port is mapped onto nginx's loopback port like the Service's
  targetPort; anything else fails as an unreachable address does.
"""

import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.cookies import SimpleCookie

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def get_hostname(url):
    """frappe realtime/utils.js (and middlewares/authenticate.js) get_hostname, line for line."""
    if not url:
        return None
    if "://" in url:
        url = url.split("/")[2]
    return url[:url.index(":")] if ":" in url else url


class Gunicorn:
    """Frappe's WSGI application per site (see the module docstring); `sessions` is site -> {sid: user}."""

    def __init__(self, sessions):
        self.sessions = sessions
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the handler's name)
                outer.requests.append(dict(self.headers.items(), path=self.path))
                site = self.headers.get("X-Frappe-Site-Name") or ""
                if site not in outer.sessions:
                    return self.answer(404, {"exc_type": "IncorrectSitePath",
                                             "message": "%s does not exist" % site})
                if self.path.split("?")[0] == "/api/method/frappe.realtime.get_user_info":
                    cookie = SimpleCookie(self.headers.get("Cookie") or "")
                    sid = cookie["sid"].value if "sid" in cookie else None
                    user = outer.sessions[site].get(sid, "Guest")
                    return self.answer(200, {"message": {
                        "user": user, "user_type": "System User" if user != "Guest" else "Website User",
                        "installed_apps": ["frappe", "erpnext"]}})
                forwarded = self.headers.get("X-Forwarded-For")
                request_ip = forwarded.split(",", 1)[0].strip() if forwarded else self.client_address[0]
                return self.answer(200, {"site": site, "request_ip": request_ip})

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _serve(Handler)
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()


class SocketIO:
    """Frappe's socket.io server with authenticate.js's checks (see the module docstring).

    `host_aliases` are the socket.io pod's (ip -> hostnames); `services` maps
    (ip, port) to the loopback port that answers for it.
    """

    def __init__(self, host_aliases=(), services=None):
        self.hosts = dict((name, alias["ip"]) for alias in host_aliases for name in alias["hostnames"])
        self.services = services or {}
        self.sessions = {}
        self.callbacks = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                sid = (query.get("sid") or [None])[0]
                if sid is None:
                    # Engine.IO handshake: the request socket.io keeps as socket.request.
                    sid = uuid.uuid4().hex
                    outer.sessions[sid] = {"headers": dict((k.lower(), v) for k, v in self.headers.items()),
                                           "packets": []}
                    return self.answer(200, "0" + json.dumps({"sid": sid, "upgrades": [], "pingInterval": 25000,
                                                              "pingTimeout": 20000, "maxPayload": 1000000}))
                session = outer.sessions.get(sid)
                if session is None:
                    return self.answer(400, '{"code":1,"message":"Session ID unknown"}')
                packets, session["packets"] = session["packets"], []
                return self.answer(200, "\x1e".join(packets) or "6")

            def do_POST(self):  # noqa: N802
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                session = outer.sessions.get((query.get("sid") or [""])[0])
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if session is None:
                    return self.answer(400, '{"code":1,"message":"Session ID unknown"}')
                if body.startswith("40"):
                    namespace = body[2:].split(",", 1)[0] or "/"
                    error = outer.authenticate(namespace, session["headers"])
                    session["packets"].append(
                        "44%s,%s" % (namespace, json.dumps({"message": error})) if error else
                        "40%s,%s" % (namespace, json.dumps({"sid": uuid.uuid4().hex})))
                return self.answer(200, "ok")

            def answer(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _serve(Handler)
        self.port = self.server.server_address[1]

    def authenticate(self, namespace, headers):
        """authenticate_with_frappe: None when the connection is accepted, else the error's message."""
        namespace = namespace[1:]
        site = get_hostname(headers.get("x-frappe-site-name")) or get_hostname(headers.get("origin")) or \
            get_hostname(headers.get("host"))
        if namespace != site:
            return "Invalid namespace"
        if get_hostname(headers.get("host")) != get_hostname(headers.get("origin")):
            return "Invalid origin"
        if not headers.get("cookie"):
            return "No cookie transmitted."
        cookie = SimpleCookie(headers["cookie"])
        if "sid" not in cookie and not headers.get("authorization"):
            return "No authentication method used. Use cookie or authorization header."
        url = headers["origin"] + "/api/method/frappe.realtime.get_user_info"
        try:
            message = self.fetch(url, {"Cookie": "sid=%s" % cookie["sid"].value})["message"]
            self.callbacks.append({"url": url, "site": site, "user": message["user"]})
        except Exception as exc:  # fetch(...).then(res => res.json()).then(({message}) => ...) .catch
            return "Unauthorized: %s" % exc
        return None

    def fetch(self, url, headers):
        """Node's fetch from the socket.io pod: hostAliases resolve, the Service forwards its port."""
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme != "http":
            raise ConnectionError("fetch failed: %s leaves the cluster (no TLS inside it)" % parsed.scheme)
        ip = self.hosts.get(parsed.hostname)
        if ip is None:
            raise ConnectionError("fetch failed: getaddrinfo ENOTFOUND %s" % parsed.hostname)
        target = self.services.get((ip, parsed.port or 80))
        if target is None:
            raise ConnectionError("fetch failed: connect ECONNREFUSED %s:%s" % (ip, parsed.port or 80))
        conn = http.client.HTTPConnection("127.0.0.1", target, timeout=5)
        try:
            # fetch sends the URL's host (and a port that is not the default) as Host.
            conn.request("GET", parsed.path + (("?" + parsed.query) if parsed.query else ""),
                         headers=dict(headers, Host=parsed.netloc))
            response = conn.getresponse()
            return json.loads(response.read().decode())
        finally:
            conn.close()

    def close(self):
        self.server.shutdown()


def socketio_connect(port, host, namespace, origin=None, cookie=None):
    """A browser's socket.io client through nginx: handshake, CONNECT to the namespace, then its answer."""
    def request(method, path, body=None):
        headers = {"Host": host}
        if origin:
            headers["Origin"] = origin
        if cookie:
            headers["Cookie"] = cookie
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    status, body = request("GET", "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith("0"), (status, body)
    sid = json.loads(body[1:])["sid"]
    status, body = request("POST", "/socket.io/?EIO=4&transport=polling&sid=%s" % sid, "40/%s," % namespace)
    assert (status, body) == (200, "ok"), (status, body)
    status, body = request("GET", "/socket.io/?EIO=4&transport=polling&sid=%s" % sid)
    assert status == 200, (status, body)
    kind, payload = body[:2], json.loads(body.split(",", 1)[1])
    return ("connected", payload["sid"]) if kind == "40" else ("refused", payload["message"])


def _replace(text, old, new, what):
    assert old in text, "the rendered %s has no %r" % (what, old)
    return text.replace(old, new)


def start_nginx(tmp_path, files, bench_dir, upstreams, pod_port, config_dir, run_dir):
    """nginx on loopback with the rendered files; `upstreams` maps each Service address to a loopback port.

    Returns (process, port).
    """
    if NGINX is None:
        import pytest
        pytest.skip("nginx is not installed (Debian package nginx-light; hack/setup-env.sh installs it)")
    conf = tmp_path / "conf"
    run = tmp_path / "run"
    sites = tmp_path / "sites"
    for d in (conf, run, sites):
        d.mkdir(exist_ok=True)
    port = free_port()
    for name, text in files.items():
        text = _replace(text, config_dir, str(conf), name) if config_dir in text else text
        text = _replace(text, run_dir, str(run), name) if run_dir in text else text
        if "upstream backend-server" in text:
            for service, local in upstreams.items():
                text = _replace(text, "server %s " % service, "server 127.0.0.1:%d " % local, name)
            text = _replace(text, "listen %d;" % pod_port, "listen 127.0.0.1:%d;" % port, name)
            text = _replace(text, "root %s/sites;" % bench_dir, "root %s;" % sites, name)
        if name == "nginx.conf" and os.geteuid() == 0:
            # Started as root, nginx's workers would run as nobody, who cannot read pytest's
            # directories; the pod starts it as the frappe uid, where there is no such switch.
            text = "user root;\n" + text
        (conf / name).write_text(text)
    log = (tmp_path / "nginx.log").open("wb")
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    return wait_listening(proc, port, lambda: (tmp_path / "nginx.log").read_text(errors="replace")), port


def wait_listening(proc, port, output):
    """proc once it listens on 127.0.0.1:port; its `output()` in the error when it exits or never listens."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("nginx exited: %s" % output())
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("nginx did not listen on %d: %s" % (port, output()))


def stop(proc):
    proc.terminate()
    proc.wait(timeout=10)


def http_get(port, host, path="/", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers or {}, Host=host))
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()
