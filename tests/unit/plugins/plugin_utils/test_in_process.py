"""A module run in the task's worker (plugins/plugin_utils/in_process.py) answers as its module process does."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible.module_utils.basic import env_fallback

from ansible_collections.vyogotech.frappe.plugins.modules import k8s_apply, k8s_multi_info, k8s_secret_once, \
    k8s_status
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.in_process import ControllerModule, ModuleExit, \
    run_in_process

REPO = Path(__file__).resolve().parents[4]
SECRETS = "/api/v1/namespaces/shop/secrets"


def secret_args(fake_api, **extra):
    return dict({"host": fake_api.url, "api_key": "test-token", "name": "erp-redis", "namespace": "shop",
                 "data": {"username": "default"}}, **extra)


def without_invocation(result):
    return dict((key, value) for key, value in result.items() if key != "invocation")


def test_a_module_run_in_process_returns_what_its_module_process_returns(run_module, fake_api):
    fake_api.routes[("POST", SECRETS)] = lambda request: (201, request["body"])
    failed, as_module = run_module(k8s_secret_once, secret_args(fake_api))
    in_process = run_in_process(k8s_secret_once.main, secret_args(fake_api), "vyogotech.frappe.k8s_secret_once")
    assert not failed and as_module["created"]
    assert without_invocation(in_process) == dict(as_module, changed=True)
    assert [r["method"] for r in fake_api.requests] == ["POST", "POST"]

    # A refusal: the same message and status both ways.
    fake_api.routes[("POST", SECRETS)] = (403, fake_api.status(403, "Forbidden", "secrets is forbidden"))
    failed, as_module = run_module(k8s_secret_once, secret_args(fake_api))
    in_process = run_in_process(k8s_secret_once.main, secret_args(fake_api), "vyogotech.frappe.k8s_secret_once")
    assert failed and in_process["failed"]
    assert (in_process["msg"], in_process["status"]) == (as_module["msg"], as_module["status"]) and as_module["status"] == 403


def test_kubernetes_cores_apply_in_process_sends_and_answers_as_its_module_process(run_module, fake_api):
    fake_api.routes[("POST", SECRETS)] = lambda request: (201, dict(request["body"], apiVersion="v1", kind="Secret"))
    definition = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "erp-redis", "namespace": "shop"},
                   "data": {"username": "ZGVmYXVsdA=="}}]
    args = {"host": fake_api.url, "api_key": "test-token", "definition": definition}
    failed, as_module = run_module(k8s_apply, args)
    in_process = run_in_process(k8s_apply.main, args, "vyogotech.frappe.k8s_apply")
    assert not failed and not in_process.get("failed"), (as_module, in_process)
    assert without_invocation(in_process) == dict(as_module, changed=True)
    # kubernetes.core's client-side apply: a read, then a create that records what was applied.
    first, second = fake_api.requests[:3], fake_api.requests[3:]
    assert [(r["method"], r["path"]) for r in first] == [(r["method"], r["path"]) for r in second] == [
        ("GET", SECRETS + "/erp-redis"), ("GET", SECRETS + "/erp-redis"), ("POST", SECRETS)]
    assert first[-1]["body"] == second[-1]["body"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in first[-1]["body"]["metadata"]["annotations"]


def test_check_mode_reaches_the_module(fake_api):
    result = run_in_process(k8s_secret_once.main, secret_args(fake_api), "vyogotech.frappe.k8s_secret_once",
                            check_mode=True)
    assert result["changed"] and not result["created"] and fake_api.requests == []


def test_bad_arguments_fail_as_ansiblemodule_fails_them_before_any_request(run_module, fake_api):
    args = secret_args(fake_api, length="long")
    failed, as_module = run_module(k8s_secret_once, args)
    in_process = run_in_process(k8s_secret_once.main, args, "vyogotech.frappe.k8s_secret_once")
    assert failed and in_process["failed"] and in_process["msg"] == as_module["msg"]
    assert "length" in in_process["msg"] and fake_api.requests == []
    missing = run_in_process(k8s_status.main, {"host": fake_api.url, "api_version": "v1", "kind": "Pod", "name": "p",
                                               "status": {"phase": "x"}, "bogus": 1}, "vyogotech.frappe.k8s_status")
    assert missing["failed"] and "bogus" in missing["msg"]


def test_defaults_fallbacks_and_no_log_values_are_those_of_the_argument_spec(monkeypatch):
    monkeypatch.setenv("THE_TOKEN", "from-the-environment")
    spec = dict(k8s_multi_info._argspec(), token=dict(type="str", no_log=True, fallback=(env_fallback, ["THE_TOKEN"])))
    with pytest.raises(ModuleExit) as done:
        reads = [{"key": "a", "api_version": "v1", "kind": "Pod"}]
        module = ControllerModule(argument_spec=spec, task_args={"reads": reads}, name="m")
        assert module.params["token"] == "from-the-environment"
        assert module.params["wait_timeout"] == 60 and module.params["reads"][0]["label_selectors"] == []
        module.warn("careful")
        module.exit_json(said="token from-the-environment", warnings=["from the result"])
    # A no_log value: AnsibleModule keeps it out of what the module returns, and so does this.
    assert "from-the-environment" not in repr(done.value.result)
    assert done.value.result["warnings"] == ["careful", "from the result"] and not done.value.result["changed"]


def test_a_module_without_check_mode_is_skipped_in_check_mode():
    with pytest.raises(ModuleExit) as done:
        ControllerModule(argument_spec={}, task_args={}, name="m", check_mode=True)
    assert done.value.result["skipped"]


def test_an_exception_in_the_module_is_a_failed_result_with_its_traceback():
    def main(module_class):
        raise RuntimeError("boom")
    result = run_in_process(main, {}, "m")
    assert result["failed"] and result["msg"] == "m failed: boom" and "RuntimeError" in result["exception"]


PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    auth: {host: "%(url)s", api_key: test-token}
  tasks:
    - name: In the worker
      vyogotech.frappe.k8s_secret_once: "{{ auth | combine({'name': 'a', 'namespace': 'shop'}) }}"
      register: in_worker
    # The module process would see a task's environment and this process would not: it runs as a module.
    - name: As a module process
      vyogotech.frappe.k8s_secret_once: "{{ auth | combine({'name': 'b', 'namespace': 'shop'}) }}"
      environment:
        K8S_AUTH_VERIFY_SSL: "no"
      register: as_module
    - name: Both created their Secret
      ansible.builtin.assert:
        that: [in_worker.created, as_module.created]
"""


def test_the_action_runs_in_the_worker_unless_the_task_has_an_environment(fake_api, tmp_path):
    fake_api.routes[("POST", SECRETS)] = lambda request: (201, request["body"])
    playbook = tmp_path / "secrets.yml"
    playbook.write_text(PLAYBOOK % {"url": fake_api.url})
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-vvv", str(playbook)],
                         capture_output=True, text=True, env=env, cwd=str(REPO), check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert [r["body"]["metadata"]["name"] for r in fake_api.requests] == ["a", "b"]
    # One module process was started: the second task's.
    assert len(re.findall(r"PUT .*AnsiballZ_k8s_secret_once\.py", run.stdout)) == 1
