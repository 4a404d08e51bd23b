"""Helpers shared by the integration tests and their fixtures (conftest.py)."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack" / "localcluster"))

import localcluster  # noqa: E402  (lives outside any package on purpose: stdlib-only CLI)


class Kube:
    """The cluster under test: kubeconfig, API clients and a kubectl."""

    def __init__(self, kubeconfig, local):
        self.kubeconfig = str(kubeconfig)
        self.local = local  # a LocalCluster, or None for a cluster we did not start
        self.api = config.new_client_from_config(config_file=self.kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.ext = client.ApiextensionsV1Api(self.api)

        self.kubectl = localcluster.Kubectl(self.kubeconfig)

    def apply(self, obj_or_yaml, namespace=None):
        text = obj_or_yaml if isinstance(obj_or_yaml, str) else yaml.safe_dump(obj_or_yaml)
        args = ["apply", "--server-side", "--field-manager=pytest", "-f", "-"]
        if namespace:
            args += ["-n", namespace]
        return self.kubectl(*args, input=text)

    def group_served(self, group):
        return group in [g.name for g in client.ApisApi(self.api).get_api_versions().groups]

    def env(self):
        """Environment for subprocesses (ansible-playbook, operators) aimed at this cluster."""
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env["K8S_AUTH_KUBECONFIG"] = self.kubeconfig
        return env


def wait_until(predicate, timeout, what, interval=0.5):
    """Poll predicate() until it returns a truthy value; fail with `what` (a string, or a
    callable giving one at failure time) on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except ApiException as exc:
            last = "%s %s" % (exc.status, exc.reason)
        time.sleep(interval)
    what = what() if callable(what) else what
    pytest.fail("timed out after %ss waiting for %s%s" % (timeout, what, " (last: %s)" % last if last else ""))


class KedaCrds:
    """Installs and removes the KEDA CRDs, waiting for discovery to follow."""

    def __init__(self, kube):
        self.kube = kube

    def install(self):
        localcluster.install_keda_crds(self.kube.kubectl)
        wait_until(lambda: self.kube.group_served("keda.sh"), 60, "keda.sh in discovery")

    def remove(self):
        localcluster.remove_keda_crds(self.kube.kubectl)

    @property
    def installed(self):
        return self.kube.group_served("keda.sh")


def manager_proxy_args():
    """The proxy flags of the shipped manager (config/manager/manager.yaml), to run the binary as it runs there."""
    manager = yaml.safe_load((REPO / "config" / "manager" / "manager.yaml").read_text())
    args = manager["spec"]["template"]["spec"]["containers"][0]["args"]
    return [a for a in args if a.startswith("--inject-owner-ref")]


class AnsibleOperator(localcluster.ManagedProcess):
    """The real ansible-operator binary running a watches file against the cluster."""

    def __init__(self, kube, watches_file, namespace, logdir, roles_path=None, collections_path=None,
                 extra_args=()):
        self.health_port = localcluster.free_port()
        env = kube.env()
        # ansible-runner and ansible-playbook come from the environment running the tests.
        env["PATH"] = "%s:%s" % (Path(sys.executable).parent, env.get("PATH", ""))
        env["WATCH_NAMESPACE"] = namespace
        # Roles must reach the API through the operator's proxy (it injects owner references).
        env.pop("K8S_AUTH_KUBECONFIG", None)
        env["ANSIBLE_LOCAL_TEMP"] = str(Path(logdir) / "ansible-tmp")
        cmd = [
            localcluster.binary("ansible-operator"), "run",
            "--watches-file", watches_file,
            "--leader-elect=false",
            # The kubeconfig the operator hands to ansible-runner always names
            # localhost:8888 (upstream reconcile.go), so the proxy must listen there
            # and only one operator can run on a host at a time.
            "--proxy-port", "8888",
            "--metrics-bind-address", "127.0.0.1:%d" % localcluster.free_port(),
            "--health-probe-bind-address", "127.0.0.1:%d" % self.health_port,
            "--zap-encoder", "console",
        ]
        if roles_path:
            cmd += ["--ansible-roles-path", roles_path]
        if collections_path:
            cmd += ["--ansible-collections-path", collections_path]
        cmd += list(extra_args)
        super().__init__("ansible-operator", cmd, env=env, logdir=logdir)

    def start(self):
        super().start()

        def healthy():
            self.check_alive()
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.health_port, timeout=2) as resp:
                return resp.status == 200
        localcluster.wait_for(healthy, 60, "ansible-operator's readiness probe")
        return self


