"""The API server restarts in the middle of a reconcile: that run fails with a clear
message, the next one converges, and nothing is deleted or duplicated."""

import os
import re
import signal
import subprocess

import pytest
import yaml

from support import REPO, PlaybookRun, converge, playbook_command, reconcile, wait_until, write_manifest

LABEL = "vyogo.tech/bench=erp"
# The reconcile is interrupted just before this task, in a run that starts
# once the configuration Job has completed: the sites volume, Redis and the
# Job exist then, and this task is about to apply the bench processes.
INTERRUPTED_TASK = "Apply the bench objects"
EXPECTED = {
    # The sites volume, and the queue Redis volume its StatefulSet claims.
    "PersistentVolumeClaim": ["data-erp-redis-queue-0", "erp-sites"],
    "StatefulSet": ["erp-redis-cache", "erp-redis-queue"],
    "Service": ["erp-gunicorn", "erp-nginx", "erp-redis-cache", "erp-redis-queue", "erp-socketio"],
    "Deployment": sorted("erp-" + p for p in (
        "gunicorn", "nginx", "socketio", "scheduler", "worker-short", "worker-long", "worker-default")),
}

# A callback plugin that holds ansible-playbook at two points until the test
# lets it go: before INTERRUPTED_TASK (the test stops the API server) and after
# the first failure (the test starts it again, so the rescue and the end of the
# run meet a working API server, as after any short restart). Holding the
# playbook instead of racing it makes the interleaving the same on every run.
GATE_PLUGIN = '''
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "restart_gate"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.gate_dir = os.environ["RESTART_GATE_DIR"]
        self.task = os.environ["RESTART_GATE_TASK"]
        self.held = set()

    def hold(self, point):
        if point in self.held:
            return
        self.held.add(point)
        open(os.path.join(self.gate_dir, point), "w").close()
        # Bounded: a test that died must not leave the playbook waiting forever.
        deadline = time.monotonic() + 600
        while not os.path.exists(os.path.join(self.gate_dir, point + ".go")) and time.monotonic() < deadline:
            time.sleep(0.1)

    def v2_playbook_on_task_start(self, task, is_conditional):
        if task.get_name().endswith(self.task):
            self.hold("before-task")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self.hold("failed")
'''


class HeldPlaybook:
    """site.yml started in the background, held by the restart_gate callback."""

    def __init__(self, kube, tmp_path, manifest):
        self.dir = tmp_path / "gate"
        (self.dir / "callback").mkdir(parents=True)
        (self.dir / "callback" / "restart_gate.py").write_text(GATE_PLUGIN)
        self.cmd, env = playbook_command(kube, "site.yml", {"frappe_manifest": str(manifest)})
        env.update({
            "ANSIBLE_CALLBACK_PLUGINS": str(self.dir / "callback"),
            "ANSIBLE_CALLBACKS_ENABLED": "restart_gate",
            "RESTART_GATE_DIR": str(self.dir),
            "RESTART_GATE_TASK": INTERRUPTED_TASK,
        })
        self.stdout, self.stderr = tmp_path / "held.stdout", tmp_path / "held.stderr"
        # Output to files: a pipe nobody reads while the playbook is held could fill up.
        with open(self.stdout, "w", encoding="utf-8") as out, open(self.stderr, "w", encoding="utf-8") as err:
            # A session of its own, so that a failing test can stop it with its module processes.
            self.proc = subprocess.Popen(self.cmd, env=env, cwd=str(REPO), stdout=out, stderr=err,
                                         start_new_session=True)

    def wait_at(self, point, timeout, missed):
        """Wait until the playbook is held at point; `missed` says what it means when it ends first."""
        def reached():
            if (self.dir / point).exists():
                return True
            if point != "failed" and (self.dir / "failed").exists():
                self.release("failed")
                pytest.fail("the playbook failed before %s:\n%s" % (point, self.finish(120).explain()))
            if self.proc.poll() is not None:
                pytest.fail("the playbook ended, %s:\n%s" % (missed, self.result().explain()))
            return False
        wait_until(reached, timeout, "ansible-playbook to reach %s" % point, interval=0.2)

    def release(self, point):
        (self.dir / (point + ".go")).touch()

    def finish(self, timeout):
        self.proc.wait(timeout=timeout)
        return self.result()

    def result(self):
        return PlaybookRun(subprocess.CompletedProcess(self.cmd, self.proc.returncode, self.stdout.read_text(),
                                                       self.stderr.read_text()))

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def bench_objects(kube, namespace):
    """{(kind, name): uid} of every object of the bench, found by its label."""
    listers = {
        "PersistentVolumeClaim": kube.core.list_namespaced_persistent_volume_claim,
        "StatefulSet": kube.apps.list_namespaced_stateful_set,
        "Service": kube.core.list_namespaced_service,
        "Deployment": kube.apps.list_namespaced_deployment,
        "Job": kube.batch.list_namespaced_job,
    }
    return {(kind, obj.metadata.name): obj.metadata.uid
            for kind, lister in listers.items() for obj in lister(namespace, label_selector=LABEL).items}


