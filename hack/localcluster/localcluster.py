"""A real, local Kubernetes control plane for development, demos and tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake
nodes that run pods without containers) are started by ``kwokctl --runtime
binary`` from binaries built out of their upstream Go modules
(build-binaries.sh). A small provisioner of this module's own
(provision_volumes, started by ``up`` and stopped by ``down``) makes a
PersistentVolume for each claim that finds no free one in the pool, as a
dynamic provisioner would on a real cluster.  Optional pieces a test can
ask for: the KEDA CRDs, the KEDA operator running on this host against the
cluster, Redis servers on loopback ports, the MariaDB Operator's CRDs and controller, MariaDB
servers on loopback ports, and a real S3 server (SeaweedFS) on loopback ports. LocalCluster.apiserver_stopped() takes
kube-apiserver down for fault tests and brings it back.

Command line::

    localcluster.py build [COMPONENT ...]   build or reuse the cached binaries
    localcluster.py up [--name N] [--nodes 2]
    localcluster.py down [--name N]
    localcluster.py kubeconfig [--name N]   print the kubeconfig path
    localcluster.py provision-volumes --kubeconfig PATH   the provisioner (up runs it)
    localcluster.py keda-crds install|remove [--name N]
    localcluster.py mariadb-crds install|remove [--name N]

Only the Python standard library is used, so the tool runs before any
virtual environment exists.
"""

import argparse
import contextlib
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build-binaries.sh"
MANIFESTS = HERE / "manifests"
DEFAULT_CLUSTER = "frappe-dev"

# Which component (and so which cache directory) provides each binary.
BINARY_COMPONENT = {
    "kube-apiserver": "kubernetes",
    "kube-controller-manager": "kubernetes",
    "kube-scheduler": "kubernetes",
    "kubectl": "kubernetes",
    "etcd": "etcd",
    "kwok": "kwok",
    "kwokctl": "kwok",
    "keda-operator": "keda",
    "ansible-operator": "ansible-operator",
    "mariadb-operator": "mariadb-operator",
    "weed": "seaweedfs",
}
COMPONENT_VERSION_KEY = {
    "kubernetes": "KUBERNETES_VERSION",
    "etcd": "ETCD_VERSION",
    "kwok": "KWOK_VERSION",
    "keda": "KEDA_VERSION",
    "ansible-operator": "ANSIBLE_OPERATOR_VERSION",
    "mariadb-operator": "MARIADB_OPERATOR_VERSION",
    "seaweedfs": "SEAWEEDFS_VERSION",
}
CONTROL_PLANE_COMPONENTS = ("etcd", "kwok", "kubernetes")


class ClusterError(RuntimeError):
    """Something about the local cluster went wrong; the message says what."""


def log(msg):
    print("[localcluster] %s" % msg, file=sys.stderr, flush=True)


def versions():
    result = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
    return result


