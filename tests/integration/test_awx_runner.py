"""The job templates of awx/configure.yml, run the way AWX runs them: with ansible-runner.

For each job AWX lays out a private data directory and hands it to
ansible-runner: project/ is the project's checkout (here: this checkout as a
fresh clone has it, links included), inventory/hosts the job template's
inventory, env/extravars the survey's answers (each question's variable, with
the question's default where it was left alone) and env/envvars what the
credentials inject (the "Kubernetes kubeconfig" type: K8S_AUTH_KUBECONFIG
naming the file it writes). ansible-runner starts in a directory that is not
the project, with neither ANSIBLE_COLLECTIONS_PATH nor KUBECONFIG set: the
playbooks find the collection and the cluster through what AWX gives them, or
not at all. The surveys are read from awx/surveys/, the files configure.yml
hands to AWX.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from support import REPO, fresh_clone, plain_env

SURVEYS = REPO / "awx" / "surveys"
RUNNER = Path(sys.executable).parent / "ansible-runner"
PROCESSES = ("gunicorn", "nginx", "socketio", "scheduler", "worker-short", "worker-long", "worker-default")


def survey(name):
    return yaml.safe_load((SURVEYS / name).read_text())


def survey_extra_vars(spec, answers):
    """The extra vars AWX starts a job with: the answers given and the default of each question left alone."""
    extra = {}
    for question in spec["spec"]:
        var = question["variable"]
        if var in answers:
            extra[var] = answers[var]
        elif question.get("default", "") != "":
            extra[var] = question["default"]
        else:
            assert not question["required"], "AWX would not launch without an answer for %s" % var
        if var in extra and question["type"] == "multiplechoice":
            assert extra[var] in question["choices"], (var, extra[var])
    # Without "prompt on launch" for variables, AWX refuses anything the survey does not ask.
    assert set(answers) <= set(extra), set(answers) - set(extra)
    return extra


class RunnerJob:
    """One ansible-runner run, read from its artifacts as AWX reads them."""

    def __init__(self, artifacts, proc):
        self.artifacts = artifacts
        self.proc = proc
        self.rc = int((artifacts / "rc").read_text()) if (artifacts / "rc").exists() else proc.returncode
        self.status = (artifacts / "status").read_text() if (artifacts / "status").exists() else None
        self.events = [json.loads(p.read_text()) for p in sorted(
            (artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))]
        stats = [e["event_data"] for e in self.events if e["event"] == "playbook_on_stats"]
        self.stats = stats[-1] if stats else {}

    @property
    def changed(self):
        return sum(self.stats.get("changed", {}).values())

    def changed_tasks(self):
        return [e["event_data"].get("task") for e in self.events
                if e["event"] == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")]

    def task_paths(self):
        return {e["event_data"]["task_path"].rsplit(":", 1)[0] for e in self.events
                if e["event"] == "runner_on_ok" and e["event_data"].get("task_path")}

    def explain(self):
        stdout = (self.artifacts / "stdout").read_text() if (self.artifacts / "stdout").exists() else self.proc.stdout
        return "rc=%s status=%s stats=%s\n%s\n%s" % (self.rc, self.status, self.stats, stdout[-5000:],
                                                     self.proc.stderr[-2000:])


class PrivateDataDir:
    """An ansible-runner private data directory laid out as AWX lays out a job's."""

    def __init__(self, root, kubeconfig=None):
        self.root = root
        self.project = fresh_clone(root / "project")
        (root / "inventory").mkdir()
        (root / "inventory" / "hosts").write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
        (root / "env").mkdir()
        envvars = {}
        if kubeconfig:
            # A credential's file injector writes into the private data directory, for the job alone.
            injected = root / "env" / "kubeconfig"
            shutil.copyfile(str(kubeconfig), str(injected))
            injected.chmod(0o600)
            envvars["K8S_AUTH_KUBECONFIG"] = str(injected)
        (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
        self.cwd = root.parent / ("%s-elsewhere" % root.name)
        self.cwd.mkdir()

    def run(self, playbook, extra_vars, ident):
        (self.root / "env" / "extravars").write_text(json.dumps(extra_vars))
        env = {k: v for k, v in plain_env().items()
               if not k.startswith("K8S_AUTH_") and k not in ("KUBECONFIG", "PWD")}
        proc = subprocess.run([str(RUNNER), "run", str(self.root), "-p", playbook, "--ident", ident],
                              cwd=str(self.cwd), env=env, capture_output=True, text=True, check=False)
        return RunnerJob(self.root / "artifacts" / ident, proc)


def test_survey_answers_become_the_extra_vars_awx_passes():
    extra = survey_extra_vars(survey("site.yml"), {"frappe_manifest": "benches/erp.yaml"})
    assert extra == {"frappe_manifest": "benches/erp.yaml", "frappe_namespace": "default",
                     "frappe_install_crds": "false", "frappe_converge_seconds": 600}


def test_site_job_template_converges_as_awx_runs_it(kube, namespace, frappe_crds, tmp_path):
    job_dir = PrivateDataDir(tmp_path / "job", kubeconfig=kube.kubeconfig)
    # A manifest committed to the project, without a namespace: the survey's frappe_namespace places it.
    bench = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    assert "namespace" not in bench["metadata"]
    (job_dir.project / "benches").mkdir()
    (job_dir.project / "benches" / "erp.yaml").write_text(yaml.safe_dump(bench))
    extra = survey_extra_vars(survey("site.yml"), {"frappe_manifest": "benches/erp.yaml",
                                                   "frappe_namespace": namespace})

    first = job_dir.run("playbooks/site.yml", extra, "first")
    assert first.rc == 0 and first.status == "successful", first.explain()
    assert first.changed > 0
    # The roles ran from the project's own checkout (playbooks/collections), nothing else.
    roles = {p for p in first.task_paths() if "/roles/" in p}
    assert roles and all(p.startswith(str(job_dir.project) + os.sep) for p in roles), sorted(roles)[:5]

    again = job_dir.run("playbooks/site.yml", extra, "second")
    assert again.rc == 0 and again.status == "successful", again.explain()
    assert again.changed == 0, again.changed_tasks()

    obj = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")
    assert obj["status"]["phase"] == "Ready", obj["status"]
    deployments = kube.apps.list_namespaced_deployment(namespace, label_selector="vyogo.tech/bench=erp").items
    assert sorted(d.metadata.name for d in deployments) == sorted("erp-" + p for p in PROCESSES)


def test_render_job_template_renders_as_awx_runs_it(tmp_path):
    # The render template has no credential: it needs no cluster.
    job_dir = PrivateDataDir(tmp_path / "job")
    extra = survey_extra_vars(survey("render.yml"), {"frappe_manifest": "examples/frappebench.yaml"})
    job = job_dir.run("playbooks/render.yml", extra, "render")
    assert job.rc == 0 and job.status == "successful", job.explain()
    # A relative frappe_render_dir lands in the job's working directory, the project.
    rendered = [o for o in yaml.safe_load_all((job_dir.project / "out" / "manifests.yaml").read_text()) if o]
    assert sum(o["kind"] == "ScaledObject" for o in rendered) == 2
    assert {o["metadata"]["namespace"] for o in rendered} == {"default"}