def names(objects, kind):
    return sorted(name for k, name in objects if k == kind)


def unclear(message):
    """Why message is not a clear sentence about an unreachable API server ("" when it is one)."""
    for noise in ("Traceback", "MODULE FAILURE", "module_stderr", "HTTPSConnectionPool", "Max retries exceeded",
                  " object at 0x", "See stdout/stderr"):
        if noise in message:
            return "it holds %r" % noise
    if message.lstrip()[:1] in ("{", "["):
        return "it is a JSON dump"
    if not re.search(r"(?i)\bAPI server\b", message):
        return "it does not name the API server"
    if not re.search(r"(?i)reach|connect|refused|unavailable|\bdown\b", message):
        return "it does not say that the API server could not be reached"
    return ""


def test_apiserver_restart_mid_reconcile_fails_clearly_then_converges(
        kube, namespace, frappe_crds, no_keda_crds, tmp_path):
    if kube.local is None:
        pytest.skip("stopping the API server needs the local cluster")
    bench = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    bench["metadata"]["namespace"] = namespace
    manifest = write_manifest(tmp_path, bench)
    # One round: the sites volume, Redis and the configuration Job, which the
    # local cluster completes; the held run below then applies the processes.
    first = reconcile(kube, tmp_path, bench, frappe_converge_seconds=0)
    assert first.rc == 0, first.explain()
    wait_until(lambda: [j for j in kube.batch.list_namespaced_job(namespace, label_selector=LABEL).items
                        if j.status.succeeded], 120, "the configuration Job to complete")

    playbook = HeldPlaybook(kube, tmp_path, manifest)
    try:
        playbook.wait_at("before-task", 300, "but never started the task %r (renamed?)" % INTERRUPTED_TASK)
        before = bench_objects(kube, namespace)
        # Returns (or fails) only with the API server and the controllers working again.
        with kube.local.apiserver_stopped():
            playbook.release("before-task")
            playbook.wait_at("failed", 120, "but did not fail while the API server was down")
        playbook.release("failed")
        interrupted = playbook.finish(300)
    finally:
        playbook.kill()  # a playbook a failed test left held

    # The interruption came mid-way: half of the bench existed.
    assert "erp-sites" in names(before, "PersistentVolumeClaim"), before
    assert names(before, "StatefulSet") == EXPECTED["StatefulSet"], before
    assert len(names(before, "Job")) == 1 and names(before, "Deployment") == [], before

    assert interrupted.rc != 0, interrupted.explain()
    failures = interrupted.failures
    assert failures and failures[0][0].endswith(INTERRUPTED_TASK), interrupted.explain()
    # The message the run ends with, and the one the bench status keeps for
    # `kubectl describe` (the rescue wrote it: the API server was back by then).
    bench_status = kube.custom.get_namespaced_custom_object(
        "vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp").get("status", {})
    ready = [c for c in bench_status.get("conditions", []) if c["type"] == "Ready"]
    messages = {"the run's last failure": failures[-1][1],
                "the Ready condition": ready[0].get("message", "") if ready else "(no Ready condition)"}
    # Judged at the end, so that an unclear message does not hide whether the
    # next reconcile converges.
    message_problems = ["%s (%s): %r" % (where, unclear(msg), msg) for where, msg in messages.items() if unclear(msg)]
    assert bench_status.get("phase") == "Failed", bench_status

    # The restart and the failed run lost nothing.
    after_restart = bench_objects(kube, namespace)
    assert before.items() <= after_restart.items(), (before, after_restart)

    converge(kube, tmp_path, bench)
    status = kube.custom.get_namespaced_custom_object(
        "vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")["status"]
    assert status["phase"] == "Ready", status

    after = bench_objects(kube, namespace)
    for kind, expected in EXPECTED.items():
        assert names(after, kind) == expected, (kind, after)
    # The same configuration Job: same inputs, same Job, and no second one.
    assert names(after, "Job") == names(before, "Job"), after
    replaced = {key: (uid, after.get(key)) for key, uid in before.items() if after.get(key) != uid}
    assert not replaced, "deleted or recreated since before the interruption: %s" % replaced

    assert not message_problems, (
        "the interrupted run's failure is not a clear message about the unreachable API server:\n"
        + "\n".join(message_problems))