class PlaybookRun:
    """The outcome of one ansible-playbook run (json callback)."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.json = json.loads(proc.stdout)
        except ValueError:
            self.json = {}
        self.stats = self.json.get("stats", {}).get("localhost", {})
        # How many runs of the playbook led to this one (run_until counts them).
        self.runs = 1

    @property
    def changed(self):
        return self.stats.get("changed")

    def task_results(self, name):
        """Results of every task whose name ends with `name`."""
        found = []
        for play in self.json.get("plays", []):
            for task in play.get("tasks", []):
                if task["task"]["name"].endswith(name):
                    found.append(task["hosts"].get("localhost", {}))
        return found

    @property
    def warnings(self):
        out = []
        for play in self.json.get("plays", []):
            for task in play.get("tasks", []):
                result = task["hosts"].get("localhost", {})
                out.extend(result.get("warnings", []))
                for item in result.get("results", []) or []:
                    out.extend(item.get("warnings", []) if isinstance(item, dict) else [])
        return out

    @property
    def failures(self):
        """(task name, msg) of every failed task (or its failed loop items), in the order of the run."""
        out = []
        for play in self.json.get("plays", []):
            for task in play.get("tasks", []):
                result = task["hosts"].get("localhost", {})
                if result.get("failed") and not result.get("skipped"):
                    items = [i.get("msg", "") for i in result.get("results", []) or []
                             if isinstance(i, dict) and i.get("failed")]
                    out.append((task["task"]["name"], "\n".join(items) or str(result.get("msg", ""))))
        return out

    @property
    def failure_message(self):
        failures = self.failures
        return failures[0][1] if failures else ""

    def explain(self):
        return "rc=%s stats=%s failure=%s\nstderr:\n%s" % (
            self.rc, self.stats, self.failure_message, self.stderr[-3000:])


def playbook_command(kube, playbook, extra_vars, kubeconfig=None):
    """The command line and environment of ansible-playbook from this checkout (json output)."""
    env = kube.env()
    if kubeconfig:
        env["KUBECONFIG"] = env["K8S_AUTH_KUBECONFIG"] = str(kubeconfig)
    env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(REPO / "playbooks" / playbook),
           "-e", json.dumps(extra_vars)]
    return cmd, env


def run_playbook(kube, playbook, extra_vars, kubeconfig=None):
    """ansible-playbook from this checkout against the cluster (or another kubeconfig)."""
    cmd, env = playbook_command(kube, playbook, extra_vars, kubeconfig)
    return PlaybookRun(subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(REPO), check=False))


def write_manifest(tmp_path, *objects, name="manifest.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(objects))
    return path


def reconcile(kube, tmp_path, obj, kubeconfig=None, **extra_vars):
    """playbooks/site.yml for one object, as a user would run it (with -e extra_vars)."""
    return run_playbook(kube, "site.yml", dict(extra_vars, frappe_manifest=str(write_manifest(tmp_path, obj))),
                        kubeconfig)


PLURALS = {"FrappeBench": "frappebenches", "FrappeSite": "frappesites"}


def _conditions(status):
    return dict((c.get("type"), c.get("status")) for c in (status or {}).get("conditions") or [])


def configured(status):
    """The bench's configuration Job of its current spec has completed, so that run applied its processes."""
    return _conditions(status).get("ConfigReady") == "True"


def ready(status):
    """Ready=True: every component of the object is available."""
    return _conditions(status).get("Ready") == "True"


def _status_says(kube, obj, until):
    group, version = obj["apiVersion"].split("/")
    meta = obj["metadata"]
    current = kube.custom.get_namespaced_custom_object(group, version, meta["namespace"], PLURALS[obj["kind"]],
                                                       meta["name"])
    status = current.get("status") or {}
    generation = current["metadata"].get("generation")
    return status.get("observedGeneration", generation) == generation and until(status), status


def run_until(kube, tmp_path, objects, until=ready, runs=12, pause=2.0, kubeconfig=None):
    """playbooks/site.yml for a manifest of objects, run again until each one's status says `until`, at most `runs` runs.

    A reconcile never waits for a Job or a rollout; site.yml runs reconcile
    rounds while a bench is on its way, so one run usually is enough, and a
    later run goes on where a bounded one stopped (as a user would run the
    playbook again). Returns the last run, with `runs` set to how many there
    were; a failed run is returned at once.
    """
    manifest = {"frappe_manifest": str(write_manifest(tmp_path, *objects))}
    waiting = []
    for attempt in range(runs):
        run = run_playbook(kube, "site.yml", manifest, kubeconfig)
        run.runs = attempt + 1
        if run.rc != 0:
            return run
        waiting = [(obj, status) for obj, (said, status) in ((o, _status_says(kube, o, until)) for o in objects)
                   if not said]
        if not waiting:
            return run
        time.sleep(pause)
    pytest.fail("the status never said %s in %d runs: %s" % (until.__name__, runs, "; ".join(
        "%s %s: %s" % (obj["kind"], obj["metadata"]["name"], json.dumps(status)[:2000]) for obj, status in waiting)))