def cache_root():
    if os.environ.get("LOCALCLUSTER_CACHE"):
        return Path(os.environ["LOCALCLUSTER_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "vyogotech-frappe" / "localcluster"


def component_dir(component):
    return cache_root() / ("%s-%s" % (component, versions()[COMPONENT_VERSION_KEY[component]]))


def binary(name):
    """Path of a binary: the user's LOCALCLUSTER_BIN_DIR first, then the cache."""
    user_dir = os.environ.get("LOCALCLUSTER_BIN_DIR")
    if user_dir and os.access(os.path.join(user_dir, name), os.X_OK):
        return Path(user_dir) / name
    path = component_dir(BINARY_COMPONENT[name]) / "bin" / name
    if not os.access(path, os.X_OK):
        raise ClusterError(
            "%s is not built yet (looked in %s); run: %s %s"
            % (name, path.parent, BUILD_SCRIPT, BINARY_COMPONENT[name])
        )
    return path


def build(components=()):
    subprocess.run(["bash", str(BUILD_SCRIPT)] + list(components), check=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.5):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # the thing waited for is not up yet
            last_error = exc
        time.sleep(interval)
    raise ClusterError("timed out after %ss waiting for %s%s" % (
        timeout, what, " (last error: %s)" % last_error if last_error else ""))


def _pids_with_marker(marker):
    """PIDs of processes whose command line mentions marker (a unique path)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry.name))
    return pids


class Kubectl:
    """kubectl aimed at one kubeconfig; raises ClusterError with stderr on failure."""

    def __init__(self, kubeconfig):
        self.kubeconfig = Path(kubeconfig)

    def __call__(self, *args, input=None, check=True, capture=True):
        cmd = [str(binary("kubectl")), "--kubeconfig", str(self.kubeconfig)] + [str(a) for a in args]
        proc = subprocess.run(cmd, input=input, text=True, check=False,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)
        if check and proc.returncode != 0:
            raise ClusterError("kubectl %s failed: %s" % (" ".join(cmd[3:]), (proc.stderr or "").strip()))
        return proc


KEDA_CRDS = ("scaledobjects.keda.sh", "scaledjobs.keda.sh", "triggerauthentications.keda.sh",
             "clustertriggerauthentications.keda.sh")


def install_keda_crds(kubectl):
    """Apply the CRDs that ship in KEDA's Go module (kustomize, as upstream does)."""
    crd_dir = component_dir("keda") / "crd"
    if not crd_dir.is_dir():
        raise ClusterError("KEDA CRDs missing in %s; run: %s keda" % (crd_dir, BUILD_SCRIPT))
    # Server-side apply: the CRDs are larger than the last-applied annotation allows.
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=localcluster", "-k", crd_dir)
    wait_established(kubectl, KEDA_CRDS)


def wait_established(kubectl, crds, timeout=60):
    """Wait until every named CRD is Established (served by the API server)."""
    def established():
        # kubectl wait fails outright while .status.conditions is still unset.
        for crd in crds:
            conditions = json.loads(kubectl("get", "crd/" + crd, "-o", "json").stdout)
            conditions = conditions.get("status", {}).get("conditions", [])
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True
    wait_for(established, timeout, "CRDs %s to be Established" % ", ".join(crds))

    # Established is not the end: until a CRD's storage has initialised, lists
    # fail with "storage is (re)initializing", and a CRD deleted in that window
    # can keep its cleanup finalizer for minutes. Wait until lists answer.
    def listable():
        return all(kubectl("get", crd, "--all-namespaces", "-o", "name", check=False).returncode == 0
                   for crd in crds)
    wait_for(listable, timeout, "CRDs %s to serve lists" % ", ".join(crds))


def remove_keda_crds(kubectl):
    """Delete the KEDA CRDs (and so every KEDA object) and wait until keda.sh leaves discovery.

    KEDA's finalizers (on every kind of it) are dropped first: only a running
    operator removes them, and the CRDs are not deleted while any object
    still holds one (as when the operator was stopped before).
    """
    _remove_crds(kubectl, KEDA_CRDS, "keda.sh", "KEDA")


def _remove_crds(kubectl, crds, group, what):
    """Delete CRDs of one API group, dropping their objects' finalizers, until the group leaves discovery."""
    kubectl("delete", "--ignore-not-found", "--wait=false", *["crd/" + crd for crd in crds])
    for kind in crds:
        listed = kubectl("get", kind, "--all-namespaces", "--ignore-not-found",
                         "-o", "jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name}{\"\\n\"}{end}",
                         check=False)
        for line in (listed.stdout or "").splitlines() if listed.returncode == 0 else []:
            *namespace, name = line.split()  # cluster-scoped kinds have no namespace
            kubectl("patch", kind, name, *(["-n"] + namespace if namespace else []), "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}', check=False)
    kubectl("wait", "--for=delete", "--timeout=120s", *["crd/" + crd for crd in crds], check=False)
    left = kubectl("get", "--ignore-not-found", "-o", "name", *["crd/" + crd for crd in crds], check=False)
    if left.stdout.strip():
        raise ClusterError("%s CRDs not deleted within 120 s: %s" % (what, left.stdout.strip()))

    def gone():
        proc = kubectl("get", "--raw", "/apis/" + group, check=False)
        return proc.returncode != 0 and "NotFound" in (proc.stderr or "")
    wait_for(gone, 60, "the %s API group to leave discovery" % group)


# Every CRD of the MariaDB Operator: its controller indexes and watches all of
# them at start and exits when one is missing.
MARIADB_OPERATOR_CRDS = tuple("%s.k8s.mariadb.com" % plural for plural in (
    "backups", "connections", "databases", "externalmariadbs", "grants", "mariadbs", "maxscales",
    "physicalbackups", "restores", "sqljobs", "users"))


def install_mariadb_operator_crds(kubectl):
    """Apply the CRDs that ship in the MariaDB Operator's Go module (config/crd/bases)."""
    crd_dir = component_dir("mariadb-operator") / "crd"
    if not crd_dir.is_dir():
        raise ClusterError("MariaDB Operator CRDs missing in %s; run: %s mariadb-operator" % (crd_dir, BUILD_SCRIPT))
    # Server-side apply: the MariaDB and MaxScale CRDs are far larger than the
    # last-applied annotation allows.
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=localcluster", "-f", crd_dir)
    wait_established(kubectl, MARIADB_OPERATOR_CRDS)


def remove_mariadb_operator_crds(kubectl):
    """Delete the MariaDB Operator's CRDs (and every object of them), as remove_keda_crds does for KEDA.

    Objects lose their finalizers without the operator running them, so a
    Database or User is left on its server, whatever its cleanupPolicy.
    """
    _remove_crds(kubectl, MARIADB_OPERATOR_CRDS, "k8s.mariadb.com", "MariaDB Operator")


class LocalCluster:
    """One kwokctl cluster whose state lives under the cache directory."""

    def __init__(self, name=DEFAULT_CLUSTER):
        self.name = name
        self.workdir = cache_root() / "kwok"
        self.cluster_dir = self.workdir / "clusters" / name
        self.kubeconfig = self.cluster_dir / "kubeconfig.yaml"

    # -- processes ---------------------------------------------------------
    def _env(self):
        env = dict(os.environ)
        env.update({
            "KWOK_WORKDIR": str(self.workdir),
            "KWOK_KUBE_VERSION": versions()["KUBERNETES_VERSION"],
            "KWOK_KUBECTL_BINARY": str(binary("kubectl")),
        })
        env.pop("KUBECONFIG", None)
        return env

    def kwokctl(self, *args, check=True, capture=False):
        cmd = [str(binary("kwokctl")), "--name", self.name] + list(args)
        return subprocess.run(cmd, env=self._env(), check=check, text=True,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)

    def kubectl(self, *args, **kwargs):
        return Kubectl(self.kubeconfig)(*args, **kwargs)

    def exists(self):
        return (self.cluster_dir / "kwok.yaml").exists()

    def healthy(self):
        if not self.kubeconfig.exists():
            return False
        proc = self.kubectl("get", "--raw", "/readyz", check=False)
        return proc.returncode == 0 and proc.stdout.strip() == "ok"

    # -- lifecycle ---------------------------------------------------------
    def up(self, nodes=2):
        """Start the cluster (or reuse a healthy one) and prepare nodes and storage."""
        start = time.monotonic()
        if self.exists() and self.healthy():
            log("cluster %s is already running" % self.name)
        else:
            if self.exists():
                log("cluster %s left over but not healthy: recreating it" % self.name)
                self.down()
            self._create()
        self._ensure_nodes(nodes)
        self._ensure_storage()
        self._ensure_provisioner()
        log("cluster %s ready in %.1fs; KUBECONFIG=%s" % (self.name, time.monotonic() - start, self.kubeconfig))
        return self.kubeconfig

    def _create(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            "create", "cluster", "--runtime", "binary", "--config", str(HERE / "kwokctl.yaml"),
            "--kubeconfig", str(self.workdir / ("%s.merged-kubeconfig" % self.name)),
            "--etcd-binary", str(binary("etcd")),
            "--kube-apiserver-binary", str(binary("kube-apiserver")),
            "--kube-controller-manager-binary", str(binary("kube-controller-manager")),
            "--kube-scheduler-binary", str(binary("kube-scheduler")),
            "--kwok-controller-binary", str(binary("kwok")),
            "--kube-authorization=true",
            "--kube-admission=true",
            "--wait", "120s",
            "--timeout", "180s",
        ]
        self.kwokctl(*args)
        wait_for(self.healthy, 120, "kube-apiserver /readyz")

    def _ensure_nodes(self, nodes):
        proc = self.kubectl("get", "nodes", "-o", "name")
        have = len([line for line in proc.stdout.splitlines() if line.strip()])
        if have < nodes:
            self.kwokctl("scale", "node", "--replicas", str(nodes))

        def all_ready():
            data = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)
            ready = [n for n in data["items"]
                     if any(c["type"] == "Ready" and c["status"] == "True"
                            for c in n["status"].get("conditions", []))]
            return len(ready) >= nodes
        # Minutes, not seconds, on a busy host: kwok marks new nodes Ready from its own loop.
        wait_for(all_ready, 180, "%d Ready kwok nodes" % nodes)

    def _ensure_storage(self):
        self.kubectl("apply", "--server-side", "--field-manager=localcluster",
                     "-f", str(MANIFESTS / "storage.yaml"))
        self.ensure_free_volumes()

    def provisioner_pids(self):
        """PIDs of this cluster's volume provisioner (see provision_volumes)."""
        return _pids_with_marker("%s --kubeconfig %s" % (PROVISIONER_COMMAND, self.kubeconfig))

    def _ensure_provisioner(self):
        """Run provision_volumes for this cluster in a process of its own, unless it runs already.

        It outlives the command that started the cluster, as the control
        plane does; its command line names the kubeconfig inside the
        cluster's directory, so down() stops it with the other processes.
        """
        if self.provisioner_pids():
            return
        logfile = self.cluster_dir / "logs" / "localcluster-provisioner.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "ab") as out:
            subprocess.Popen([sys.executable, str(Path(__file__).resolve()), PROVISIONER_COMMAND,
                              "--kubeconfig", str(self.kubeconfig)],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env=self._env())
        wait_for(self.provisioner_pids, 10, "the volume provisioner of cluster %s to start" % self.name)

    def ensure_free_volumes(self, per_class=20):
        """Keep a pool of unbound PersistentVolumes per StorageClass and access mode.

        Claims bind to these pre-created volumes at once; a claim that finds
        none free gets one made for it by the provisioner (provision_volumes),
        a moment later. Released pool volumes (their claim was deleted) are
        made Available again.
        """
        data = json.loads(self.kubectl("get", "pv", "-l", "localcluster.vyogo.tech/pool=true",
                                       "-o", "json").stdout)
        free = {}
        for pv in data["items"]:
            phase = pv.get("status", {}).get("phase")
            if phase == "Released":
                self.kubectl("patch", "pv", pv["metadata"]["name"], "--type=json",
                             "-p", '[{"op":"remove","path":"/spec/claimRef"}]', check=False)
                phase = "Available"
            if phase == "Available":
                key = (pv["spec"].get("storageClassName"), pv["spec"]["accessModes"][0])
                free[key] = free.get(key, 0) + 1
        docs = []
        for storage_class in ("standard", "shared-nfs"):
            for mode in ("ReadWriteMany", "ReadWriteOnce"):
                missing = per_class - free.get((storage_class, mode), 0)
                docs.extend(_pool_volume(storage_class, mode) for _count in range(max(0, missing)))
        if docs:
            self.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))

    def down(self):
        """Stop every process of the cluster and delete its state."""
        if self.exists():
            self.kwokctl("delete", "cluster", check=False)
        marker = str(self.cluster_dir)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = _pids_with_marker(marker)
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if pids:
                time.sleep(2)
        left = _pids_with_marker(marker)
        if left:
            raise ClusterError("processes of cluster %s still running: %s" % (self.name, left))
        shutil.rmtree(self.cluster_dir, ignore_errors=True)
        log("cluster %s stopped; no processes left" % self.name)

    # -- faults, for tests -------------------------------------------------
    def _component_pid(self, component):
        """PID of a running component, from the pid file kwokctl keeps; None when it is not running."""
        try:
            pid = int((self.cluster_dir / "pids" / ("%s.pid" % component)).read_text().strip())
            stat = Path("/proc/%d/stat" % pid).read_text()
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return None
        # A zombie, or a reused pid, is not the component.
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X") or str(self.cluster_dir) not in cmdline:
            return None
        return pid

    def _forget_stopped_components(self):
        """Drop the pid files of components that are gone, so kwokctl start runs them again.

        kwokctl only asks whether the recorded pid exists, and a zombie does.
        """
        for pid_file in (self.cluster_dir / "pids").glob("*.pid"):
            if self._component_pid(pid_file.stem) is None:
                pid_file.unlink()

    def _apiserver_port(self):
        match = re.search(r"server:\s*https://[^:/\s]+:(\d+)", self.kubeconfig.read_text())
        if not match:
            raise ClusterError("no API server address in %s" % self.kubeconfig)
        return int(match.group(1))

    def stop_apiserver(self):
        """Kill kube-apiserver, leaving etcd, the controllers and kwok running.

        SIGKILL, as `kwokctl stop cluster` does: a graceful stop waits up to a
        minute for open watches. Clients then get "connection refused", as from
        any stopped server. Keep it short: the controller-manager and scheduler
        exit once they cannot renew their leases for 10 s (start_apiserver
        starts them again), and kwokctl does not count a binary cluster's ports
        as taken, so a cluster created meanwhile on this host may take the port.
        """
        pid = self._component_pid("kube-apiserver")
        if pid is None:
            raise ClusterError("kube-apiserver of cluster %s is not running" % self.name)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: self._component_pid("kube-apiserver") is None, 30, "kube-apiserver to exit")
        log("kube-apiserver of cluster %s stopped" % self.name)

    def start_apiserver(self, timeout=180):
        """Start kube-apiserver again, with the command line kwokctl recorded.

        Returns once the API server is ready and the controllers work through
        it again: a component that exited while it was away is started again,
        and a probe Deployment must get a running pod (controller-manager,
        scheduler and kwok all take part in that).
        """
        started = time.monotonic()
        since = datetime.datetime.now(datetime.timezone.utc)
        port = self._apiserver_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if self._component_pid("kube-apiserver") is None and sock.connect_ex(("127.0.0.1", port)) == 0:
                raise ClusterError("another process took port %d while the kube-apiserver of cluster %s was "
                                   "stopped; recreate the cluster (localcluster.py down, then up)" % (port, self.name))

        def components_running():
            if all(self._component_pid(c) for c in self.kwokctl("get", "components", capture=True).stdout.split()):
                return True
            self._forget_stopped_components()
            # Starts only what is not running, each with the command line it had.
            proc = self.kwokctl("start", "cluster", "--timeout", "60s", check=False, capture=True)
            if proc.returncode != 0:
                raise ClusterError("kwokctl start cluster failed: %s" % proc.stderr.strip()[-2000:])
            return False
        wait_for(components_running, timeout, "every component of cluster %s to run" % self.name, interval=2)
        wait_for(self.healthy, timeout, "kube-apiserver /readyz")

        def leases_renewed():
            for name in ("kube-controller-manager", "kube-scheduler"):
                lease = json.loads(self.kubectl("get", "lease", name, "-n", "kube-system", "-o", "json").stdout)
                renewed = datetime.datetime.strptime(lease["spec"]["renewTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
                if renewed.replace(tzinfo=datetime.timezone.utc) < since:
                    return False
            # They may also have exited after all, on a lease they could not renew in time.
            return components_running()
        wait_for(leases_renewed, timeout, "the controller-manager and scheduler to hold their leases again",
                 interval=1)
        self._probe_workload(timeout)
        log("kube-apiserver of cluster %s back in %.1fs" % (self.name, time.monotonic() - started))

    def _probe_workload(self, timeout):
        namespace, name = "localcluster-probe", "probe-%s" % os.urandom(3).hex()
        self.kubectl("create", "namespace", namespace, check=False)
        self.kubectl("create", "deployment", name, "-n", namespace, "--image", "registry.invalid/pause:1")

        def available():
            status = json.loads(self.kubectl("get", "deployment", name, "-n", namespace, "-o", "json").stdout)
            return status.get("status", {}).get("availableReplicas") == 1
        wait_for(available, timeout, "probe Deployment %s/%s to have a running pod" % (namespace, name))
        self.kubectl("delete", "deployment", name, "-n", namespace, "--wait=true")

    @contextlib.contextmanager
    def apiserver_stopped(self):
        """kube-apiserver is down inside the block and ready again after it."""
        self.stop_apiserver()
        try:
            yield
        finally:
            self.start_apiserver()


PROVISIONER_COMMAND = "provision-volumes"
PROVISIONER_PREFIX = "localcluster.vyogo.tech/"
# Set by kube-controller-manager on a claim once it found no volume to bind and
# waits for the external provisioner its StorageClass names.
STORAGE_PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner",
                                   "volume.beta.kubernetes.io/storage-provisioner")
PROVISIONED_LABEL = "localcluster.vyogo.tech/provisioned"


def _provisioned_volume(claim, provisioner):
    """The PersistentVolume a dynamic provisioner makes for `claim`, bound to it by claimRef."""
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            # As external provisioners name them: one claim, one volume, whoever retries.
            "name": "pvc-%s" % meta["uid"],
            "labels": {PROVISIONED_LABEL: "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec["accessModes"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            # Nothing is stored on it: it goes with its claim.
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec["storageClassName"],
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"]},
            # Fake nodes never mount it; a hostPath source keeps the object valid.
            "hostPath": {"path": "/tmp/localcluster-pv-%s" % meta["uid"]},
        },
    }


