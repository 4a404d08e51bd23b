"""A stopping nginx pod finishes what it serves: the rendered preStop run against a real nginx (Debian's) on the
bench's own configuration, with a request in flight to a slow gunicorn stand-in."""

import http.server
import os
import subprocess
import threading
import time
from pathlib import Path

from bench_python import python as bench_python
from frappe_web import NGINX, http_get, start_nginx, stop
from podscripts import IMAGE_BENCH_DIR, render

BENCH = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": "shop"},
         "spec": {"frappeVersion": "version-15"}}
# Longer than the preStop's wait for the Service to let go of the pod: the request is still running when
# nginx is asked to quit.
SLOW_SECONDS = 7


class SlowBackend:
    """gunicorn answering every request after SLOW_SECONDS."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the handler's name)
                time.sleep(SLOW_SECONDS if self.path.startswith("/slow") else 0)
                body = b"done"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def by_name(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_nginx_serves_through_the_pre_stop_and_quits_after_its_last_request(tmp_path):
    rendered = render(tmp_path / "render", BENCH)
    pod = by_name(rendered, "Deployment", "shop-nginx")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    backend = SlowBackend()
    proc, port = start_nginx(tmp_path, by_name(rendered, "ConfigMap", "shop-nginx")["data"], IMAGE_BENCH_DIR,
                             {"shop-gunicorn:8000": backend.port, "shop-socketio:9000": backend.port},
                             container["ports"][0]["containerPort"], mounts["nginx-config"], mounts["nginx-run"])
    try:
        answers = {}
        in_flight = threading.Thread(target=lambda: answers.update(slow=http_get(port, "shop.example.com", "/slow")))
        in_flight.start()
        time.sleep(0.5)
        # The pod's preStop as rendered, on the paths the harness gave the configuration and the pid file.
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        script = (command[-1].replace(mounts["nginx-config"], str(tmp_path / "conf"))
                  .replace(mounts["nginx-run"], str(tmp_path / "run")).replace("nginx -c", NGINX + " -c"))
        started = time.monotonic()
        pre_stop = subprocess.Popen(command[:-1] + [script], env=dict(os.environ, PATH=os.environ["PATH"]))
        # While the Service lets go of the pod, it still takes new requests.
        time.sleep(1)
        assert http_get(port, "shop.example.com", "/now") == (200, "done")
        assert pre_stop.wait(timeout=SLOW_SECONDS + 10) == 0
        took = time.monotonic() - started
        in_flight.join(timeout=5)
        # The request that was running when nginx was told to quit got its answer; nginx then exited by itself.
        assert answers["slow"] == (200, "done")
        assert proc.wait(timeout=5) == 0
        assert took >= SLOW_SECONDS - 1, took
        assert pod["terminationGracePeriodSeconds"] > took
    finally:
        if proc.poll() is None:
            stop(proc)
        backend.close()


def test_gunicorn_reads_the_pods_graceful_timeout_beside_frappe_dockers_command_line(tmp_path):
    rendered = render(tmp_path / "render", BENCH)
    pod = by_name(rendered, "Deployment", "shop-gunicorn")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    # The pod runs the image's default command (no args): frappe_docker's images/production/Containerfile CMD.
    assert "args" not in container and "command" not in container
    app = tmp_path / "bench" / "frappe"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "app.py").write_text("def application(environ, start_response):\n    start_response('200 OK', [])\n"
                                "    return [b'ok']\n")
    env = dict(os.environ, **dict((e["name"], e["value"]) for e in container["env"]))
    resolved = subprocess.run(
        [str(Path(bench_python()).parent / "gunicorn"), "--chdir=%s" % (tmp_path / "bench"), "--bind=127.0.0.1:0",
         "--threads=4", "--workers=2", "--worker-class=gthread", "--worker-tmp-dir=/dev/shm", "--timeout=120",
         "--preload", "--print-config", "frappe.app:application"],
        env=env, capture_output=True, text=True, check=True).stdout
    settings = dict(line.split("=", 1) for line in resolved.splitlines() if "=" in line)
    settings = dict((k.strip(), v.strip()) for k, v in settings.items())
    # A stopping gunicorn lets a request run as long as a running one may (--timeout), not its default 30 s.
    assert settings["graceful_timeout"] == settings["timeout"] == "120"
    pre_stop = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + 120
