"""Shared set-up for the unit tests (no cluster needed).

The collection is made importable by tests/conftest.py.

* Fixtures for module tests: ``clean_k8s_env`` (no K8S_AUTH_*/KUBECONFIG/proxy
  from the developer's shell), ``module_args`` (hand arguments to an
  AnsibleModule), ``run_module`` (run a module's main() with arguments and
  return its exit_json/fail_json result) and ``fake_api`` (a tiny HTTP server
  that answers like a Kubernetes API server). Tests use these fixtures rather
  than importing from this file.
"""

import contextlib
import json
import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------

_ENV_PREFIXES = ("K8S_AUTH_",)
_ENV_NAMES = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
              "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def clean_k8s_env(monkeypatch, tmp_path):
    """No Kubernetes connection settings leak in from the developer's shell; HOME is empty."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # kubernetes.core's client caches discovery in the temporary directory by
    # host: a fake API server on a port an earlier test used must not find
    # that test's cache.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return home


# ---------------------------------------------------------------------------
# Running a module's main()
# ---------------------------------------------------------------------------

class ModuleExit(Exception):
    """Raised instead of exit_json/fail_json; ``result`` holds the keyword arguments."""

    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


@contextlib.contextmanager
def _module_args(args):
    """Hand args to AnsibleModule, on ansible-core 2.18 and on later releases."""
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core >= 2.19
    except ImportError:
        patch_module_args = None
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


@pytest.fixture
def module_args():
    """module_args(args): context manager that hands args to the next AnsibleModule()."""
    return _module_args


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args, check_mode=False, diff=False) -> (failed, result)."""
    from ansible.module_utils import basic

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, failed=False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        kwargs["failed"] = True
        raise ModuleExit(kwargs, failed=True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(module, args, check_mode=False, diff=False):
        args = dict(args)
        args["_ansible_check_mode"] = check_mode
        args["_ansible_diff"] = diff
        with _module_args(args):
            try:
                module.main()
            except ModuleExit as exc:
                return exc.failed, exc.result
        raise AssertionError("the module returned without exit_json/fail_json")

    return run


# ---------------------------------------------------------------------------
# A fake Kubernetes API server
# ---------------------------------------------------------------------------

class FakeApiServer:
    """Answers requests from a route table; records every request.

    routes[(METHOD, path)] is (status, body) or a callable(request) -> (status, body),
    where request is a dict with method, path, headers (list of pairs) and body.
    Anything else answers 404 with a metav1.Status body.
    """

    # What kubernetes.core's client asks first (its discovery): the server's
    # version, the core group's resources (Secrets) and the API groups, of
    # which vyogo.tech/v1alpha1 (a test routes its resource list).
    DISCOVERY = {
        ("GET", "/version"): (200, {"major": "1", "minor": "36", "gitVersion": "v1.36.3"}),
        ("GET", "/api"): (200, {"kind": "APIVersions", "versions": ["v1"]}),
        ("GET", "/api/v1"): (200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
             "verbs": ["create", "get", "list", "patch"]}]}),
        ("GET", "/apis"): (200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "vyogo.tech", "versions": [{"groupVersion": "vyogo.tech/v1alpha1", "version": "v1alpha1"}],
             "preferredVersion": {"groupVersion": "vyogo.tech/v1alpha1", "version": "v1alpha1"}}]}),
    }

    def __init__(self):
        self.routes = dict(self.DISCOVERY)
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": list(self.headers.items()),
                    "body": json.loads(raw) if raw else None,
                }
                if (self.command, self.path) not in FakeApiServer.DISCOVERY:
                    server.requests.append(request)
                route = server.routes.get((self.command, self.path))
                if route is None:
                    status, body = 404, status_body(404, "NotFound", "the server could not find the requested resource")
                elif callable(route):
                    status, body = route(request)
                else:
                    status, body = route
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @staticmethod
    def status(code, reason, message):
        """A metav1.Status failure body."""
        return status_body(code, reason, message)

    def header_values(self, request, name):
        return [v for k, v in request["headers"] if k.lower() == name.lower()]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": message, "reason": reason, "code": code}


@pytest.fixture
def fake_api(clean_k8s_env):
    server = FakeApiServer()
    try:
        yield server
    finally:
        server.close()