def provision_pass(kubectl):
    """Make a volume for each claim that waits for this cluster's provisioner; delete released ones.

    Returns the names of the volumes made and deleted.
    """
    made, deleted = [], []
    claims = json.loads(kubectl("get", "pvc", "--all-namespaces", "-o", "json").stdout)["items"]
    for claim in claims:
        annotations = claim["metadata"].get("annotations") or {}
        provisioner = next((annotations[a] for a in STORAGE_PROVISIONER_ANNOTATIONS if a in annotations), "")
        if (not provisioner.startswith(PROVISIONER_PREFIX) or claim["spec"].get("volumeName")
                or (claim.get("status") or {}).get("phase") != "Pending"
                or claim["metadata"].get("deletionTimestamp")):
            continue
        volume = _provisioned_volume(claim, provisioner)
        proc = kubectl("create", "-f", "-", input=json.dumps(volume), check=False)
        if proc.returncode == 0:
            made.append(volume["metadata"]["name"])
        elif "AlreadyExists" not in proc.stderr:
            log("could not provision a volume for claim %s/%s: %s" % (
                claim["metadata"]["namespace"], claim["metadata"]["name"], proc.stderr.strip()))
    volumes = json.loads(kubectl("get", "pv", "-l", "%s=true" % PROVISIONED_LABEL, "-o", "json").stdout)["items"]
    for volume in volumes:
        if ((volume.get("status") or {}).get("phase") in ("Released", "Failed")
                and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"):
            kubectl("delete", "pv", volume["metadata"]["name"], "--wait=false", "--ignore-not-found", check=False)
            deleted.append(volume["metadata"]["name"])
    return made, deleted


def provision_volumes(kubeconfig, resync_seconds=30):
    """Serve the local StorageClasses as a dynamic provisioner would, until killed.

    Fake nodes mount nothing, so no CSI driver runs; this loop stands in for
    one. A watch on the claims only says when to look (a pass lists them all
    and is idempotent), so an event missed while the API server was away is
    made up by the next pass or the periodic resync.
    """
    kubectl = Kubectl(kubeconfig)
    while True:
        watch = None
        try:
            provision_pass(kubectl)
            watch = subprocess.Popen([str(binary("kubectl")), "--kubeconfig", str(kubeconfig), "get", "pvc",
                                      "--all-namespaces", "--watch-only", "-o", "name"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            while watch.poll() is None:
                ready = select.select([watch.stdout], [], [], resync_seconds)[0]
                if ready:
                    if not watch.stdout.readline():
                        break
                    # A burst of claims (a bench has several) is served in one pass.
                    while select.select([watch.stdout], [], [], 0.2)[0] and watch.stdout.readline():
                        pass
                made, deleted = provision_pass(kubectl)
                for name in made:
                    log("provisioned %s" % name)
                for name in deleted:
                    log("deleted released %s" % name)
        except (ClusterError, OSError, ValueError, KeyError) as exc:
            log("provisioner: %s; retrying" % exc)
        finally:
            if watch is not None and watch.poll() is None:
                watch.kill()
                watch.wait()
        time.sleep(1)


def _pool_volume(storage_class, mode):
    suffix = os.urandom(4).hex()
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "generateName": "pool-%s-%s-" % (storage_class, "rwx" if mode == "ReadWriteMany" else "rwo"),
            "labels": {"localcluster.vyogo.tech/pool": "true"},
        },
        "spec": {
            "capacity": {"storage": "100Gi"},
            "accessModes": [mode],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            # Fake nodes never mount it; a hostPath source keeps the object valid.
            "hostPath": {"path": "/tmp/localcluster-pv-%s" % suffix},
        },
    }


class ManagedProcess:
    """A background process with a log file, stopped with the test session."""

    def __init__(self, name, cmd, env=None, logdir=None):
        self.name = name
        self.cmd = [str(c) for c in cmd]
        self.env = env
        self.logdir = Path(logdir or tempfile.mkdtemp(prefix="localcluster-%s-" % name))
        self.logfile = self.logdir / ("%s.log" % name)
        self.proc = None

    def start(self):
        self.logdir.mkdir(parents=True, exist_ok=True)
        out = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        out.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self):
        if not self.running():
            raise ClusterError("%s exited (code %s); last log lines:\n%s" % (
                self.name, self.proc.returncode if self.proc else None, self.log_tail()))

    def stop(self, timeout=20):
        if not self.running():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


