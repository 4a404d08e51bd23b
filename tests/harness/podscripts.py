"""Runs the Frappe containers of rendered objects under bash, on this machine.

The local cluster's kwok nodes never start a container, so nothing there shows
what a pod's command would do. This harness does, for the shell side of it:

* ``render(tmp_path, *objects)`` renders manifests with ``playbooks/render.yml``
  (no cluster) and returns the objects the role would apply.
* ``ImageBench(root, generation="current", runtime="containerd")`` lays out
  a directory like the bench of a frappe_docker production image
  (``images/production/Containerfile``) of one generation (``GENERATIONS``):
  ``apps/frappe``, ``apps/erpnext``, the built assets (``assets.json``,
  ``assets-rtl.json`` and a link per app to ``apps/<app>/<app>/public``, as
  Frappe's ``bench build`` makes them), an empty ``sites/`` (a new
  PersistentVolumeClaim), ``logs/``; what the image itself holds at
  ``sites/`` (hidden by a mounted volume) in ``image-sites/``; and a ``bin/``
  of stand-ins for what the image provides:

  - ``entrypoint.sh``, the image ENTRYPOINT of the current generation
    (frappe_docker ``resources/core/main-entrypoint.sh``): ``sites/assets``
    replaced by a link to the built assets, then ``exec "$@"``; older
    generations have no ENTRYPOINT;
  - ``mariadb``, the image's MariaDB client: records its call and answers a
    query with ``HARNESS_MARIADB_ANSWER`` (default ``0``), or runs the real
    client of this machine with ``HARNESS_MARIADB_REAL=1``;
  - ``start.sh``, the image CMD of the current generation, and
    ``env/bin/gunicorn``, the CMD of older ones: record that they ran, and
    what Frappe would read as the bundle map in the directory gunicorn runs
    in (``--chdir=sites``: ``get_assets_json``), then exit;
  - ``nginx-entrypoint.sh``, ``node``: record that they ran and with which
    environment, then exit; ``nginx`` (Debian's binary) also requires ``-c``
    with an absolute path;
  - ``bench``: records its arguments and reproduces what matters of Frappe's
    ``bench [--site S] set-config`` (frappe/commands/utils.py ``set_config``,
    frappe/installer.py ``update_site_config``): it must run in the bench
    directory, it *reads* ``sites/common_site_config.json`` (``-g``) or the
    site's ``site_config.json`` before writing it (a missing common file is
    FileNotFoundError, a missing site "does not exist"), merges one key, turns
    ``"0"``/``"1"``/``"true"``/``"false"`` into numbers and booleans, deletes
    the key for the value ``"None"``, and with ``-p`` parses the value as a
    Python literal. ``new-site`` is described at ``_NEW_SITE``. ``worker``
    checks its queues as Frappe's ``start_worker`` does (``validate_queue``
    against short, default, long and the ``workers`` of
    common_site_config.json) and records the RQ queues it would listen on;
    ``--site S backup`` and ``version --format json`` are described at
    ``_BACKUP``, ``--site S restore`` at ``_RESTORE``; ``--site S
    set-maintenance-mode`` at ``_MAINTENANCE_MODE``, ``--site S migrate`` at
    ``_MIGRATE``, ``--site S set-admin-password`` at ``_ADMIN_PASSWORD``,
    ``--site S clear-cache`` at ``_CLEAR_CACHE``, ``--site S mariadb`` at
    ``_MARIADB_CONSOLE`` (what these five share
    with every Frappe command at ``_FRAPPE_SITE``: they need
    ``sites/apps.txt``); ``schedule`` only records.

* ``run_container(bench, obj, container, secrets)`` starts a container as the
  kubelet would: ``command`` replaces the image ENTRYPOINT, ``args`` replace
  its CMD; the environment is resolved like the kubelet does (``$(VAR)`` of
  earlier variables expanded, ``$$`` for a literal ``$``, an unresolvable
  reference left as it is, Secret keys looked up, a missing optional key
  leaves the variable unset, a missing required key fails the start). The
  image's bench path ``/home/frappe/frappe-bench`` is mapped onto the
  harness directory; the sites volume (``volumeMounts`` named ``sites``; a
  container without ``volumeMounts`` has it at ``sites/``) is ``sites/``,
  wherever the container mounts it. A container that mounts it elsewhere sees
  the image's own ``sites/``. Image VOLUMEs under a mounted volume follow the
  runtime (``container_view``). ``run_pod`` runs the init containers first.

It is not the real image: it proves that the scripts do what the docs claim
on the inputs that broke them before (an empty volume, Secrets without some
keys, passwords with URL delimiters).
"""

import contextlib
import grp
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
IMAGE_BENCH_DIR = "/home/frappe/frappe-bench"
IMAGE_SITES_DIR = IMAGE_BENCH_DIR + "/sites"
IMAGE_ENTRYPOINT = ["entrypoint.sh"]
IMAGE_CMD = ["start.sh"]
APPS = ("frappe", "erpnext")

# The layouts of frappe_docker's images/production/Containerfile through its
# history (frappe/frappe_docker, git log of that file). An image tag is built
# from the repository as it was when that tag was the newest release (the
# stable build runs on every release and rebuilds the newest tag on every push
# to images/production; the tags it built are recorded in example.env, e.g.
# v15.45.0 on 2024-12-04), so the tag's date decides its layout.
GENERATIONS = {
    # Before 2026-04-20: no ENTRYPOINT (python:3.11-slim has none), CMD runs
    # gunicorn, the assets `bench build` made stay in sites/assets, and
    # VOLUME declares sites, sites/assets and logs. The tag the examples pin.
    "v15.45.0": {
        "entrypoint": [],
        "cmd": [IMAGE_BENCH_DIR + "/env/bin/gunicorn", "--chdir=" + IMAGE_SITES_DIR, "--bind=0.0.0.0:8000",
                "--threads=4", "--workers=2", "--worker-class=gthread", "--worker-tmp-dir=/dev/shm",
                "--timeout=120", "--preload", "frappe.app:application"],
        "volumes": (IMAGE_SITES_DIR, IMAGE_SITES_DIR + "/assets", IMAGE_BENCH_DIR + "/logs"),
        "baked_assets": False,
    },
    # 2026-04-20 (frappe_docker #1879) to 2026-04-30: the nested sites/assets
    # VOLUME removed, nothing else yet: the assets are in sites/ of the image.
    "2026-04-20": {
        "entrypoint": [],
        "cmd": [IMAGE_BENCH_DIR + "/env/bin/gunicorn", "--chdir=" + IMAGE_SITES_DIR, "--bind=0.0.0.0:8000",
                "--threads=4", "--workers=2", "--worker-class=gthread", "--worker-tmp-dir=/dev/shm",
                "--timeout=120", "--preload", "frappe.app:application"],
        "volumes": (IMAGE_SITES_DIR, IMAGE_BENCH_DIR + "/logs"),
        "baked_assets": False,
    },
    # Since 2026-04-30 (frappe_docker #1894, "link assets at container init"):
    # `cp -r sites/assets assets && rm -rf sites/assets` at build time, the
    # ENTRYPOINT main-entrypoint.sh links sites/assets to them in every
    # container, CMD start.sh (gunicorn).
    "current": {
        "entrypoint": IMAGE_ENTRYPOINT,
        "cmd": IMAGE_CMD,
        "volumes": (IMAGE_SITES_DIR, IMAGE_BENCH_DIR + "/logs"),
        "baked_assets": True,
    },
}

# What a container runtime does with an image VOLUME that no mount of the pod
# covers. containerd's CRI plugin mounts a new directory there with the
# image's files copied in (internal/cri: volumeMounts skips only a path the
# kubelet mounts, WithVolumes copies the existing contents up); CRI-O's
# default `image_volumes = "mkdir"` only creates the directory in the
# container's root file system (server/container_create.go addImageVolumes),
# which a volume mounted above it hides.
RUNTIMES = ("containerd", "cri-o")


class StartError(Exception):
    """The kubelet would not start the container (CreateContainerConfigError)."""


