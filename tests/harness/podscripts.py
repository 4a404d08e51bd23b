"""Runs the Frappe containers of rendered objects under bash, on this machine.

The local cluster's kwok nodes never start a container, so nothing there shows
what a pod's command would do. This harness does, for the shell side of it:

* ``render(tmp_path, *objects)`` renders manifests with ``playbooks/render.yml``
  (no cluster) and returns the objects the role would apply.
* ``ImageBench(root)`` lays out a directory like the bench of a frappe_docker
  production image (``images/production/Containerfile``): ``apps/frappe``,
  ``apps/erpnext``, the built assets in ``assets/`` outside ``sites/``, an
  empty ``sites/`` (a new PersistentVolumeClaim), ``logs/``; and a ``bin/``
  of stand-ins for what the image provides:

  - ``entrypoint.sh``, the image ENTRYPOINT (frappe_docker
    ``resources/core/main-entrypoint.sh``): umask 0002, ``sites/assets``
    linked to the built assets, then ``exec "$@"``;
  - ``mariadb``, the image's MariaDB client: records its call and answers a
    query with ``HARNESS_MARIADB_ANSWER`` (default ``0``), or runs the real
    client of this machine with ``HARNESS_MARIADB_REAL=1``;
  - ``start.sh``, the image CMD (gunicorn), ``nginx-entrypoint.sh``, ``node``:
    record that they ran and with which environment, then exit; ``nginx``
    (Debian's binary) also requires ``-c`` with an absolute path;
  - ``bench``: records its arguments and reproduces what matters of Frappe's
    ``bench set-config`` (frappe/commands/site.py, frappe/installer.py): it
    must run in the bench directory, it *reads* ``sites/common_site_config.json``
    before writing it (a missing file is FileNotFoundError), merges one key,
    turns ``"0"``/``"1"``/``"true"``/``"false"`` into numbers and booleans, and
    with ``-p`` parses the value as a Python literal. ``worker`` and
    ``schedule`` only record.

* ``run_container(bench, obj, container, secrets)`` starts a container as the
  kubelet would: ``command`` replaces the image ENTRYPOINT, ``args`` replace
  its CMD; the environment is resolved like the kubelet does (``$(VAR)`` of
  earlier variables expanded, ``$$`` for a literal ``$``, an unresolvable
  reference left as it is, Secret keys looked up, a missing optional key
  leaves the variable unset, a missing required key fails the start). The
  image's bench path ``/home/frappe/frappe-bench`` is mapped onto the
  harness directory.

It is not the real image: it proves that the scripts do what the docs claim
on the inputs that broke them before (an empty volume, Secrets without some
keys, passwords with URL delimiters).
"""

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
IMAGE_BENCH_DIR = "/home/frappe/frappe-bench"
IMAGE_ENTRYPOINT = ["entrypoint.sh"]
IMAGE_CMD = ["start.sh"]
APPS = ("frappe", "erpnext")


class StartError(Exception):
    """The kubelet would not start the container (CreateContainerConfigError)."""


def render(tmp_path, *objects, keda=True, extra_vars=None):
    """Objects that playbooks/render.yml writes for a manifest of `objects` (no cluster)."""
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    out = tmp_path / "rendered"
    variables = {"frappe_manifest": str(manifest), "frappe_render_dir": str(out), "frappe_keda_available": keda}
    variables.update(extra_vars or {})
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(REPO / "playbooks" / "render.yml"),
         "-e", json.dumps(variables)],
        capture_output=True, text=True, check=False, cwd=str(tmp_path),
        env={k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_") and k != "KUBECONFIG"})
    if proc.returncode != 0:
        raise RenderError(proc.stdout[-4000:] + proc.stderr[-2000:])
    return [doc for doc in yaml.safe_load_all((out / "manifests.yaml").read_text()) if doc]


class RenderError(Exception):
    """render.yml failed; the message is the end of its output."""


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def frappe_containers(objects):
    """(object, container) for every container that runs the bench image (not Redis)."""
    for obj in objects:
        if obj["kind"] not in ("Deployment", "Job", "StatefulSet"):
            continue
        for container in pod_spec(obj)["containers"]:
            if container.get("workingDir") == IMAGE_BENCH_DIR:
                yield obj, container


_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value, env):
    """The kubelet's $(VAR) expansion: known names replaced, $$ -> $, the rest left as is."""
    def sub(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)
    return _REF.sub(sub, value)