class RedisServer(ManagedProcess):
    """redis-server on a loopback port, optionally with a password."""

    def __init__(self, password=None, logdir=None):
        self.port = free_port()
        self.password = password
        self.host = "127.0.0.1"
        server = shutil.which("redis-server")
        if not server:
            raise ClusterError("redis-server is not installed (Debian package redis-server)")
        cmd = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--daemonize", "no"]
        if password:
            cmd += ["--requirepass", password]
        super().__init__("redis-%d" % self.port, cmd, logdir=logdir)

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def start(self):
        super().start()

        def answers():
            self.check_alive()
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                if self.password:
                    sock.sendall(b"AUTH %s\r\n" % self.password.encode())
                    sock.recv(64)
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        wait_for(answers, 20, "redis-server on port %d" % self.port)
        return self


class KedaOperator(ManagedProcess):
    """The KEDA operator running on this host against the local cluster.

    0 <-> 1 scaling is done by the operator itself; 1 -> N needs KEDA's
    metrics adapter behind an APIService, which a process outside the
    cluster cannot serve, so tests stay within 0 <-> 1 (and HPA-free checks).
    """

    NAMESPACE = "keda"
    # Its leader-election Lease (KEDA's default id): the signal that the operator runs.
    LEASE = "operator.keda.sh"

    def __init__(self, cluster, logdir=None):
        self.cluster = cluster
        logdir = Path(logdir or tempfile.mkdtemp(prefix="localcluster-keda-"))
        self.cert_dir = logdir / "certs"
        self.health_port = free_port()
        env = dict(os.environ)
        env.update({
            "KUBECONFIG": str(cluster.kubeconfig),
            "WATCH_NAMESPACE": "",
            "POD_NAMESPACE": self.NAMESPACE,
            "KEDA_CLUSTER_OBJECT_NAMESPACE": self.NAMESPACE,
            "OPERATOR_NAME": "keda-operator",
        })
        cmd = [
            binary("keda-operator"),
            # As KEDA's own chart runs it: the Lease it renews tells others it is alive.
            "--leader-elect=true",
            "--cert-dir", self.cert_dir,
            "--metrics-bind-address", "127.0.0.1:%d" % free_port(),
            "--health-probe-bind-address", "127.0.0.1:%d" % self.health_port,
            "--metrics-service-bind-address", "127.0.0.1:%d" % free_port(),
            "--enable-cert-rotation=false",
            "--zap-log-level=info",
        ]
        super().__init__("keda-operator", cmd, env=env, logdir=logdir)

    def _make_certs(self):
        self.cert_dir.mkdir(parents=True, exist_ok=True)
        ca_key, ca_crt = self.cert_dir / "ca.key", self.cert_dir / "ca.crt"
        key, csr, crt = self.cert_dir / "tls.key", self.cert_dir / "tls.csr", self.cert_dir / "tls.crt"
        ext = self.cert_dir / "san.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")

        def run(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
            "-days", "2", "-subj", "/CN=localcluster-keda-ca")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
        run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(crt), "-days", "2", "-extfile", str(ext))

    def start(self):
        self.cluster.kubectl("create", "namespace", self.NAMESPACE, check=False)
        self._make_certs()
        super().start()

        def ready():
            self.check_alive()
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.health_port, timeout=2) as resp:
                return resp.status == 200
        wait_for(ready, 90, "the KEDA operator's readiness probe")

        def leading():
            self.check_alive()
            proc = self.cluster.kubectl("get", "lease", self.LEASE, "-n", self.NAMESPACE,
                                        "-o", "jsonpath={.spec.holderIdentity}", check=False)
            return proc.returncode == 0 and proc.stdout.strip() != ""
        # A Lease left by an operator that stopped is taken over once it expires.
        wait_for(leading, 60, "the KEDA operator to hold its Lease %s/%s" % (self.NAMESPACE, self.LEASE))
        return self

    def forget_lease(self):
        """Delete the Lease, as if leader election had never run (for tests of KEDA without its operator)."""
        self.cluster.kubectl("delete", "lease", self.LEASE, "-n", self.NAMESPACE, "--ignore-not-found", check=False)