def reconcile_until(kube, tmp_path, obj, until=ready, runs=12, pause=2.0, kubeconfig=None):
    """run_until for one object."""
    return run_until(kube, tmp_path, [obj], until, runs, pause, kubeconfig)


def _rollouts_settled(kube, namespace):
    """Every Deployment and StatefulSet of `namespace` rolled out as `kubectl rollout status` means it."""
    for obj in kube.apps.list_namespaced_deployment(namespace).items + \
            kube.apps.list_namespaced_stateful_set(namespace).items:
        status, want = obj.status, obj.spec.replicas if obj.spec.replicas is not None else 1
        if (status.observed_generation or 0) < obj.metadata.generation or (status.updated_replicas or 0) != want \
                or (status.replicas or 0) != want:
            return False
    return True


def converge(kube, tmp_path, obj, kubeconfig=None):
    """Reconcile until nothing changes: runs until Ready succeed, and once the rollouts they started have settled
    (a Ready bench stays Ready through a rollout, and its status follows the rollout), a further run changes
    nothing after the one that records the settled state."""
    run = reconcile_until(kube, tmp_path, obj, kubeconfig=kubeconfig)
    assert run.rc == 0, run.explain()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _rollouts_settled(kube, obj["metadata"]["namespace"]):
        time.sleep(1)
    settled = reconcile(kube, tmp_path, obj, kubeconfig=kubeconfig)
    assert settled.rc == 0, settled.explain()
    again = reconcile(kube, tmp_path, obj, kubeconfig=kubeconfig)
    assert again.rc == 0, again.explain()
    assert again.changed == 0, [t["task"]["name"] for p in again.json["plays"] for t in p["tasks"]
                                if t["hosts"]["localhost"].get("changed")]
    return run


def token_kubeconfig(kube, namespace, service_account, path):
    """A kubeconfig for the cluster that authenticates as a ServiceAccount (a bound token of one hour)."""
    token = kube.core.create_namespaced_service_account_token(
        service_account, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    config = yaml.safe_load(Path(kube.kubeconfig).read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]
    cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])
    config["users"] = [{"name": service_account, "user": {"token": token}}]
    config["contexts"] = [{"name": "sa", "context": {
        "cluster": cluster["name"], "user": service_account, "namespace": namespace}}]
    config["clusters"] = [cluster]
    config["current-context"] = "sa"
    path.write_text(yaml.safe_dump(config))
    return path


def shipped_cluster_role():
    """config/rbac/role.yaml: the ClusterRole the operator is installed with."""
    return yaml.safe_load((REPO / "config" / "rbac" / "role.yaml").read_text())


def bound_service_account(kube, namespace, role, path, can_i, binding=None):
    """A kubeconfig of ServiceAccount `operator` of `namespace`, bound to ClusterRole `role` and nothing else.

    Applies the role, the account and its ClusterRoleBinding (named `binding`,
    else frappe-operator-<namespace>; the caller deletes it), then waits until
    the API server lets the account do `can_i` (kubectl auth can-i arguments):
    a new binding can take a moment to reach its authorizer cache.
    """
    kube.apply(role)
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "operator"}})
    kube.apply({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": binding or "frappe-operator-" + namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": namespace}]})
    account = "system:serviceaccount:%s:operator" % namespace
    wait_until(lambda: kube.kubectl("auth", "can-i", *can_i, "--as", account, check=False).stdout.strip() == "yes",
               60, "the binding to allow %s" % " ".join(can_i))
    return token_kubeconfig(kube, namespace, "operator", path)


def fresh_clone(dest):
    """The files a clone of this checkout would have (tracked and new, not ignored), links kept."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=str(REPO), capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src, dst = REPO / rel, dest / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(str(src)), str(dst))
        else:
            shutil.copy2(str(src), str(dst))
    return dest


def plain_env(kube=None):
    """The user's environment: the pinned tools on PATH, a kubeconfig, nothing pointing at the checkout."""
    env = {k: v for k, v in (kube.env() if kube else os.environ).items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", ""))
    return env


def reconcile_with_role(kube, tmp_path, kind, namespace, name, role, **role_vars):
    """Run `role` for the live object `kind` `name`, as the operator or playbooks/site.yml would (role_vars as
    site.yml sets them), in a play of its own."""
    variable = "_vyogo_tech_" + kind.lower()
    path = tmp_path / ("%s-%s.yml" % (kind.lower(), name))
    path.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [
            {"name": "Read the %s" % kind, "kubernetes.core.k8s_info": {
                "api_version": "vyogo.tech/v1alpha1", "kind": kind, "namespace": namespace, "name": name},
             "register": "found"},
            {"name": "Reconcile it", "ansible.builtin.include_role": {"name": "vyogotech.frappe." + role},
             "vars": dict({variable: "{{ found.resources[0] }}"}, **role_vars)}]}]))
    return run_playbook(kube, str(path), {})