def resolve_env(container, secrets, config_maps=None):
    """The environment the kubelet gives a container (env only; envFrom is not used here)."""
    env = {}
    for var in container.get("env", []):
        name = var["name"]
        if "value" in var:
            env[name] = expand(var["value"], env)
            continue
        source = var.get("valueFrom", {})
        ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
        if ref is None:
            raise StartError("%s: unsupported valueFrom %r" % (name, source))
        store = secrets if "secretKeyRef" in source else (config_maps or {})
        data = store.get(ref["name"])
        if data is None or ref["key"] not in data:
            if ref.get("optional"):
                continue
            raise StartError("%s: %s %s has no key %s" % (
                name, "Secret" if "secretKeyRef" in source else "ConfigMap", ref["name"], ref["key"]))
        env[name] = data[ref["key"]]
    return env


class ImageBench:
    """A directory laid out like the bench of a frappe_docker production image."""

    def __init__(self, root):
        self.root = Path(root)
        self.bench = self.root / "frappe-bench"
        self.bin = self.root / "bin"
        self.log = self.root / "calls.jsonl"
        for app in APPS:
            (self.bench / "apps" / app / app).mkdir(parents=True, exist_ok=True)
        (self.bench / "apps" / "frappe" / "socketio.js").write_text("// socket.io server\n")
        (self.bench / "assets" / "frappe" / "dist").mkdir(parents=True, exist_ok=True)
        (self.bench / "sites").mkdir(exist_ok=True)
        (self.bench / "logs").mkdir(exist_ok=True)
        self.bin.mkdir(exist_ok=True)
        for name, text in _STAND_INS.items():
            path = self.bin / name
            path.write_text(text.replace("@PYTHON@", sys.executable))
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    @property
    def sites(self):
        return self.bench / "sites"

    @property
    def common_site_config(self):
        path = self.sites / "common_site_config.json"
        return json.loads(path.read_text()) if path.exists() else None

    def calls(self):
        """Every stand-in call so far: dicts with program, argv, cwd, env."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def map_path(self, value):
        return value.replace(IMAGE_BENCH_DIR, str(self.bench))


class ContainerRun:
    def __init__(self, proc, calls):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.calls = calls

    def explain(self):
        return "rc=%s\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.stdout[-3000:], self.stderr[-3000:])


def argv(container):
    """What the container runtime executes: command replaces ENTRYPOINT, args replace CMD."""
    entrypoint = container.get("command") or IMAGE_ENTRYPOINT
    if "args" in container:
        cmd = container["args"]
    else:
        cmd = [] if container.get("command") else IMAGE_CMD
    return list(entrypoint) + list(cmd)


def run_container(bench, obj, container, secrets=None, timeout=60, harness_env=None):
    """Run `container` of `obj` in `bench` (an ImageBench) as the kubelet would start it."""
    env = resolve_env(container, secrets or {})
    proc_env = {bench.map_path(k): bench.map_path(v) for k, v in env.items()}
    proc_env.update({
        "PATH": "%s:/usr/bin:/bin" % bench.bin,
        "HOME": str(bench.root),
        "HARNESS_LOG": str(bench.log),
        "HARNESS_BENCH": str(bench.bench),
        "LANG": "C.UTF-8",
    })
    # Settings of the stand-ins (HARNESS_MARIADB_ANSWER, HARNESS_MARIADB_REAL).
    proc_env.update(harness_env or {})
    before = len(bench.calls())
    command = [expand(bench.map_path(a), env) for a in argv(container)]
    cwd = bench.map_path(container.get("workingDir", str(bench.root)))
    proc = subprocess.run(command, cwd=cwd, env=proc_env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return ContainerRun(proc, bench.calls()[before:])


_RECORD = textwrap.dedent('''\
    import json, os, sys
    def record(program, **extra):
        entry = {"program": program, "argv": sys.argv[1:], "cwd": os.getcwd(),
                 "env": {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")
                         and k not in ("PATH", "HOME", "LANG", "PWD", "SHLVL", "_")}}
        entry.update(extra)
        with open(os.environ["HARNESS_LOG"], "a") as log:
            log.write(json.dumps(entry) + "\\n")
    ''')

# `bench new-site` with the options Frappe version-15 declares (frappe/commands/site.py):
# click refuses any other (version-15 has no --db-user), an existing site
# directory is "already exists" (exit 1, unless --force), and the site's
# site_config.json gets db_name, db_password and db_type (and db_host, db_port
# when given), as frappe.installer.make_site_config writes them.
_NEW_SITE = textwrap.dedent('''\
    import argparse
    def new_site(argv):
        class Refuse(argparse.ArgumentParser):
            def error(self, message):
                sys.stderr.write("Error: No such option or bad value: %s\\n" % message)
                sys.exit(2)
        p = Refuse(prog="bench new-site", add_help=False, allow_abbrev=False)
        p.add_argument("site")
        for opt in ("--db-name", "--db-password", "--db-host", "--db-port", "--admin-password",
                    "--mariadb-user-host-login-scope"):
            p.add_argument(opt)
        p.add_argument("--db-type", choices=["mariadb", "postgres"], default="mariadb")
        p.add_argument("--db-root-username", "--mariadb-root-username")
        p.add_argument("--db-root-password", "--mariadb-root-password")
        p.add_argument("--db-socket", "--mariadb-db-socket")
        p.add_argument("--source-sql", "--source_sql")
        p.add_argument("--install-app", action="append", default=[])
        for flag in ("--no-mariadb-socket", "--verbose", "--force", "--set-default"):
            p.add_argument(flag, action="store_true")
        p.add_argument("--setup-db", dest="setup_db", action="store_true", default=True)
        p.add_argument("--no-setup-db", dest="setup_db", action="store_false")
        o = p.parse_args(argv)
        site_dir = os.path.join("sites", o.site)
        if os.path.exists(site_dir) and not o.force:
            print("Site %s already exists" % o.site)
            sys.exit(1)
        if o.setup_db and not o.db_root_password:
            sys.exit("bench new-site: would prompt for the database root password (no terminal)")
        for app in o.install_app:
            if not os.path.isdir(os.path.join("apps", app)):
                sys.exit("App %s not found in apps/" % app)
        os.makedirs(os.path.join(site_dir, "private", "backups"), exist_ok=True)
        config = {"db_name": o.db_name, "db_password": o.db_password, "db_type": o.db_type}
        if o.db_host:
            config["db_host"] = o.db_host
        if o.db_port:
            config["db_port"] = int(o.db_port)
        with open(os.path.join(site_dir, "site_config.json"), "w") as f:
            f.write(json.dumps(config, indent=1, sort_keys=True))
    ''')

_STAND_INS = {
    # The mariadb client of the image: records its call and answers a query
    # with HARNESS_MARIADB_ANSWER (default "0"); HARNESS_MARIADB_REAL=1 runs
    # the real client of this machine instead (against a real server).
    "mariadb": "#!/bin/bash\n"
               "if [ \"${HARNESS_MARIADB_REAL:-}\" = 1 ]; then exec /usr/bin/mariadb \"$@\"; fi\n"
               "@PYTHON@ - \"$@\" <<'PY'\n" + _RECORD + "record('mariadb')\nPY\n"
               "cat > /dev/null\n"
               "echo \"${HARNESS_MARIADB_ANSWER:-0}\"\n",
    # frappe_docker resources/core/main-entrypoint.sh, with the image's paths
    # mapped onto the harness bench.
    "entrypoint.sh": textwrap.dedent('''\
        #!/bin/bash
        set -e
        umask 0002
        ASSETS_PATH="$HARNESS_BENCH/sites/assets"
        BAKED_PATH="$HARNESS_BENCH/assets"
        rm -rf "$ASSETS_PATH"
        mkdir -p "$(dirname "$ASSETS_PATH")"
        ln -s "$BAKED_PATH" "$ASSETS_PATH"
        exec "$@"
        '''),
    "start.sh": "#!@PYTHON@\n" + _RECORD + "record('start.sh')\n",
    "node": "#!@PYTHON@\n" + _RECORD + "record('node')\n",
    "nginx-entrypoint.sh": "#!@PYTHON@\n" + _RECORD + textwrap.dedent('''\
        missing = [v for v in ("BACKEND", "SOCKETIO", "FRAPPE_SITE_NAME_HEADER") if v not in os.environ]
        if missing:
            sys.exit("nginx-entrypoint.sh: %s not set" % ", ".join(missing))
        record("nginx-entrypoint.sh")
        '''),
    # Debian's nginx binary, which frappe_docker's images/production/Containerfile
    # installs (package nginx): `-c FILE` names the configuration. Without it
    # nginx loads the image's /etc/nginx/nginx.conf, whose conf.d holds no
    # server unless nginx-entrypoint.sh wrote one: a pod that serves no site,
    # which this stand-in turns into a failed start so a test sees it. The
    # configuration itself runs on a real nginx in tests/render/test_nginx_realtime.py.
    "nginx": "#!@PYTHON@\n" + _RECORD + textwrap.dedent('''\
        args = sys.argv[1:]
        if "-c" not in args or not args[args.index("-c") + 1:][:1] or not args[args.index("-c") + 1].startswith("/"):
            sys.exit("nginx: started without -c /absolute/nginx.conf: the image's own configuration serves no site")
        record("nginx", config=args[args.index("-c") + 1])
        '''),
    "bench": "#!@PYTHON@\n" + _RECORD + _NEW_SITE + textwrap.dedent('''\
        import ast
        args = sys.argv[1:]
        record("bench")
        if not (os.path.isdir("apps") and os.path.isdir("sites")):
            sys.exit("bench: not in a bench directory (no apps/ and sites/ in %s)" % os.getcwd())
        if args[:1] == ["set-config"]:
            rest = args[1:]
            flags = [a for a in rest if a.startswith("-")]
            key, value = [a for a in rest if not a.startswith("-")]
            is_global = any(f in ("-g", "--global") or (f.startswith("-") and not f.startswith("--") and "g" in f)
                            for f in flags)
            parse = any(f in ("-p", "--parse") or (f.startswith("-") and not f.startswith("--") and "p" in f)
                        for f in flags)
            if not is_global:
                sys.exit("bench set-config: only -g is reproduced by this stand-in")
            if parse:
                value = ast.literal_eval(value)
            path = os.path.join("sites", "common_site_config.json")
            with open(path) as f:  # FileNotFoundError on a new volume, as in Frappe
                config = json.loads(f.read())
            if value in ("0", "1"):
                value = int(value)
            if value == "false":
                value = False
            if value == "true":
                value = True
            if value == "None":
                config.pop(key, None)
            else:
                config[key] = value
            with open(path, "w") as f:
                f.write(json.dumps(config, indent=1, sort_keys=True))
        elif args[:1] == ["new-site"]:
            new_site(args[1:])
        elif args[:1] == ["--site"] and args[2:3] == ["set-config"]:
            key, value = args[3:5]
            path = os.path.join("sites", args[1], "site_config.json")
            with open(path) as f:
                config = json.loads(f.read())
            config[key] = value
            with open(path, "w") as f:
                f.write(json.dumps(config, indent=1, sort_keys=True))
        elif args[:1] in (["worker"], ["schedule"]):
            pass
        else:
            sys.exit("bench: the stand-in does not reproduce %r" % args)
        '''),
}