def _program(*names):
    """Path of the first of names on PATH or in the sbin directories (mariadbd lives in /usr/sbin)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def _sql_string(value):
    """value as a single-quoted SQL string literal."""
    return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")


class MariaDBError(ClusterError):
    """A statement run through the mariadb client failed; stderr says why."""

    def __init__(self, message, stderr):
        super().__init__(message)
        self.stderr = stderr


class MariaDBServer(ManagedProcess):
    """mariadbd on a loopback port, with a fresh data directory of its own.

    `root_user` logs in over TCP (as root@'%' and root@127.0.0.1) with
    `root_password`, which also guards root@localhost on the socket. A fresh
    data directory also holds accounts without a password (root@::1,
    root@<hostname>, with some versions anonymous users) that can shadow
    root@'%' and the users tests create for TCP logins; they are dropped.
    The server starts in well under a second. No option file is read
    (--no-defaults), so a system-wide MariaDB and its configuration do not
    matter. stop() removes the data directory and keeps the log.
    """

    def __init__(self, root_password=None, logdir=None):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.root_user = "root"
        self.root_password = root_password or "root-%s" % os.urandom(8).hex()
        self.server = _program("mariadbd", "mysqld")
        self.install_db = _program("mariadb-install-db", "mysql_install_db")
        self.client = _program("mariadb", "mysql")
        if not (self.server and self.install_db and self.client):
            raise ClusterError("mariadbd, mariadb-install-db or the mariadb client is missing "
                               "(Debian package mariadb-server)")
        logdir = Path(logdir or tempfile.mkdtemp(prefix="localcluster-mariadb-"))
        self.datadir = logdir / "data"
        # A Unix socket path must fit in 108 bytes; a deep log directory would not.
        self.rundir = logdir if len(str(logdir)) < 80 else Path(tempfile.mkdtemp(prefix="mariadb-"))
        self.socket = self.rundir / "mariadbd.sock"
        self.pid_file = self.rundir / "mariadbd.pid"
        self.startup_seconds = None  # install + start + securing root, once started
        cmd = [self.server] + self._common_args() + [
            "--port=%d" % self.port,
            "--bind-address=127.0.0.1",
            "--socket=%s" % self.socket,
            "--pid-file=%s" % self.pid_file,
            "--tmpdir=%s" % self.rundir,
        ]
        super().__init__("mariadb-%d" % self.port, cmd, logdir=logdir)

    def _common_args(self):
        # --no-defaults must come first. mariadbd refuses to run as root unless told to.
        args = ["--no-defaults", "--datadir=%s" % self.datadir]
        if os.geteuid() == 0:
            args.append("--user=root")
        # Small buffers: a test server holds a few tiny databases and starts fast.
        args += ["--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"]
        return args

    def start(self):
        started = time.monotonic()
        self.logdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([self.install_db] + self._common_args() + [
            "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ClusterError("mariadb-install-db failed: %s" % (proc.stderr or proc.stdout).strip()[-2000:])
        super().start()

        def answers():
            self.check_alive()
            return self._client("SELECT 1", self.root_user, "", socket_login=True).returncode == 0
        try:
            wait_for(answers, 60, "mariadbd on port %d (log: %s)" % (self.port, self.logfile), interval=0.2)
            self._secure_root()
        except BaseException:
            self.stop()  # nobody else holds it yet
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _secure_root(self):
        accounts = self._client("SELECT User, Host FROM mysql.user WHERE is_role = 'N'",
                                self.root_user, "", socket_login=True)
        statements = []
        for line in accounts.stdout.splitlines():
            user, host = line.split("\t")
            if user == "" or (user == self.root_user and host not in ("localhost", "127.0.0.1")):
                statements.append("DROP USER %s@%s" % (_sql_string(user), _sql_string(host)))
        password = _sql_string(self.root_password)
        for host in ("localhost", "127.0.0.1", "%"):
            statements.append("CREATE USER IF NOT EXISTS %s@%s" % (_sql_string(self.root_user), _sql_string(host)))
            statements.append("ALTER USER %s@%s IDENTIFIED BY %s" % (
                _sql_string(self.root_user), _sql_string(host), password))
            statements.append("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION" % (
                _sql_string(self.root_user), _sql_string(host)))
        proc = self._client("; ".join(statements), self.root_user, "", socket_login=True)
        if proc.returncode != 0:
            raise ClusterError("securing root on mariadbd port %d failed: %s" % (self.port, proc.stderr.strip()))

    def _client(self, statement, user, password, database=None, socket_login=False):
        cmd = [self.client, "--no-defaults", "--batch", "--skip-column-names", "--user=%s" % user]
        if socket_login:
            cmd += ["--protocol=SOCKET", "--socket=%s" % self.socket]
        else:
            cmd += ["--protocol=TCP", "--host=%s" % self.host, "--port=%d" % self.port]
        if database:
            cmd.append("--database=%s" % database)
        env = dict(os.environ)
        # The password goes through the environment, not the command line.
        env.pop("MYSQL_PWD", None)
        if password:
            env["MYSQL_PWD"] = password
        return subprocess.run(cmd + ["--execute=%s" % statement], env=env, capture_output=True, text=True,
                              check=False, timeout=60)

    def sql(self, statement, user=None, password=None, database=None):
        """Run statement(s) with the mariadb client over TCP and return its stdout (tab-separated rows).

        Without user, as root with the root password. Raises MariaDBError
        (a ClusterError) with the client's stderr when it fails.
        """
        if user is None:
            user = self.root_user
            if password is None:
                password = self.root_password
        proc = self._client(statement, user, password or "", database)
        if proc.returncode != 0:
            raise MariaDBError("mariadb as %s on port %d failed: %s" % (user, self.port, proc.stderr.strip()),
                               proc.stderr)
        return proc.stdout

    def stop(self, timeout=20):
        super().stop(timeout=timeout)
        shutil.rmtree(self.datadir, ignore_errors=True)
        if self.rundir != self.logdir:
            shutil.rmtree(self.rundir, ignore_errors=True)


class S3Server(ManagedProcess):
    """A real S3 server on loopback ports: SeaweedFS's ``weed server -s3``, with a data directory of its own.

    It knows one identity, `access_key`/`secret_key` (generated unless
    given), allowed everything; any other credentials are refused, as a
    cloud bucket would refuse them. `endpoint` is its S3 URL (path-style
    addressing). A fresh server holds no bucket; stop() removes its data
    and keeps the log.
    """

    def __init__(self, access_key=None, secret_key=None, logdir=None):
        self.host = "127.0.0.1"
        self.access_key = access_key or "test-%s" % os.urandom(6).hex()
        self.secret_key = secret_key or os.urandom(20).hex()
        logdir = Path(logdir or tempfile.mkdtemp(prefix="localcluster-s3-"))
        self.datadir = logdir / "data"
        self.config = logdir / "s3-identities.json"
        # Every port explicit, the gRPC ones included: weed's default (the HTTP port + 10000) may be taken or
        # beyond 65535.
        ports = dict((name, free_port()) for name in (
            "s3", "s3.grpc", "master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc"))
        self.port = ports["s3"]
        port_flags = ["-%s.port%s=%d" % (name.split(".")[0], ".grpc" if name.endswith(".grpc") else "", port)
                      for name, port in sorted(ports.items())]
        cmd = [binary("weed"), "server", "-ip=%s" % self.host, "-ip.bind=%s" % self.host, "-dir=%s" % self.datadir,
               "-s3", "-s3.config=%s" % self.config] + port_flags + [
                   # Its Iceberg and Lance catalogs would take fixed ports (two servers could not run at once).
                   "-s3.port.iceberg=0", "-s3.port.lance=0",
                   # A test server: small volumes, no usage reports sent out.
                   "-master.volumeSizeLimitMB=64", "-volume.max=0", "-master.telemetry=false"]
        super().__init__("s3-%d" % self.port, cmd, logdir=logdir)

    @property
    def endpoint(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps({"identities": [{
            "name": "backups", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        self.config.chmod(0o600)
        super().start()

        def answers():
            self.check_alive()
            # Unsigned: an S3 server refuses it (403 AccessDenied) once it serves; before that, no answer.
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=2)
            except urllib.error.HTTPError as exc:
                return exc.code == 403
            return False
        try:
            wait_for(answers, 90, "the S3 server on port %d (log: %s)" % (self.port, self.logfile), interval=0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=3):
        # weed takes about 20 s to leave on SIGTERM (its servers drain one by one); the data goes anyway.
        super().stop(timeout=timeout)
        shutil.rmtree(self.datadir, ignore_errors=True)


class MariaDBOperator(ManagedProcess):
    """The MariaDB Operator's controller running on this host against the local cluster.

    It needs its CRDs installed first (install_mariadb_operator_crds) and runs
    without webhooks and without leader election. Objects that make it run
    pods (MariaDB, MaxScale, backups) are of no use on fake nodes; the SQL
    kinds (Database, User, Grant) work against an ExternalMariaDB such as a
    MariaDBServer on loopback.
    """

    NAMESPACE = "mariadb-operator"
    # Ready once these controllers run their workers (see start()).
    CONTROLLERS = ("externalmariadb", "database", "user", "grant")

    def __init__(self, cluster, logdir=None, extra_args=()):
        self.cluster = cluster
        logdir = Path(logdir or tempfile.mkdtemp(prefix="localcluster-mariadb-operator-"))
        self.health_port = free_port()
        self.metrics_port = free_port()
        # It reads the file only to authenticate to the agents of MariaDB pods it runs itself.
        sa_token = logdir / "serviceaccount-token"
        version = versions()["MARIADB_OPERATOR_VERSION"].lstrip("v")
        env = dict(os.environ)
        env.update({
            "KUBECONFIG": str(cluster.kubeconfig),
            "WATCH_NAMESPACE": "",
            # Required at start; the images (the defaults of the module's own
            # Makefile) only matter for pods it would run.
            "MARIADB_OPERATOR_NAME": "mariadb-operator",
            "MARIADB_OPERATOR_NAMESPACE": self.NAMESPACE,
            "MARIADB_OPERATOR_SA_PATH": str(sa_token),
            "MARIADB_OPERATOR_IMAGE": "docker-registry3.mariadb.com/mariadb-operator/mariadb-operator:%s" % version,
            "RELATED_IMAGE_MARIADB": "docker-registry1.mariadb.com/library/mariadb:11.8.2",
            "RELATED_IMAGE_MARIADB_NAME": "docker-registry1.mariadb.com/library/mariadb",
            "RELATED_IMAGE_MAXSCALE": "docker-registry2.mariadb.com/mariadb/maxscale:23.08.5",
            "RELATED_IMAGE_EXPORTER": "prom/mysqld-exporter:v0.15.1",
            "RELATED_IMAGE_EXPORTER_MAXSCALE":
                "docker-registry2.mariadb.com/mariadb/maxscale-prometheus-exporter-ubi:v0.0.1",
            "MARIADB_GALERA_LIB_PATH": "/usr/lib/galera/libgalera_smm.so",
            "MARIADB_DEFAULT_VERSION": "11.8",
        })
        self._sa_token = sa_token
        cmd = [
            binary("mariadb-operator"),
            "--metrics-addr", "127.0.0.1:%d" % self.metrics_port,
            "--health-addr", "127.0.0.1:%d" % self.health_port,
            "--leader-elect=false",
            "--log-level=info",
        ] + list(extra_args)
        super().__init__("mariadb-operator", cmd, env=env, logdir=logdir)

    def _started_controllers(self):
        started = set()
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return started
        for line in lines:
            if '"Starting workers"' not in line:
                continue
            try:
                started.add(json.loads(line).get("controller"))
            except ValueError:
                continue
        return started

    def start(self):
        self.cluster.kubectl("create", "namespace", self.NAMESPACE, check=False)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._sa_token.write_text("not-a-token\n")
        super().start()

        # Without --webhook it registers no health checks, so /healthz and
        # /readyz answer 404; its log says when the controllers run instead.
        def ready():
            self.check_alive()
            return set(self.CONTROLLERS) <= self._started_controllers()
        try:
            wait_for(ready, 90, "the MariaDB Operator's controllers %s to start (log: %s)" % (
                ", ".join(self.CONTROLLERS), self.logfile), interval=0.2)
        except BaseException:
            self.stop()  # nobody else holds it yet
            raise
        return self


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build (or reuse) the cached binaries")
    p_build.add_argument("components", nargs="*")
    p_up = sub.add_parser("up", help="start the cluster (reuses a running one)")
    p_up.add_argument("--nodes", type=int, default=2)
    sub.add_parser("down", help="stop the cluster and remove its state")
    sub.add_parser("kubeconfig", help="print the kubeconfig path")
    sub.add_parser("status", help="exit 0 when the cluster answers /readyz")
    p_prov = sub.add_parser(PROVISIONER_COMMAND, help="run the volume provisioner (up starts it)")
    p_prov.add_argument("--kubeconfig", required=True)
    p_crds = sub.add_parser("keda-crds", help="install or remove the KEDA CRDs")
    p_crds.add_argument("action", choices=("install", "remove"))
    p_mdb_crds = sub.add_parser("mariadb-crds", help="install or remove the MariaDB Operator's CRDs")
    p_mdb_crds.add_argument("action", choices=("install", "remove"))
    for p in (p_up, sub.choices["down"], sub.choices["kubeconfig"], sub.choices["status"], p_crds, p_mdb_crds):
        p.add_argument("--name", default=os.environ.get("LOCALCLUSTER_NAME", DEFAULT_CLUSTER))
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            build(args.components)
            return 0
        if args.command == PROVISIONER_COMMAND:
            provision_volumes(args.kubeconfig)
        cluster = LocalCluster(args.name)
        if args.command == "up":
            build(CONTROL_PLANE_COMPONENTS)
            print(cluster.up(nodes=args.nodes))
        elif args.command == "down":
            cluster.down()
        elif args.command == "kubeconfig":
            print(cluster.kubeconfig)
        elif args.command == "status":
            return 0 if cluster.healthy() else 1
        elif args.command == "keda-crds":
            build(["keda"])
            action = install_keda_crds if args.action == "install" else remove_keda_crds
            action(Kubectl(cluster.kubeconfig))
        elif args.command == "mariadb-crds":
            build(["mariadb-operator"])
            action = install_mariadb_operator_crds if args.action == "install" else remove_mariadb_operator_crds
            action(Kubectl(cluster.kubeconfig))
    except (ClusterError, subprocess.CalledProcessError) as exc:
        log("error: %s" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