def render(tmp_path, *objects, keda=True, extra_vars=None):
    """Objects that playbooks/render.yml writes for a manifest of `objects` (no cluster)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
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
    """A directory laid out like the bench of a frappe_docker production image of one generation."""

    def __init__(self, root, generation="current", runtime="containerd"):
        if generation not in GENERATIONS:
            raise ValueError("generation %r: one of %s" % (generation, ", ".join(GENERATIONS)))
        if runtime not in RUNTIMES:
            raise ValueError("runtime %r: one of %s" % (runtime, ", ".join(RUNTIMES)))
        self.generation = generation
        self.image = GENERATIONS[generation]
        self.runtime = runtime
        self.root = Path(root)
        self.bench = self.root / "frappe-bench"
        self.image_sites = self.root / "image-sites"
        self.bin = self.root / "bin"
        self.log = self.root / "calls.jsonl"
        # A bundle of this generation: the hash part of its name differs per image.
        self.bundle = ("frappe-web.bundle.js", "/assets/frappe/dist/js/frappe-web.bundle.%s.js"
                       % re.sub(r"[^A-Za-z0-9]", "", generation).upper())
        for app in APPS:
            (self.bench / "apps" / app / app / "public").mkdir(parents=True, exist_ok=True)
        (self.bench / "apps" / "frappe" / "socketio.js").write_text("// socket.io server\n")
        bundle_file = self.bench / "apps" / "frappe" / "frappe" / "public" / self.bundle[1][len("/assets/frappe/"):]
        bundle_file.parent.mkdir(parents=True, exist_ok=True)
        bundle_file.write_text("// %s\n" % self.bundle[0])
        # The image's own sites/, which a mounted volume hides (frappe_docker's
        # builder writes {} into common_site_config.json; `bench init` apps.txt).
        self.image_sites.mkdir(exist_ok=True)
        (self.image_sites / "common_site_config.json").write_text("{}")
        (self.image_sites / "apps.txt").write_text("\n".join(APPS) + "\n")
        self._build_assets(self.bench / "assets" if self.image["baked_assets"] else self.image_sites / "assets")
        (self.bench / "sites").mkdir(exist_ok=True)
        (self.bench / "logs").mkdir(exist_ok=True)
        self.bin.mkdir(exist_ok=True)
        for name, text in _STAND_INS.items():
            self._install(self.bin / name, text)
        # The bench's own Python (env/bin/python), with boto3 and redis as the image ships them: bench_python.py.
        # A script that runs it by its path, not a link to it: Python finds its environment (pyvenv.cfg) beside
        # the path it was started by, and through a link to a link it starts as the bare interpreter instead.
        bench_python = Path(sys.prefix) / "bench-python" / "bin" / "python"
        if bench_python.exists():
            (self.bench / "env" / "bin").mkdir(parents=True, exist_ok=True)
            if not (self.bench / "env" / "bin" / "python").exists():
                self._install(self.bench / "env" / "bin" / "python", '#!/bin/sh\nexec %s "$@"\n' % bench_python)
        if self.image["cmd"][0].startswith(IMAGE_BENCH_DIR):
            self._install(Path(self.map_path(self.image["cmd"][0])), _GUNICORN)

    def _build_assets(self, assets):
        """What Frappe's `bench build` leaves in sites/assets (frappe/build.py
        make_asset_dirs: a link per app to the absolute path of its public/
        folder; the esbuild step writes assets.json and assets-rtl.json beside
        them and the bundles into public/dist through that link)."""
        assets.mkdir(parents=True, exist_ok=True)
        for app in APPS:
            (assets / app).symlink_to(self.bench / "apps" / app / app / "public")
        (assets / "assets.json").write_text(json.dumps({self.bundle[0]: self.bundle[1]}))
        (assets / "assets-rtl.json").write_text(json.dumps({}))

    @staticmethod
    def _install(path, text):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("@PYTHON@", sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    @property
    def sites(self):
        """The sites volume."""
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

    def map_path(self, value, mapping=None):
        """`value` with image paths replaced by harness paths (`mapping`: from container_view), in one pass:
        a harness path put in is never mapped again (a mount at /tmp and a harness directory under /tmp)."""
        mapping = mapping or {IMAGE_BENCH_DIR: str(self.bench)}
        pattern = "|".join(re.escape(p) for p in sorted(mapping, key=len, reverse=True))
        return re.sub(pattern, lambda match: mapping[match.group(0)], value)


class HarnessError(Exception):
    """A container did what a real one cannot, or a real program here failed."""


def sites_mount_paths(container):
    """Where the container mounts the sites volume; without volumeMounts, at sites/."""
    if "volumeMounts" not in container:
        return [IMAGE_SITES_DIR]
    return [m["mountPath"].rstrip("/") for m in container["volumeMounts"] if m["name"] == "sites"]


@contextlib.contextmanager
def container_view(bench, container):
    """The file system `container` sees, for the length of the block: {image path: harness path}.

    The sites volume mounted at sites/: the harness bench, whose sites/ is the
    volume; an image VOLUME below it is, under containerd, a copy of the
    image's files mounted over the volume's own entry (hidden, and given back
    after; runc leaves the mount point it made on the volume), under CRI-O
    nothing (the volume's own entry shows). The volume mounted elsewhere, or
    not at all: sites/ is the image's own, a copy that goes with the container
    (under containerd a copied-up VOLUME, under CRI-O the root file system).
    """
    mounts = sites_mount_paths(container)
    mapping = {m: str(bench.sites) for m in mounts if m != IMAGE_SITES_DIR}
    with contextlib.ExitStack() as stack:
        if IMAGE_SITES_DIR in mounts:
            mapping[IMAGE_BENCH_DIR] = str(bench.bench)
            for volume in bench.image["volumes"]:
                below = volume.startswith(IMAGE_SITES_DIR + "/") and volume not in mounts
                if below and bench.runtime == "containerd":
                    stack.enter_context(_copied_up(bench, volume[len(IMAGE_SITES_DIR) + 1:]))
        else:
            views = bench.root / "views"
            views.mkdir(exist_ok=True)
            view = Path(tempfile.mkdtemp(dir=str(views))) / "frappe-bench"
            view.mkdir()
            stack.callback(shutil.rmtree, str(view.parent))
            for entry in bench.bench.iterdir():
                if entry.name != "sites":
                    (view / entry.name).symlink_to(entry)
            shutil.copytree(str(bench.image_sites), str(view / "sites"), symlinks=True)
            mapping[IMAGE_BENCH_DIR] = str(view)
        yield mapping


@contextlib.contextmanager
def _copied_up(bench, relative):
    """containerd's mount of an image VOLUME at sites/<relative>, over the sites volume."""
    target = bench.sites / relative
    hidden = None
    if os.path.lexists(str(target)):
        hidden = target.with_name(".harness-hidden-" + target.name)
        os.rename(str(target), str(hidden))
    if (bench.image_sites / relative).exists():
        shutil.copytree(str(bench.image_sites / relative), str(target), symlinks=True)
    else:
        target.mkdir(parents=True)  # a VOLUME the image holds nothing at: an empty one
    try:
        yield
    finally:
        if os.path.islink(str(target)) or not target.is_dir():
            raise HarnessError("the container removed or replaced the mount point %s (EBUSY in a container)"
                               % target)
        shutil.rmtree(str(target))
        if hidden is not None:
            os.rename(str(hidden), str(target))
        else:
            target.mkdir()  # the mount point runc made stays on the volume


class ContainerRun:
    def __init__(self, proc, calls):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.calls = calls

    def explain(self):
        return "rc=%s\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.stdout[-3000:], self.stderr[-3000:])


def argv(container, image=None):
    """What the container runtime executes: command replaces ENTRYPOINT, args replace CMD."""
    image = image or GENERATIONS["current"]
    entrypoint = container.get("command") or image["entrypoint"]
    if "args" in container:
        cmd = container["args"]
    else:
        cmd = [] if container.get("command") else image["cmd"]
    return list(entrypoint) + list(cmd)


# The capabilities that let root write where the frappe user (uid 1000, no
# capabilities) may not: dropped when the harness itself runs as root.
ROOT_OVERRIDES = "-dac_override,-dac_read_search,-fowner"


@contextlib.contextmanager
def other_volumes(bench, obj, container, secrets=None, config_maps=None, claims=None):
    """Harness directories for the container's volumes other than the sites volume, when the caller gives
    `config_maps` or `claims` (else none: the earlier behaviour).

    Yields {"mounts": {mountPath: directory}, "config_files": [the ConfigMap files written]}.

    A ConfigMap's or a Secret's keys (its items when it names them) become
    files, an emptyDir a fresh directory, a claim the directory `claims` gives
    for its name. The harness cannot mount at the image's paths, so the image
    paths in a ConfigMap's files are mapped like those of the command: a file
    that names another mount finds it.
    """
    # Only for a caller that gives the pod's ConfigMaps or claims: other callers run containers whose other
    # volumes the harness leaves where the image paths point.
    others = [m for m in container.get("volumeMounts", []) if m["name"] != "sites"] \
        if config_maps is not None or claims is not None else []
    volumes = dict((v["name"], v) for v in pod_spec(obj).get("volumes", [])) if others else {}
    root = bench.root / "volumes"
    root.mkdir(exist_ok=True)
    out, made, config_files = {}, [], []
    for mount in others:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            target = Path((claims or {})[volume["persistentVolumeClaim"]["claimName"]])
        else:
            target = Path(tempfile.mkdtemp(dir=str(root)))
            made.append(target)
            if "configMap" in volume or "secret" in volume:
                source = volume.get("configMap") or volume["secret"]
                data = (config_maps or {}).get(source.get("name")) if "configMap" in volume else \
                    (secrets or {}).get(source["secretName"])
                if data is None and source.get("optional"):
                    data = {}  # the kubelet mounts an optional volume whose source is missing as an empty one
                elif data is None:
                    raise HarnessError("volume %s: %s %s is missing" % (
                        mount["name"], "ConfigMap" if "configMap" in volume else "Secret",
                        source.get("name") or source.get("secretName")))
                items = source.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] not in data and source.get("optional"):
                        continue
                    (target / item["path"]).write_text(data[item["key"]])
                    if "configMap" in volume:
                        config_files.append(target / item["path"])
            elif "emptyDir" not in volume:
                raise HarnessError("volume %s: the harness has no stand-in for %s" % (mount["name"], sorted(volume)))
        out[mount["mountPath"].rstrip("/")] = str(target)
    try:
        yield {"mounts": out, "config_files": config_files}
    finally:
        for target in made:
            shutil.rmtree(str(target), ignore_errors=True)


def run_container(bench, obj, container, secrets=None, timeout=60, harness_env=None, during=None,
                  as_image_user=False, config_maps=None, claims=None):
    """Run `container` of `obj` in `bench` (an ImageBench) as the kubelet would start it.

    `during(mapping)`, if given, is called once the process has exited, with
    its file system (container_view) still in place: to look at it or serve it.
    as_image_user: file permissions bind the process as they bind the image's
    frappe user (a harness running as root runs it without the capabilities
    that override them).
    """
    env = resolve_env(container, secrets or {})
    with container_view(bench, container) as mapping, \
            other_volumes(bench, obj, container, secrets, config_maps, claims) as volumes:
        mapping.update(volumes["mounts"])
        for path in volumes["config_files"]:
            path.write_text(bench.map_path(path.read_text(), mapping))
        proc_env = {bench.map_path(k, mapping): bench.map_path(v, mapping) for k, v in env.items()}
        proc_env.update({
            "PATH": "%s:/usr/bin:/bin" % bench.bin,
            "HOME": str(bench.root),
            "HARNESS_LOG": str(bench.log),
            "HARNESS_BENCH": mapping[IMAGE_BENCH_DIR],
            "LANG": "C.UTF-8",
        })
        # Settings of the stand-ins (HARNESS_MARIADB_ANSWER, HARNESS_MARIADB_REAL).
        proc_env.update(harness_env or {})
        before = len(bench.calls())
        command = [expand(bench.map_path(a, mapping), env) for a in argv(container, bench.image)]
        if as_image_user and os.geteuid() == 0:
            command = ["setpriv", "--bounding-set", ROOT_OVERRIDES, "--"] + command
        cwd = bench.map_path(container.get("workingDir", str(bench.root)), mapping)
        proc = subprocess.run(command, cwd=cwd, env=proc_env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        run = ContainerRun(proc, bench.calls()[before:])
        if during is not None:
            during(mapping)
    return run


def run_pod(bench, obj, secrets=None, container=None, **kwargs):
    """The kubelet's order: every init container to completion, in turn, then `container`
    (a name; the first container by default). Returns {name: ContainerRun}; stops after an
    init container that fails, as the pod would not go on."""
    spec = pod_spec(obj)
    runs = {}
    for init in spec.get("initContainers", []):
        runs[init["name"]] = run_container(bench, obj, init, secrets)
        if runs[init["name"]].rc != 0:
            return runs
    main = next(c for c in spec["containers"] if container in (None, c["name"]))
    runs[main["name"]] = run_container(bench, obj, main, secrets, **kwargs)
    return runs


def nginx_get(sites_root, paths, workdir):
    """GET each of `paths` from the real nginx of this machine serving `sites_root` with the
    directives frappe_docker's resources/core/nginx/nginx-template.conf has for assets
    (`root /home/frappe/frappe-bench/sites;`, `location /assets { try_files $uri =404; }`).
    Returns {path: (status, body)}."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp = "".join("    %s_temp_path %s;\n" % (kind, workdir / kind)
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (workdir / "nginx.conf").write_text(
        # Workers as this user (a master run by root would switch them to nobody).
        "daemon off;\nuser %(user)s %(group)s;\npid %(work)s/nginx.pid;\nerror_log %(work)s/error.log;\n"
        "events {}\nhttp {\n%(temp)s"
        "    access_log off;\n    server {\n        listen 127.0.0.1:%(port)d;\n        root %(root)s;\n"
        "        location /assets {\n            try_files $uri =404;\n        }\n    }\n}\n"
        % {"work": workdir, "temp": temp, "port": port, "root": sites_root,
           "user": pwd.getpwuid(os.geteuid()).pw_name, "group": grp.getgrgid(os.getegid()).gr_name})
    server = subprocess.Popen(["nginx", "-p", str(workdir), "-e", str(workdir / "error.log"),
                               "-c", str(workdir / "nginx.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise HarnessError("nginx did not start: %s" % (workdir / "error.log").read_text()
                                       if (workdir / "error.log").exists() else "nginx did not start")
                time.sleep(0.05)
        answers = {}
        for path in paths:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as response:
                    answers[path] = (response.status, response.read().decode())
            except urllib.error.HTTPError as exc:
                answers[path] = (exc.code, "")
        return answers
    finally:
        server.terminate()
        server.wait(timeout=10)


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

# `bench new-site`, `bench --site S install-app` against a real MariaDB.
#
# Follows frappe/frappe (version-15) frappe/commands/site.py `new_site` and
# frappe/installer.py `_new_site` -> `install_db` step by step, each step
# done for real on the server (through the mariadb client, where Frappe uses
# PyMySQL), so that a site the stand-in leaves behind, complete or half-made,
# is what Frappe would leave:
#   - click refuses an option the version does not declare (exit 2, "No such
#     option"); HARNESS_FRAPPE_VERSION picks the version (default 15.55.1):
#     --mariadb-user-host-login-scope exists from 15.46.0, --no-mariadb-socket
#     in every version-15 release (the way the user's host was set before);
#   - `_new_site`: an existing site directory without --force is "Site ...
#     already exists" (exit 1); `make_site_dirs`;
#   - `install_db` -> `make_conf` (`make_site_config`): site_config.json is
#     written FIRST, and only when absent (kept on --force);
#   - `setup_database` (frappe/database/mariadb/setup_db.py, unless
#     --no-setup-db): with the root login, an existing database is dropped
#     with --force, else "Database ... already exists"; the user (host: the
#     scope, % for --no-mariadb-socket, else the host the root login comes
#     from, DbManager.get_current_host), the database and its grant are made;
#   - `bootstrap_database`: as the site's own user, the framework tables are
#     dropped and made again (frappe/database/mariadb/framework_mariadb.sql),
#     tabDefaultValue among them, `__Auth` and `tabSessions` with Frappe's
#     columns and keys (`__Auth`: primary key doctype, name, fieldname);
#   - `install_app` for frappe then each --install-app: the app's tables
#     (`sync_for`; of frappe's, those the stand-ins below use: tabUser and
#     `tabInstalled Application`), then `add_to_installed_apps` records it in
#     the `installed_apps` global (frappe/defaults.py `set_default`: a row of
#     tabDefaultValue with parent __global, defkey installed_apps, defvalue a
#     JSON list), committed; then frappe's `after_install` hook
#     (frappe/utils/install.py): `install_basic_docs` (the users Administrator
#     and Guest), `update_password` of Administrator with --admin-password or
#     admin_password of site_config.json (`install_db`: frappe.conf wins).
#     Without either Frappe asks on the terminal (`get_admin_password`,
#     getpass; EOFError in a pod without one): not reproduced, the stand-in
#     sets no password then.
# HARNESS_NEW_SITE_DIE_AFTER=make_conf|setup_database|bootstrap|install:<app>
# kills it right after that step (install:<app>: after the app's tables,
# before add_to_installed_apps), as a pod killed or an error midway would.
_NEW_SITE = textwrap.dedent(r"""
    import argparse, subprocess, time
    FRAPPE_VERSION = tuple(int(x) for x in os.environ.get("HARNESS_FRAPPE_VERSION", "15.55.1").split("."))
    REAL_CLIENT = "/usr/bin/mariadb"

    def new_site_options():
        opts = [("--db-name", "VALUE"), ("--db-password", "VALUE"), ("--db-type", "VALUE"), ("--db-socket", "VALUE"),
                ("--mariadb-db-socket", "VALUE"), ("--db-host", "VALUE"), ("--db-port", "VALUE"),
                ("--db-root-username", "VALUE"), ("--mariadb-root-username", "VALUE"),
                ("--db-root-password", "VALUE"), ("--mariadb-root-password", "VALUE"),
                ("--no-mariadb-socket", "FLAG"), ("--admin-password", "VALUE"), ("--verbose", "FLAG"),
                ("--source-sql", "VALUE"), ("--source_sql", "VALUE"), ("--install-app", "MULTI"),
                ("--force", "FLAG"), ("--set-default", "FLAG"), ("--setup-db", "FLAG"), ("--no-setup-db", "FLAG")]
        if FRAPPE_VERSION >= (15, 46, 0):
            opts.append(("--mariadb-user-host-login-scope", "VALUE"))
        return dict(opts)

    def refuse(message):
        sys.stderr.write("Usage: bench new-site [OPTIONS] SITE\nTry 'bench new-site --help' for help.\n\n")
        sys.stderr.write("Error: %s\n" % message)
        sys.exit(2)

    def parse_new_site(argv):
        known = new_site_options()
        values, flags, apps, positional = {}, set(), [], []
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg.startswith("--"):
                name, eq, value = arg.partition("=")
                if name not in known:
                    refuse("No such option: %s" % name)
                if known[name] == "FLAG":
                    flags.add(name)
                else:
                    if not eq:
                        i += 1
                        if i >= len(argv):
                            refuse("Option '%s' requires an argument." % name)
                        value = argv[i]
                    if known[name] == "MULTI":
                        apps.append(value)
                    else:
                        values[name] = value
            else:
                positional.append(arg)
            i += 1
        if len(positional) != 1:
            refuse("Missing argument 'SITE'." if not positional else "Got unexpected extra argument")
        get = lambda *names: next((values[n] for n in names if n in values), None)
        return {"site": positional[0], "db_name": get("--db-name"), "db_password": get("--db-password"),
                "db_type": get("--db-type") or "mariadb", "db_host": get("--db-host"), "db_port": get("--db-port"),
                "root_user": get("--db-root-username", "--mariadb-root-username") or "root",
                "root_password": get("--db-root-password", "--mariadb-root-password"),
                "scope": get("--mariadb-user-host-login-scope"), "no_socket": "--no-mariadb-socket" in flags,
                "force": "--force" in flags, "setup_db": "--no-setup-db" not in flags, "apps": apps,
                "admin_password": get("--admin-password")}

    def die_after(step):
        if os.environ.get("HARNESS_NEW_SITE_DIE_AFTER") == step:
            sys.stderr.write("bench new-site: killed after %s\n" % step)
            os._exit(137)

    def sql(statement, user, password, host, port, database=None):
        if os.environ.get("HARNESS_MARIADB_REAL") != "1":
            sys.exit("bench: this stand-in creates sites on a real MariaDB only (HARNESS_MARIADB_REAL=1)")
        cmd = [REAL_CLIENT, "--no-defaults", "--protocol=TCP", "--host=%s" % host, "--port=%s" % port,
               "--user=%s" % user, "--batch", "--skip-column-names", "--execute=%s" % statement]
        if database:
            cmd.append("--database=%s" % database)
        env = dict(os.environ, MYSQL_PWD=password or "")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit("pymysql.err.OperationalError: %s" % proc.stderr.strip())
        return proc.stdout

    def site_conf(site):
        with open(os.path.join("sites", site, "site_config.json")) as f:
            return json.loads(f.read())

    def as_site(site, statement):
        conf = site_conf(site)
        return sql(statement, conf.get("db_user") or conf["db_name"], conf["db_password"],
                   conf.get("db_host", "127.0.0.1"), conf.get("db_port", 3306), conf["db_name"])

    def installed_apps(site):
        out = as_site(site, "SELECT defvalue FROM `tabDefaultValue` WHERE parent = '__global' "
                            "AND defkey = 'installed_apps' ORDER BY creation DESC LIMIT 1").strip()
        return json.loads(out or "[]")

    # The tables of an app's DocTypes that the stand-ins use (sync_for makes all of them); every app also gets a
    # `tab<App> Settings` of its own.
    APP_TABLES = {
        "frappe": {
            "tabUser": "name VARCHAR(140) PRIMARY KEY, creation DATETIME(6), modified DATETIME(6), "
                       "first_name VARCHAR(140), enabled INT(1) NOT NULL DEFAULT 1, user_type VARCHAR(140)",
            # The child table of the Single `Installed Applications` (frappe/core/doctype/installed_application).
            "tabInstalled Application": "name VARCHAR(140) PRIMARY KEY, creation DATETIME(6), modified DATETIME(6), "
                                        "modified_by VARCHAR(140), owner VARCHAR(140), docstatus INT(1) NOT NULL "
                                        "DEFAULT 0, idx INT(8) NOT NULL DEFAULT 0, parent VARCHAR(140), "
                                        "parentfield VARCHAR(140), parenttype VARCHAR(140), app_name VARCHAR(140), "
                                        "app_version VARCHAR(140), git_branch VARCHAR(140)",
        },
    }

    def install_app(site, app, admin_password=None):
        # frappe/installer.py install_app: the app must be on the bench; an
        # installed one is skipped; sync_for makes its tables; then
        # add_to_installed_apps records it (set_global: delete + insert, commit);
        # then the app's after_install hooks.
        if not os.path.isdir(os.path.join("apps", app)):
            raise SystemExit("Exception: App %s not in apps.txt" % app)
        apps = installed_apps(site)
        if app in apps:
            print("App %s already installed" % app)
            return
        print("\nInstalling %s..." % app)
        tables = dict(APP_TABLES.get(app, {}))
        tables["tab%s Settings" % app.title()] = "name VARCHAR(140) PRIMARY KEY"
        as_site(site, "; ".join("CREATE TABLE IF NOT EXISTS `%s` (%s)" % (t, c) for t, c in tables.items()))
        die_after("install:%s" % app)
        apps.append(app)
        value = json.dumps(apps).replace("\\", "\\\\").replace("'", "\\'")
        as_site(site, "DELETE FROM `tabDefaultValue` WHERE parent = '__global' AND defkey = 'installed_apps'; "
                      "INSERT INTO `tabDefaultValue` (name, creation, modified, parent, parenttype, parentfield, "
                      "defkey, defvalue) VALUES ('%s', NOW(6), NOW(6), '__global', '__default', 'system_defaults', "
                      "'installed_apps', '%s'); COMMIT" % (os.urandom(5).hex(), value))
        if app == "frappe":
            # frappe/utils/install.py after_install: install_basic_docs, then update_password("Administrator", ...)
            as_site(site, "INSERT IGNORE INTO `tabUser` (name, creation, modified, first_name, enabled, user_type) "
                          "VALUES ('Administrator', NOW(6), NOW(6), 'Administrator', 1, 'System User'), "
                          "('Guest', NOW(6), NOW(6), 'Guest', 1, 'Website User')")
            if admin_password:
                as_site(site, update_password_sql("Administrator", admin_password))

    FRAMEWORK_TABLES = {
        "tabDefaultValue": "name VARCHAR(140) PRIMARY KEY, creation DATETIME(6), modified DATETIME(6), "
                           "parent VARCHAR(140), parenttype VARCHAR(140), parentfield VARCHAR(140), "
                           "defkey VARCHAR(140), defvalue TEXT",
        "tabDocType": "name VARCHAR(140) PRIMARY KEY, module VARCHAR(140)",
        "tabSingles": "doctype VARCHAR(140), field VARCHAR(140), value TEXT",
        "__Auth": "doctype VARCHAR(140) NOT NULL, name VARCHAR(255) NOT NULL, fieldname VARCHAR(140) NOT NULL, "
                  "password TEXT NOT NULL, encrypted INT(1) NOT NULL DEFAULT 0, PRIMARY KEY (doctype, name, fieldname)",
        "tabSessions": "user VARCHAR(255), sid VARCHAR(255), sessiondata LONGTEXT, ipaddress VARCHAR(16), "
                       "lastupdate DATETIME(6), status VARCHAR(20), KEY sid (sid)",
    }

    def new_site(argv):
        if "--help" in argv:
            print("Usage: bench new-site [OPTIONS] SITE\n\n  Create a new site\n\nOptions:")
            for name in sorted(new_site_options()):
                print("  %s" % name)
            return
        o = parse_new_site(argv)
        site, site_dir = o["site"], os.path.join("sites", o["site"])
        if not o["force"] and os.path.exists(site_dir):
            print("Site %s already exists, use `--force` to proceed anyway" % site)
            sys.exit(1)
        if o["setup_db"] and not o["root_password"]:
            sys.exit("bench new-site: would prompt for the database root password (no terminal)")
        db_name = o["db_name"] or "_" + os.urandom(8).hex()
        # make_site_dirs
        for sub in (("private", "backups"), ("public", "files"), ("private", "files"), ("locks",)):
            os.makedirs(os.path.join(site_dir, *sub), exist_ok=True)
        # install_db -> make_conf -> make_site_config: only when absent
        conf_path = os.path.join(site_dir, "site_config.json")
        if not os.path.exists(conf_path):
            config = {"db_name": db_name, "db_password": o["db_password"] or os.urandom(8).hex(),
                      "db_type": o["db_type"]}
            if o["db_host"]:
                config["db_host"] = o["db_host"]
            if o["db_port"]:
                config["db_port"] = int(o["db_port"])
            with open(conf_path, "w") as f:
                f.write(json.dumps(config, indent=1, sort_keys=True))
        die_after("make_conf")
        conf = site_conf(site)
        host, port = conf.get("db_host", "127.0.0.1"), conf.get("db_port", 3306)
        db_name = conf["db_name"]
        if o["setup_db"]:
            def root(statement):
                return sql(statement, o["root_user"], o["root_password"], host, port)
            scope = o["scope"] if o["scope"] is not None else ("%" if o["no_socket"] else None)
            if scope is None:  # DbManager.get_current_host: where the root login comes from
                scope = root("SELECT USER()").strip().split("@")[1]
            if not o["force"] and db_name in root("SHOW DATABASES").split():
                raise SystemExit("Exception: Database %s already exists" % db_name)
            root("DROP USER IF EXISTS '%s'@'%s'; DROP DATABASE IF EXISTS `%s`" % (db_name, scope, db_name))
            root("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'; CREATE DATABASE `%s` CHARACTER SET utf8mb4 "
                 "COLLATE utf8mb4_unicode_ci; GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%s'; FLUSH PRIVILEGES"
                 % (db_name, scope, conf["db_password"].replace("'", "\\'"), db_name, db_name, db_name, scope))
        die_after("setup_database")
        # bootstrap_database: the framework SQL drops and makes its tables
        as_site(site, "; ".join("DROP TABLE IF EXISTS `%s`; CREATE TABLE `%s` (%s)" % (t, t, cols)
                                for t, cols in FRAMEWORK_TABLES.items()))
        die_after("bootstrap")
        admin_password = conf.get("admin_password") or o["admin_password"]
        for app in ["frappe"] + o["apps"]:
            install_app(site, app, admin_password)
        print("*** Scheduler is disabled ***")

    def site_install_app(site, apps):
        # frappe/commands/site.py install_app: each app through installer.install_app on the site
        if not os.path.isfile(os.path.join("sites", site, "site_config.json")):
            raise SystemExit("Site %s does not exist!" % site)
        for app in apps:
            install_app(site, app)
    """)

# `bench --site S backup [options]` against a real MariaDB, as Frappe
# version-15 runs it: frappe/commands/site.py `backup` -> frappe/utils/backups.py
# `scheduled_backup` -> `new_backup` -> `BackupGenerator.get_backup`:
#   - `new_backup` first runs `delete_temp_backups`: every regular file of the
#     site's default backups directory (private/backups) at least
#     keep_backups_for_hours (cint, 0 or unset: 24) old by ctime is removed;
#     anything else there is left (`is_file_old` is False for what is not a
#     file);
#   - `set_backup_file_name`: <YYYYmmdd_HHMMSS local time>-<site, dots as
#     underscores>[-partial]-database.sql.gz, -site_config_backup.json,
#     -files.tar|.tgz (--compress), -private-files.tar|.tgz, in --backup-path
#     (relative to sites/, made when missing) or private/backups, each
#     --backup-path-* winning for its file; -partial with --include/--exclude
#     unless --ignore-backup-conf;
#   - `take_dump`: a gzip member with the frappe metadata header (and, for a
#     partial backup, "Partial Backup of Frappe Site <site>"), then
#     `set -o pipefail; mariadb-dump ... | gzip >> <file>` (a second member);
#   - `copy_site_config`: a verbatim copy of site_config.json (never
#     encrypted); `backup_files` (--with-files): tar of ./<site>/public/files
#     and ./<site>/private/files run in sites/;
#   - each step through `delete_if_step_fails`: a step that raises has its
#     own file removed and the command prints "Backup failed for Site <site>.
#     Database or site_config.json may be corrupted" and exits 1; the files
#     of earlier steps stay;
#   - on success `print_summary` ("Backup Summary for <site> at <now>", one
#     line per file) and "Backup for Site <site> has been successfully
#     completed[ with files]".
# Not reproduced: Frappe's own backup encryption (System Settings
# encrypt_backup), the site's backup.includes/excludes configuration.
# HARNESS_BACKUP_DIE_AFTER=dump|config|files kills it after that step, as a
# killed pod would (nothing is rolled back then).
# `bench version --format json` (frappe/commands/utils.py `get_version`): one
# {commit, app, branch, version} per app, sorted; the image has no .git, so
# commit and branch are empty.
_BACKUP = textwrap.dedent(r"""
    import datetime, gzip, shlex, shutil
    # The image's versions; HARNESS_FRAPPE_VERSION stands for an image of another Frappe release.
    APP_VERSIONS = {"frappe": os.environ.get("HARNESS_FRAPPE_VERSION", "15.55.1"), "erpnext": "15.45.0"}

    def backup_failed(site, message=None):
        if message:
            sys.stderr.write(message + "\n")
        print("Backup failed for Site %s. Database or site_config.json may be corrupted" % site)
        sys.exit(1)

    def parse_backup(argv):
        values = {"--with-files": False, "--compress": False, "--ignore-backup-conf": False, "--verbose": False,
                  "--old-backup-metadata": False}
        options = ("--backup-path", "--backup-path-db", "--backup-path-conf", "--backup-path-files",
                   "--backup-path-private-files", "--include", "--only", "-i", "--exclude", "-e")
        i = 0
        while i < len(argv):
            name, eq, value = argv[i].partition("=")
            if name in values:
                values[name] = True
            elif name in options:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        sys.stderr.write("Error: Option '%s' requires an argument.\n" % name)
                        sys.exit(2)
                    value = argv[i]
                values[{"--only": "--include", "-i": "--include", "-e": "--exclude"}.get(name, name)] = value
            else:
                sys.stderr.write("Error: No such option: %s\n" % name)
                sys.exit(2)
            i += 1
        return values

    def die_after_backup(step):
        if os.environ.get("HARNESS_BACKUP_DIE_AFTER") == step:
            sys.stderr.write("bench backup: killed after %s\n" % step)
            os._exit(137)

    def backup(site, argv):
        o = parse_backup(argv)
        os.chdir("sites")  # bench runs Frappe's commands in sites/
        if not os.path.isfile(os.path.join(site, "site_config.json")):
            backup_failed(site, "IncorrectSitePath: %s does not exist" % site)
        conf = site_conf_here(site)
        default_dir = os.path.join(".", site, "private", "backups")
        keep = (int(float(conf.get("keep_backups_for_hours") or 0)) or 24) * 3600
        if os.path.isdir(default_dir):
            for name in os.listdir(default_dir):
                path = os.path.join(default_dir, name)
                if os.path.isfile(path) and time.time() - os.stat(path).st_ctime >= keep:
                    try:
                        os.remove(path)
                    except OSError as exc:
                        backup_failed(site, repr(exc))
        stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
        slug = site.replace(".", "_")
        partial = "-partial" if (o.get("--include") or o.get("--exclude")) and not o["--ignore-backup-conf"] else ""
        ext = "tgz" if o["--compress"] else "tar"
        directory = o.get("--backup-path") or default_dir
        paths = {"db": o.get("--backup-path-db") or os.path.join(directory, "%s-%s%s-database.sql.gz" % (stamp, slug, partial)),
                 "conf": o.get("--backup-path-conf") or os.path.join(directory, "%s-%s-site_config_backup.json" % (stamp, slug)),
                 "public": o.get("--backup-path-files") or os.path.join(directory, "%s-%s-files.%s" % (stamp, slug, ext)),
                 "private": o.get("--backup-path-private-files")
                            or os.path.join(directory, "%s-%s-private-files.%s" % (stamp, slug, ext))}
        for path in [directory] + [os.path.dirname(p) for p in paths.values()]:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                backup_failed(site, repr(exc))

        def step(name, files, run):
            try:
                run()
            except (subprocess.CalledProcessError, OSError) as exc:
                for path in files:
                    if os.path.exists(path):
                        os.remove(path)
                backup_failed(site, "CommandFailedError: %s" % exc)
            die_after_backup(name)

        def dump():
            if not shutil.which("gzip"):
                raise OSError("gzip not found in PATH! This is required to take a backup.")
            with gzip.open(paths["db"], "wt") as header:
                header.write("-- begin frappe metadata\n-- [frappe]\n-- version = %s\n-- branch = N/A\n"
                             "-- end frappe metadata\n-- \n" % APP_VERSIONS["frappe"])
                if partial:
                    header.write("-- Partial Backup of Frappe Site %s\n" % site)
                    header.write("-- Backup %s: %s\n" % ("contains" if o.get("--include") else "excludes",
                                                         o.get("--include") or o.get("--exclude")))
            args = ["/usr/bin/mariadb-dump", "--user=%s" % (conf.get("db_user") or conf["db_name"]),
                    "--host=%s" % conf.get("db_host", "127.0.0.1"), "--port=%s" % conf.get("db_port", 3306),
                    "--password=%s" % conf["db_password"], "--single-transaction", "--quick", "--lock-tables=false",
                    conf["db_name"]]
            if o.get("--include"):
                args += ["tab" + doctype.strip() for doctype in o["--include"].split(",")]
            elif o.get("--exclude"):
                args += ["--ignore-table=%s.tab%s" % (conf["db_name"], d.strip()) for d in o["--exclude"].split(",")]
            if os.environ.get("HARNESS_MARIADB_REAL") != "1":
                raise OSError("this stand-in dumps from a real MariaDB only (HARNESS_MARIADB_REAL=1)")
            subprocess.run(["bash", "-c", "set -o pipefail; %s | gzip >> %s" % (
                " ".join(shlex.quote(a) for a in args), shlex.quote(paths["db"]))], check=True)

        step("dump", [paths["db"]], dump)
        step("config", [paths["conf"]], lambda: shutil.copyfile(os.path.join(site, "site_config.json"), paths["conf"]))
        if o["--with-files"]:
            def archive():
                for kind, folder in (("public", "public/files"), ("private", "private/files")):
                    source = "./%s/%s" % (site, folder)
                    if o["--compress"]:
                        subprocess.run(["bash", "-c", "set -o pipefail; tar cf - %s | gzip > %s" % (
                            shlex.quote(source), shlex.quote(paths[kind]))], check=True)
                    else:
                        subprocess.run(["tar", "-cf", paths[kind], source], check=True)
            step("files", [paths["public"], paths["private"]], archive)
        print("Backup Summary for %s at %s" % (site, datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")))
        shown = [("Config", "conf"), ("Database", "db")]
        if o["--with-files"]:
            shown += [("Public", "public"), ("Private", "private")]
        for label, key in shown:
            print("%-8s: %s %sB" % (label, paths[key], float(os.path.getsize(paths[key]))))
        print("Backup for Site %s has been successfully completed%s" % (site, " with files" if o["--with-files"] else ""))

    def site_conf_here(site):
        with open(os.path.join(site, "site_config.json")) as f:
            return json.loads(f.read())

    def version(argv):
        if argv[:2] != ["--format", "json"] and argv[:1] != ["--format=json"]:
            sys.exit("bench: the stand-in reproduces only `bench version --format json`")
        apps = sorted(a for a in os.listdir("apps") if os.path.isdir(os.path.join("apps", a)))
        print(json.dumps([{"commit": "", "app": a, "branch": "", "version": APP_VERSIONS.get(a, "0.0.1")}
                          for a in apps], indent=4))
    """)

# `bench --site S restore SQL_FILE [options]` against a real MariaDB, as Frappe
# version-15 runs it: frappe/commands/site.py `restore` -> `_restore` ->
# `restore_backup`, frappe/installer.py `_new_site` and `extract_files`:
#   - the site must exist (frappe.init: "<site> does not exist", exit 1);
#   - a file `file` calls encrypted (gpg) is decrypted with --encryption-key,
#     else with the site's backup_encryption_key, which is generated (and
#     written into site_config.json) when absent; a wrong key is "Decryption
#     failed. Please provide a valid key and try again." (exit 1);
#   - a path not found as given is looked up in <site>/private/backups, then
#     ../; else "File <p> not found." (exit 1);
#   - a partial backup (its header) is refused (exit 1), pointing at
#     partial-restore;
#   - a backup of a newer Frappe than the bench's asks to continue, which
#     without a terminal is "Aborted!" (exit 1), unless --force;
#   - a dump without the `__Auth` table is refused unless --force;
#   - `_new_site(force=True, source_sql)`: with the root login (the
#     --db-root-* options, else root_password of the configuration, else a
#     prompt that fails without a terminal) the site's user and database are
#     dropped and made again, then the dump is loaded through
#     `gzip -cd | mariadb` as the site's user; a dump without tabDefaultValue
#     after that is an error (exit 1). site_config.json is left as it is: its
#     encryption_key is never restored;
#   - each files archive is copied into the site and unpacked there with
#     --strip 2; one that fails fails the command after the database was
#     replaced (exit 1);
#   - "Site <site> has been restored[ with files]".
_RESTORE = textwrap.dedent(r"""
    import gzip as _gzip

    def restore_failed(message):
        print(message)
        sys.exit(1)

    def parse_restore(argv):
        values, flags, positional = {}, set(), []
        options = ("--db-root-username", "--mariadb-root-username", "--db-root-password", "--mariadb-root-password",
                   "--db-name", "--admin-password", "--install-app", "--with-public-files", "--with-private-files",
                   "--encryption-key")
        i = 0
        while i < len(argv):
            name, eq, value = argv[i].partition("=")
            if name == "--force":
                flags.add(name)
            elif name in options:
                if not eq:
                    i += 1
                    value = argv[i]
                values[name] = value
            elif name.startswith("-"):
                sys.stderr.write("Error: No such option: %s\n" % name)
                sys.exit(2)
            else:
                positional.append(argv[i])
            i += 1
        if len(positional) != 1:
            sys.stderr.write("Error: Missing argument 'SQL_FILE_PATH'.\n")
            sys.exit(2)
        return values, flags, positional[0]

    def header_of(path):
        opener = _gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", errors="replace") as f:
            return f.read(256)

    def restore(site, argv):
        values, flags, path = parse_restore(argv)
        force = "--force" in flags
        os.chdir("sites")
        if not os.path.isfile(os.path.join(site, "site_config.json")):
            restore_failed("IncorrectSitePath: %s does not exist" % site)
        conf = site_conf_here(site)
        for candidate in (path, os.path.join(site, "private", "backups", path), os.path.join("..", path)):
            if os.path.exists(candidate):
                path = candidate
                break
        else:
            restore_failed("File %s not found." % path)
        kind = subprocess.run(["file", path], capture_output=True, text=True).stdout
        if "cipher" in kind.rsplit(":", 1)[-1].lower() or "PGP" in kind.rsplit(":", 1)[-1]:
            key = values.get("--encryption-key")
            if not key:
                key = conf.get("backup_encryption_key")
                if not key:
                    key = os.urandom(24).hex()
                    conf["backup_encryption_key"] = key
                    with open(os.path.join(site, "site_config.json"), "w") as f:
                        f.write(json.dumps(conf, indent=1, sort_keys=True))
            plain = path + ".decrypted"
            proc = subprocess.run(["gpg", "--batch", "--yes", "--passphrase", key, "--pinentry-mode", "loopback",
                                   "-o", plain, "-d", path], capture_output=True, text=True)
            if proc.returncode != 0 or not os.path.exists(plain):
                restore_failed("Decryption failed. Please provide a valid key and try again.")
            path = plain
        head = header_of(path)
        if "Partial Backup" in head:
            print("Partial Backup file detected. You cannot use a partial file to restore a Frappe site.")
            restore_failed("Use `bench partial-restore` to restore a partial backup to an existing site.")
        version = None
        for line in head.splitlines():
            if line.startswith("-- version = "):
                version = line[len("-- version = "):].strip()
                break
        current = APP_VERSIONS["frappe"]
        if version and not force and tuple(int(x) for x in version.split(".")[:3]) > tuple(
                int(x) for x in current.split(".")[:3]):
            print("Your site is currently on Frappe %s and your backup is %s." % (current, version))
            restore_failed("This is not recommended and may lead to unexpected behaviour. Do you want to continue "
                           "anyway? [y/N]: \nAborted!")
        grep = subprocess.run(["zgrep" if path.endswith(".gz") else "grep", "-m1", "__Auth", path],
                              capture_output=True, text=True)
        if grep.returncode != 0 and not force:
            print("Table `__Auth` not found in file.")
            restore_failed("frappe.exceptions.InvalidDatabaseFile")
        root_user = values.get("--db-root-username") or values.get("--mariadb-root-username") or "root"
        root_password = values.get("--db-root-password") or values.get("--mariadb-root-password") or \
            conf.get("root_password")
        if not root_password:
            restore_failed("MySQL root password: (no terminal to ask on)")
        host, port, db = conf.get("db_host", "127.0.0.1"), conf.get("db_port", 3306), conf["db_name"]
        scope = "%"
        sql("DROP USER IF EXISTS '%s'@'%s'; DROP DATABASE IF EXISTS `%s`; CREATE USER '%s'@'%s' IDENTIFIED BY '%s'; "
            "CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; GRANT ALL PRIVILEGES ON `%s`.* "
            "TO '%s'@'%s'; FLUSH PRIVILEGES" % (db, scope, db, db, scope, conf["db_password"].replace("'", "\\'"),
                                                db, db, db, scope), root_user, root_password, host, port)
        reader = "gzip -cd" if path.endswith(".gz") else "cat"
        proc = subprocess.run(["bash", "-c", "set -o pipefail; %s %s | %s --no-defaults --protocol=TCP --host=%s "
                               "--port=%s --user=%s %s" % (reader, shlex.quote(path), REAL_CLIENT, host, port, db, db)],
                              env=dict(os.environ, MYSQL_PWD=conf["db_password"]), capture_output=True, text=True)
        if proc.returncode != 0:
            restore_failed(proc.stderr.strip())
        if "tabDefaultValue" not in sql("SHOW TABLES", db, conf["db_password"], host, port, db).split():
            restore_failed("Database not restored correctly: tabDefaultValue is missing")
        print("App frappe already installed")
        for option in ("--with-public-files", "--with-private-files"):
            archive = values.get(option)
            if not archive:
                continue
            if not os.path.exists(archive):
                archive = os.path.join("..", archive)
                if not os.path.exists(archive):
                    restore_failed("Invalid path %s" % values[option])
            copied = os.path.join(site, os.path.basename(archive))
            shutil.copy2(archive, copied)
            try:
                subprocess.run(["tar", "zxvf" if archive.endswith(".tgz") else "xvf", os.path.basename(archive),
                                "--strip", "2"], cwd=site, check=True, capture_output=True)
            except subprocess.CalledProcessError as exc:
                restore_failed("subprocess.CalledProcessError: %s" % exc)
            finally:
                os.remove(copied)
        with_files = values.get("--with-public-files") or values.get("--with-private-files")
        print("Site %s has been restored%s" % (site, " with files" if with_files else ""))
    """)

# What the stand-ins below (set-maintenance-mode, migrate, set-admin-password)
# share, as Frappe version-15 runs a site command (read at version-15,
# 15.44.2):
#   - frappe/utils/bench_helper.py `main` -> `get_apps` -> frappe/__init__.py
#     `get_all_apps` reads sites/apps.txt before click even finds the command:
#     without it every command fails with OSError "b'./apps.txt' Not Found"
#     (exit 1). The older stand-ins above do not check it;
#   - click parses the command's arguments next (usage errors, exit 2), then
#     frappe/commands/__init__.py `pass_context` runs it and turns
#     IncorrectSitePath into "Site <site> does not exist!" (exit 1);
#   - frappe/__init__.py `init` -> `get_site_config` (frappe_init below):
#     sites/common_site_config.json, then the site's site_config.json, which
#     must exist (IncorrectSitePath); FRAPPE_REDIS_QUEUE, FRAPPE_REDIS_CACHE,
#     FRAPPE_DB_TYPE, FRAPPE_DB_HOST, FRAPPE_DB_PORT of the environment win,
#     then the defaults (redis://127.0.0.1:11311 and :13311, 127.0.0.1:3306);
#   - `connect` -> frappe/database/mariadb/database.py: the site's database as
#     its own user, db_name (db_user where a later version writes one), with
#     db_password; a query that fails raises PyMySQL's exception, which nothing
#     catches (exit 1), of the class pymysql/err.py maps its number to
#     (frappe_sql: 1146 ProgrammingError, 1062 IntegrityError, ...);
#   - frappe/utils/synchronization.py `filelock`: the filelock package (~=3.13,
#     Frappe's pin) takes fcntl.flock on sites/<site>/locks/<name>.lock (made
#     with its directory, left behind), trying every 0.05 s; past the timeout
#     LockTimeoutError "Failed to aquire lock: <name>. ..." (Frappe's spelling).
_FRAPPE_SITE = textwrap.dedent(r"""
    import base64, contextlib, fcntl, hashlib, re, socket, subprocess, time
    from urllib.parse import urlparse

    class IncorrectSitePath(Exception):
        pass

    def usage_error(command, usage, message):
        sys.stderr.write("Usage: bench %s [OPTIONS]%s\nTry 'bench %s --help' for help.\n\nError: %s\n"
                         % (command, usage, command, message))
        sys.exit(2)

    def frappe_cli(site, argv, parse, run):
        os.chdir("sites")  # bench runs Frappe's commands in sites/
        if not os.path.exists("apps.txt"):
            sys.exit("OSError: b'./apps.txt' Not Found")
        options = parse(argv)
        try:
            run(site, **options)
        except IncorrectSitePath:
            print("Site %s does not exist!" % site)
            sys.exit(1)

    def get_all_apps(site):
        apps = []
        for path in ("apps.txt", os.path.join(site, "apps.txt")):
            if os.path.exists(path):
                with open(path) as f:
                    apps += [a.strip() for a in f.read().strip().splitlines()
                             if a.strip() and not a.startswith("#") and a.strip() not in apps]
        return ["frappe"] + [a for a in apps if a != "frappe"]

    def frappe_init(site):
        conf = {}
        if os.path.exists("common_site_config.json"):
            with open("common_site_config.json") as f:
                conf.update(json.loads(f.read()))
        path = os.path.join(site, "site_config.json")
        if not os.path.exists(path):
            raise IncorrectSitePath("%s does not exist" % site)
        with open(path) as f:
            conf.update(json.loads(f.read()))
        env = os.environ.get
        conf["redis_queue"] = env("FRAPPE_REDIS_QUEUE") or conf.get("redis_queue") or "redis://127.0.0.1:11311"
        conf["redis_cache"] = env("FRAPPE_REDIS_CACHE") or conf.get("redis_cache") or "redis://127.0.0.1:13311"
        conf["db_type"] = env("FRAPPE_DB_TYPE") or conf.get("db_type") or "mariadb"
        conf["db_host"] = env("FRAPPE_DB_HOST") or conf.get("db_host") or "127.0.0.1"
        conf["db_port"] = env("FRAPPE_DB_PORT") or conf.get("db_port") or 3306
        return conf

    PYMYSQL_ERRORS = {1064: "ProgrammingError", 1146: "ProgrammingError", 1062: "IntegrityError", 1406: "DataError"}

    def frappe_sql(conf, statement, ignore=()):
        # One connection as the site's user; a failure numbered in `ignore` returns None (get_value(ignore=True)).
        if os.environ.get("HARNESS_MARIADB_REAL") != "1":
            sys.exit("bench: this stand-in runs against a real MariaDB only (HARNESS_MARIADB_REAL=1)")
        cmd = [REAL_CLIENT, "--no-defaults", "--protocol=TCP", "--host=%s" % conf["db_host"],
               "--port=%s" % conf["db_port"], "--user=%s" % (conf.get("db_user") or conf["db_name"]),
               "--database=%s" % conf["db_name"], "--batch", "--skip-column-names", "--execute=%s" % statement]
        proc = subprocess.run(cmd, env=dict(os.environ, MYSQL_PWD=conf.get("db_password") or ""),
                              capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout
        match = re.search(r"ERROR (\d+) \(\w+\)(?: at line \d+)?: (.*)", proc.stderr)
        code, message = (int(match.group(1)), match.group(2).strip()) if match else (2013, proc.stderr.strip())
        if code in ignore:
            return None
        sys.exit("pymysql.err.%s: %r" % (PYMYSQL_ERRORS.get(code, "OperationalError"), (code, message)))

    def q(value):
        return str(value).replace("\\", "\\\\").replace("'", "\\'")

    @contextlib.contextmanager
    def filelock(site, name, timeout=30):
        path = os.path.abspath(os.path.join(site, "locks", name + ".lock"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    sys.exit("frappe.utils.file_lock.LockTimeoutError: Failed to aquire lock: %s. Lock may be held by "
                             "another process.<br>You can manually remove the lock if you think it's safe: %s"
                             % (name, path))
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    """)

# `bench --site S set-maintenance-mode on|off`, as Frappe version-15 runs it:
# frappe/commands/scheduler.py (not site.py) `set_maintenance_mode`: click
# checks STATE against Choice(["on", "off"]) ("Invalid value for '{on|off}'",
# "Missing argument", exit 2); the command's own --site wins over bench's
# (a missing one is still reported under bench's --site: `pass_context` names
# ctx.obj["sites"][0]); `frappe.init` (the site must exist: _FRAPPE_SITE); then
# frappe/installer.py `update_site_config("maintenance_mode", 1 or 0)`, under
# filelock("site_config") -> `_update_config_file`: the `update_config_file`
# of _SET_CONFIG (the file read first, the key set, indent 1, sorted keys).
# It touches no database and prints nothing. What maintenance_mode does is
# frappe/app.py `init_request`'s: while it is set every request fails
# (SessionStopped, 503), or with allow_reads_during_maintenance runs read-only.
_MAINTENANCE_MODE = textwrap.dedent(r"""
    def parse_maintenance_mode(argv):
        site, states = None, []
        i = 0
        while i < len(argv):
            name, eq, value = argv[i].partition("=")
            if name == "--site":
                if not eq:
                    i += 1
                    if i >= len(argv):
                        usage_error("set-maintenance-mode", " {on|off}", "Option '--site' requires an argument.")
                    value = argv[i]
                site = value
            elif name.startswith("-"):
                usage_error("set-maintenance-mode", " {on|off}", "No such option: %s" % name)
            else:
                states.append(argv[i])
            i += 1
        if not states:
            usage_error("set-maintenance-mode", " {on|off}", "Missing argument '{on|off}'. Choose from:\n\ton,\n\toff")
        if len(states) > 1:
            usage_error("set-maintenance-mode", " {on|off}",
                        "Got unexpected extra argument (%s)" % " ".join(states[1:]))
        if states[0] not in ("on", "off"):
            usage_error("set-maintenance-mode", " {on|off}",
                        "Invalid value for '{on|off}': %r is not one of 'on', 'off'." % states[0])
        return {"own_site": site, "state": states[0]}

    def set_maintenance_mode(site, argv):
        def run(bench_site, own_site, state):
            site = own_site or bench_site
            frappe_init(site)
            with filelock(site, "site_config"):
                update_config_file("maintenance_mode", 1 if state == "on" else 0,
                                   os.path.join(site, "site_config.json"))
        frappe_cli(site, argv, parse_maintenance_mode, run)
    """)

# `bench --site S migrate [--skip-failing] [--skip-search-index]` against a
# real MariaDB, as Frappe version-15 runs it: frappe/commands/site.py
# `migrate` prints "Migrating <site>", runs frappe/migrate.py
# `SiteMigration.run` and prints an empty line however that ends:
#   - `frappe.init` (the site must exist: _FRAPPE_SITE), `frappe.connect`;
#   - `required_services_running` -> frappe/utils/connections.py
#     `check_connection(redis_services=["redis_cache"])`: a TCP connection to
#     db_host:db_port and to the host and port of redis_cache (`is_open`,
#     10 s); each one that fails is "Service <mariadb|redis_cache> is not
#     running.", then BENCH_START_MESSAGE, exit 1;
#   - filelock("bench_migrate", timeout=1): a migrate of the site already
#     running makes this one fail with LockTimeoutError after a second;
#   - `setUp`: `frappe.clear_cache()` loads the hooks of the installed apps
#     (get_hooks -> get_installed_apps: the `installed_apps` global of
#     tabDefaultValue, kept to the apps of apps.txt): the first query, so a
#     database that cannot be logged into, or has no tabDefaultValue, fails
#     here with PyMySQL's error (exit 1); `add_column` adds
#     tabDocType.migration_hash varchar(140) if not exists; touched_tables.json
#     of the site is removed;
#   - `pre_schema_updates`, `run_schema_updates` (patches, `sync_all`): not
#     reproduced, but for HARNESS_MIGRATE_FAILING_PATCH=<patch>: the new
#     code's DocType "New Thing" synced (its table made, as `sync_all` makes
#     one), then its post-model-sync <patch> raises: frappe/modules/
#     patch_handler.py `run_all` -> `run_patch` re-raises it (exit 1, the
#     schema left half changed), or with --skip-failing prints "Failed to
#     execute patch" and goes on;
#   - `post_schema_updates` -> frappe/core/doctype/installed_applications
#     `update_versions` (frappe/utils/__init__.py `get_installed_apps_info` ->
#     frappe/utils/change_log.py `get_versions`): the rows of the Single's
#     child table `tabInstalled Application` (parent, parenttype
#     "Installed Applications", parentfield installed_applications) replaced,
#     in one transaction, by one per installed app of the bench: app_name,
#     app_version (the app's __version__: APP_VERSIONS, else 0.0.1) and
#     git_branch "UNVERSIONED" (`get_app_branch` runs git in apps/<app>, and
#     the image has no .git). No such table is ProgrammingError 1146, exit 1.
#     The Single's own row in tabSingles is not written;
#   - `tearDown`, however the steps went: touched_tables.json (the tables the
#     steps wrote, here `tabInstalled Application`), "Queued rebuilding of
#     search index for <site>" unless --skip-search-index (the job itself,
#     on redis_queue, is not queued).
# maintenance_mode: SiteMigration neither sets nor clears it (nothing in
# frappe/migrate.py or frappe/commands/site.py `migrate` reads or writes it;
# it is the bench CLI's `bench update`, frappe/bench bench/utils/bench.py
# `update`, that sets maintenance_mode and pause_scheduler to 1 in
# common_site_config.json around its migrate), so a site put in maintenance
# stays there after migrate. Nothing of Redis is reproduced but the TCP
# check. A migrate that completes records "bench-migrate" with the site, the
# versions it wrote and its flags.
_MIGRATE = textwrap.dedent(r"""
    BENCH_START_MESSAGE = ("\nCannot run bench migrate without the services running.\nIf you are running bench in "
                           "development mode, make sure that bench is running:\n\n$ bench start\n\nOtherwise, check "
                           "the server logs and ensure that all the required services are running.\n")

    def parse_migrate(argv):
        flags = {"--skip-failing": False, "--skip-search-index": False}
        for arg in argv:
            if arg in flags:
                flags[arg] = True
            elif arg.startswith("-"):
                usage_error("migrate", "", "No such option: %s" % arg)
            else:
                usage_error("migrate", "", "Got unexpected extra argument (%s)" % arg)
        return {"skip_failing": flags["--skip-failing"], "skip_search_index": flags["--skip-search-index"]}

    def is_open(host, port, timeout=10):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((host, int(port)))
            s.shutdown(socket.SHUT_RDWR)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def installed_apps_on_bench(conf, site):
        rows = frappe_sql(conf, "SELECT defvalue FROM `tabDefaultValue` WHERE parent = '__global' "
                                "AND defkey = 'installed_apps' ORDER BY creation").splitlines()
        if len(rows) > 1:  # get_defaults_for makes a list of a key that has several rows
            sys.exit("TypeError: the JSON object must be str, bytes or bytearray, not list")
        all_apps = get_all_apps(site)
        return [app for app in json.loads(rows[0] if rows else "[]") if app in all_apps]

    def update_versions(conf, apps):
        versions = dict((app, APP_VERSIONS.get(app, "0.0.1")) for app in apps)
        names = [os.urandom(5).hex() for _ in apps]
        where = ("`parent` = 'Installed Applications' AND `parenttype` = 'Installed Applications' "
                 "AND `parentfield` = 'installed_applications'")
        statements = ["START TRANSACTION"]
        if apps:
            statements.append(
                "INSERT INTO `tabInstalled Application` (name, creation, modified, modified_by, owner, docstatus, idx, "
                "parent, parentfield, parenttype, app_name, app_version, git_branch) VALUES " + ", ".join(
                    "('%s', NOW(6), NOW(6), 'Administrator', 'Administrator', 0, %d, 'Installed Applications', "
                    "'installed_applications', 'Installed Applications', '%s', '%s', 'UNVERSIONED')"
                    % (name, idx, q(app), q(versions[app])) for idx, (name, app) in enumerate(zip(names, apps), 1)))
            where += " AND name NOT IN (%s)" % ", ".join("'%s'" % name for name in names)
        statements += ["DELETE FROM `tabInstalled Application` WHERE " + where, "COMMIT"]
        frappe_sql(conf, "; ".join(statements))
        return versions

    def migrate(site, argv):
        def run(site, skip_failing, skip_search_index):
            print("Migrating %s" % site)
            try:
                conf = frappe_init(site)
                status = {conf["db_type"]: is_open(conf["db_host"], conf["db_port"])}
                cache = urlparse(conf["redis_cache"])
                status["redis_cache"] = is_open(cache.hostname, cache.port)
                if not all(status.values()):
                    for service, running in status.items():
                        if not running:
                            print("Service %s is not running." % service)
                    print(BENCH_START_MESSAGE)
                    sys.exit(1)
                with filelock(site, "bench_migrate", timeout=1):
                    apps = installed_apps_on_bench(conf, site)
                    frappe_sql(conf, "ALTER TABLE `tabDocType` ADD COLUMN IF NOT EXISTS migration_hash varchar(140)")
                    touched_file = os.path.join(site, "touched_tables.json")
                    if os.path.exists(touched_file):
                        os.remove(touched_file)
                    touched = set()
                    failing = os.environ.get("HARNESS_MIGRATE_FAILING_PATCH")
                    if failing:
                        frappe_sql(conf, "CREATE TABLE IF NOT EXISTS `tabNew Thing` (name varchar(140) PRIMARY KEY)")
                        if not skip_failing:
                            print("Traceback (most recent call last):\n  File \"apps/frappe/frappe/modules/"
                                  "patch_handler.py\", in run_patch\nException: %s" % failing)
                            sys.exit(1)
                        print("Failed to execute patch")
                    try:
                        versions = update_versions(conf, apps)
                        touched.add("tabInstalled Application")
                    finally:
                        with open(touched_file, "w") as f:
                            json.dump(sorted(touched), f, sort_keys=True, indent=4)
                        if not skip_search_index:
                            print("Queued rebuilding of search index for %s" % site)
                record("bench-migrate", site=site, versions=versions, skip_failing=skip_failing,
                       skip_search_index=skip_search_index)
            finally:
                print()
        frappe_cli(site, argv, parse_migrate, run)
    """)

# `bench --site S clear-cache` against a real MariaDB and Redis, as Frappe
# version-15 runs it: frappe/commands/utils.py `clear_cache`, for the site:
#   - `frappe.init` (the site must exist: _FRAPPE_SITE), `frappe.connect` (the
#     site's database as its own user: a login that fails is PyMySQL's error,
#     exit 1);
#   - `frappe.clear_cache()` (frappe/__init__.py `clear_cache`, neither user
#     nor doctype): every key of the site in redis_cache
#     (frappe/utils/redis_wrapper.py `get_keys("")`: KEYS "<db_name>|*", the
#     prefix `make_key` gives a site's keys) deleted, but for those of the
#     persistent_cache_keys hooks (none of the apps here declares any); a
#     Redis that does not answer is redis-py's ConnectionError (exit 1);
#   - `clear_website_cache`: more keys of the same site, not reproduced.
# Keys made with shared=True carry no prefix and stay (frappe/utils/__init__.py
# `get_assets_json` keeps the bench's assets_json so). It prints nothing.
_CLEAR_CACHE = textwrap.dedent(r"""
    def clear_cache(site, argv):
        def parse(argv):
            for arg in argv:
                usage_error("clear-cache", "", ("No such option: %s" if arg.startswith("-")
                                                else "Got unexpected extra argument (%s)") % arg)
            return {}

        def run(site):
            import redis
            conf = frappe_init(site)
            frappe_sql(conf, "SELECT 1")
            cache = redis.Redis.from_url(conf["redis_cache"])
            try:
                keys = cache.keys(("%s|*" % conf["db_name"]).encode())
                if keys:
                    cache.delete(*keys)
            except redis.exceptions.ConnectionError as exc:
                sys.exit("redis.exceptions.ConnectionError: %s" % exc)
            record("bench-clear-cache", site=site, deleted=sorted(k.decode() for k in keys))
        frappe_cli(site, argv, parse, run)
    """)

# `bench --site S mariadb [EXTRA...]`, as Frappe version-15 runs it:
# frappe/commands/utils.py `mariadb` (extra arguments passed through) ->
# `_enter_console`: `frappe.init` (the site must exist: _FRAPPE_SITE),
# MYSQL_HISTFILE set to <site>/logs/mariadb_console.log, then
# frappe/database/__init__.py `get_command`: the first of `mariadb`, `mysql`
# on the PATH (else frappe.throw "mariadb not found in PATH!"), with
# --user=<db_user, else db_name>, --socket=<db_socket> or else --host and
# --port, --password=<db_password>, --pager=less -SFX, --safe-updates,
# --no-auto-rehash, the database name and EXTRA; then os.execv, so stdin,
# stdout and the exit status are the client's (the image's, here: the
# `mariadb` stand-in, which runs the real one with HARNESS_MARIADB_REAL=1).
_MARIADB_CONSOLE = textwrap.dedent(r"""
    def mariadb_console(site, argv):
        def run(site, extra):
            conf = frappe_init(site)
            os.environ["MYSQL_HISTFILE"] = os.path.abspath(os.path.join(site, "logs", "mariadb_console.log"))
            client = shutil.which("mariadb") or shutil.which("mysql")
            if not client:
                sys.exit("frappe.exceptions.ExecutableNotFound: mariadb not found in PATH! This is required to "
                         "access the console.")
            args = ["--user=%s" % (conf.get("db_user") or conf["db_name"])]
            if conf.get("db_socket"):
                args.append("--socket=%s" % conf["db_socket"])
            elif conf.get("db_host") and conf.get("db_port"):
                args += ["--host=%s" % conf["db_host"], "--port=%s" % conf["db_port"]]
            if conf.get("db_password"):
                args.append("--password=%s" % conf["db_password"])
            args += ["--pager=less -SFX", "--safe-updates", "--no-auto-rehash", conf["db_name"]] + list(extra)
            os.execv(client, [client] + args)
        frappe_cli(site, argv, lambda argv: {"extra": argv}, run)
    """)

# `bench --site S set-admin-password [PASSWORD] [--logout-all-sessions]`
# against a real MariaDB, as Frappe version-15 runs it: frappe/commands/site.py
# `set_admin_password` -> `set_user_password(site, "Administrator", ...)`:
#   - click: one optional argument ADMIN_PASSWORD, the flag (exit 2 else);
#   - `frappe.init` (the site must exist: _FRAPPE_SITE);
#   - no password: `getpass.getpass("Administrator's password for <site>: ")`
#     until one is given; without a terminal (a pod) getpass warns and reads a
#     line of stdin, and EOFError ends it (exit 1);
#   - `frappe.connect`; `frappe.db.exists("User", "Administrator")`
#     (get_value with ignore=True: a missing tabUser is None too), else "User
#     Administrator does not exist" (exit 1);
#   - frappe/utils/password.py `update_password`: passlib's CryptContext
#     (pbkdf2_sha256 first) hashes the password, and one upsert writes it:
#     INSERT INTO `__Auth` (doctype, name, fieldname, password, encrypted)
#     VALUES ('User', 'Administrator', 'password', <hash>, 0) ON DUPLICATE KEY
#     UPDATE password, encrypted = 0 (one row per doctype, name, fieldname);
#   - --logout-all-sessions: frappe/sessions.py `clear_sessions(user,
#     keep_current=True, force=True)`: the user's rows of tabSessions but the
#     current one (sid "Administrator", set_user's), newest 100, each deleted
#     (`delete_session`; its Activity Log entry and the Redis keys are not
#     reproduced); then commit. It prints nothing.
# The hash is passlib's own format, made here with hashlib (passlib is not in
# the image of the harness): $pbkdf2-sha256$29000$<salt>$<checksum>, salt 16
# random bytes, checksum PBKDF2-HMAC-SHA256 of 32 bytes, both in passlib's
# base64 (ab64: no padding, "." for "+"): Frappe's check_password accepts it.
_ADMIN_PASSWORD = textwrap.dedent(r"""
    def passlib_hash(password, salt=None, rounds=29000):
        salt = salt or os.urandom(16)
        ab64 = lambda data: base64.b64encode(data).decode().rstrip("=").replace("+", ".")
        checksum = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds, 32)
        return "$pbkdf2-sha256$%d$%s$%s" % (rounds, ab64(salt), ab64(checksum))

    def update_password_sql(user, password, doctype="User", fieldname="password"):
        hashed = passlib_hash(password)
        return ("INSERT INTO `__Auth` (`doctype`, `name`, `fieldname`, `password`, `encrypted`) VALUES "
                "('%s', '%s', '%s', '%s', 0) ON DUPLICATE KEY UPDATE `password` = '%s', `encrypted` = 0"
                % (q(doctype), q(user), q(fieldname), hashed, hashed))

    def parse_set_admin_password(argv):
        passwords, logout = [], False
        for arg in argv:
            if arg == "--logout-all-sessions":
                logout = True
            elif arg.startswith("-"):
                usage_error("set-admin-password", " [ADMIN_PASSWORD]", "No such option: %s" % arg)
            else:
                passwords.append(arg)
        if len(passwords) > 1:
            usage_error("set-admin-password", " [ADMIN_PASSWORD]",
                        "Got unexpected extra argument (%s)" % " ".join(passwords[1:]))
        return {"password": passwords[0] if passwords else None, "logout_all_sessions": logout}

    def getpass_without_terminal(prompt):
        sys.stderr.write("GetPassWarning: Can not control echo on the terminal.\nWarning: Password input may be "
                         "echoed.\n" + prompt)
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            sys.exit("EOFError")
        return line[:-1] if line.endswith("\n") else line

    def set_admin_password(site, argv):
        def run(site, password, logout_all_sessions):
            conf = frappe_init(site)
            while not password:
                password = getpass_without_terminal("Administrator's password for %s: " % site)
            found = frappe_sql(conf, "SELECT name FROM `tabUser` WHERE name = 'Administrator' LIMIT 1",
                               ignore=(1054, 1146))
            if not (found or "").strip():
                print("User Administrator does not exist")
                sys.exit(1)
            frappe_sql(conf, update_password_sql("Administrator", password))
            if logout_all_sessions:
                sids = frappe_sql(conf, "SELECT sid FROM `tabSessions` WHERE user = 'Administrator' AND sid != "
                                        "'Administrator' ORDER BY lastupdate DESC LIMIT 100 OFFSET 0").splitlines()
                for sid in sids:
                    frappe_sql(conf, "DELETE FROM `tabSessions` WHERE sid = '%s'" % q(sid))
        frappe_cli(site, argv, parse_set_admin_password, run)
    """)

# `bench [--site S] set-config [-g] [-p] KEY VALUE`, as Frappe version-15 runs it:
# frappe/commands/utils.py `set_config` (-p: ast.literal_eval of the value; -g:
# sites/common_site_config.json, else each site's site_config.json after
# frappe.init, whose get_site_config in frappe/__init__.py raises
# IncorrectSitePath "<site> does not exist" without one), then
# frappe/installer.py `update_site_config` -> `_update_config_file`: the file is
# read first (a missing one is FileNotFoundError), "0"/"1" become numbers,
# "true"/"false" booleans, the value "None" deletes the key (nothing happens
# when it is absent), and the file is written back with indent 1, sorted keys.
_SET_CONFIG = textwrap.dedent('''\
    import ast
    def update_config_file(key, value, config_file):
        with open(config_file) as f:
            site_config = json.loads(f.read())
        if value in ("0", "1"):
            value = int(value)
        if value == "false":
            value = False
        if value == "true":
            value = True
        if value == "None":
            if key in site_config:
                del site_config[key]
        else:
            site_config[key] = value
        with open(config_file, "w") as f:
            f.write(json.dumps(site_config, indent=1, sort_keys=True))

    def set_config(site, rest):
        flags = [a for a in rest if a.startswith("-")]
        key, value = [a for a in rest if not a.startswith("-")]
        def given(short, long_):
            return any(f == long_ or (not f.startswith("--") and short in f[1:]) for f in flags)
        if given("p", "--parse"):
            value = ast.literal_eval(value)
        if given("g", "--global"):
            update_config_file(key, value, os.path.join("sites", "common_site_config.json"))
            return
        if site is None:
            sys.exit("bench set-config: the stand-in needs --site or -g")
        path = os.path.join("sites", site, "site_config.json")
        if not os.path.exists(path):
            sys.stderr.write("frappe.exceptions.IncorrectSitePath: %s does not exist\\n" % site)
            sys.exit(1)
        update_config_file(key, value, path)
    ''')

# `bench worker [--queue q1,q2]` up to the point where the real one blocks in
# Worker.work: frappe/utils/background_jobs.py (version-15) start_worker reads
# the bench config (frappe.init_site; get_redis_conn raises "redis_queue
# missing in common_site_config.json" without it), splits --queue on commas
# and checks every name with get_queue_list -> validate_queue against
# get_queues_timeout(): short, default, long and the keys of `workers` in
# common_site_config.json, else frappe.throw("Queue should be one of ...")
# (a ValidationError: click prints it and exits 1). A worker that passes
# records the RQ queue names it would listen on (<bench_id>:<queue>,
# generate_qname) and exits instead of blocking.
_WORKER = textwrap.dedent('''\
    def start_worker(argv):
        queue = None
        if argv[:1] == ["--queue"]:
            queue = argv[1]
        path = os.path.join("sites", "common_site_config.json")
        conf = {}
        if os.path.exists(path):
            with open(path) as f:
                conf = json.loads(f.read())
        if not conf.get("redis_queue"):
            sys.exit("Exception: redis_queue missing in common_site_config.json")
        timeouts = {"short": 300, "default": 300, "long": 1500}
        timeouts.update((w, c.get("timeout", 300)) for w, c in (conf.get("workers") or {}).items())
        queues = [q.strip() for q in queue.split(",")] if queue else list(timeouts)
        for q in queues:
            if q not in timeouts:
                sys.exit("frappe.exceptions.ValidationError: Queue should be one of %s" % ", ".join(timeouts))
        bench_id = conf.get("bench_id") or os.getcwd().strip("/").replace("/", "-")
        record("bench-worker", listens=["%s:%s" % (bench_id, q) for q in queues],
               timeouts=dict((q, timeouts[q]) for q in queues))
    ''')

# What Frappe reads as the bundle map (frappe/frappe version-15,
# frappe/utils/__init__.py get_assets_json): frappe.read_file("assets/assets.json")
# relative to the working directory (gunicorn --chdir=sites; None when the
# file is missing), merged with assets-rtl.json when that one exists.
# bundled_asset (frappe/utils/jinja_globals.py) calls .get on the result, so
# without the file every page that includes a bundle fails.
_FRAPPE_ASSETS = textwrap.dedent('''\
    def read_file(path):
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
        return None
    def get_assets_json():
        text = read_file("assets/assets.json")
        assets = json.loads(text) if text is not None else None
        rtl = read_file("assets/assets-rtl.json")
        if rtl:
            if assets is None:
                return "AttributeError: 'NoneType' object has no attribute 'update'"
            assets.update(json.loads(rtl))
        return assets
    ''')

# The gunicorn of the bench's virtualenv, the CMD of images before 2026-04-30
# (`--chdir=/home/frappe/frappe-bench/sites ... frappe.app:application`).
_GUNICORN = "#!@PYTHON@\n" + _RECORD + _FRAPPE_ASSETS + textwrap.dedent('''\
    chdir = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--chdir=")]
    if chdir:
        os.chdir(chdir[0])
    record("gunicorn", assets_json=get_assets_json())
    ''')

_STAND_INS = {
    # The mariadb client of the image: records its call, then answers a query
    # with HARNESS_MARIADB_ANSWER (default "0"), or with HARNESS_MARIADB_REAL=1
    # runs the real client of this machine (against a real server).
    "mariadb": "#!/bin/bash\n"
               "@PYTHON@ - \"$@\" <<'PY'\n" + _RECORD + "record('mariadb')\nPY\n"
               "if [ \"${HARNESS_MARIADB_REAL:-}\" = 1 ]; then exec /usr/bin/mariadb \"$@\"; fi\n"
               "cat > /dev/null\n"
               "echo \"${HARNESS_MARIADB_ANSWER:-0}\"\n",
    # frappe_docker resources/core/main-entrypoint.sh (since 2026-04-30; it
    # sets no umask), with the image's paths mapped onto the harness bench.
    "entrypoint.sh": textwrap.dedent('''\
        #!/bin/bash
        set -e
        ASSETS_PATH="$HARNESS_BENCH/sites/assets"
        BAKED_PATH="$HARNESS_BENCH/assets"
        rm -rf "$ASSETS_PATH"
        mkdir -p "$(dirname "$ASSETS_PATH")"
        ln -s "$BAKED_PATH" "$ASSETS_PATH"
        exec "$@"
        '''),
    # frappe_docker resources/core/start.sh: exec gunicorn --chdir=sites ... frappe.app:application.
    "start.sh": "#!@PYTHON@\n" + _RECORD + _FRAPPE_ASSETS + textwrap.dedent('''\
        os.chdir(os.path.join(os.environ["HARNESS_BENCH"], "sites"))
        record("start.sh", assets_json=get_assets_json())
        '''),
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
    "bench": "#!@PYTHON@\n" + _RECORD + _NEW_SITE + _SET_CONFIG + _WORKER + _BACKUP + _RESTORE + _FRAPPE_SITE
             + _MAINTENANCE_MODE + _MIGRATE + _CLEAR_CACHE + _MARIADB_CONSOLE + _ADMIN_PASSWORD + textwrap.dedent('''\
        args = sys.argv[1:]
        record("bench")
        if not (os.path.isdir("apps") and os.path.isdir("sites")):
            sys.exit("bench: not in a bench directory (no apps/ and sites/ in %s)" % os.getcwd())
        if args[:1] == ["set-config"]:
            set_config(None, args[1:])
        elif args[:1] == ["new-site"]:
            new_site(args[1:])
        elif args[:1] == ["--site"] and args[2:3] == ["install-app"]:
            site_install_app(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["set-config"]:
            set_config(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["backup"]:
            backup(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["restore"]:
            restore(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["set-maintenance-mode"]:
            set_maintenance_mode(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["migrate"]:
            migrate(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["set-admin-password"]:
            set_admin_password(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["clear-cache"]:
            clear_cache(args[1], args[3:])
        elif args[:1] == ["--site"] and args[2:3] == ["mariadb"]:
            mariadb_console(args[1], args[3:])
        elif args[:1] == ["version"]:
            version(args[1:])
        elif args[:1] == ["worker"]:
            start_worker(args[1:])
        elif args[:1] == ["schedule"]:
            pass
        else:
            sys.exit("bench: the stand-in does not reproduce %r" % args)
        '''),
}
