"""Harness check, not a test of the collection: the two Ansible entry points work against the cluster: ansible-operator and ansible-playbook."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import AnsibleOperator, localcluster, wait_until

FILES = Path(__file__).parent / "files"


@pytest.mark.operator
def test_ansible_operator_runs_a_role_for_a_custom_resource(kube, namespace, tmp_path):
    smoke = FILES / "operator-smoke"
    kube.apply((smoke / "crd.yaml").read_text())
    localcluster.wait_established(kube.kubectl, ["smokes.smoke.localcluster.vyogo.tech"])
    operator = AnsibleOperator(kube, smoke / "watches.yaml", namespace, tmp_path,
                               roles_path=smoke / "roles").start()
    try:
        kube.custom.create_namespaced_custom_object("smoke.localcluster.vyogo.tech", "v1", namespace, "smokes", {
            "apiVersion": "smoke.localcluster.vyogo.tech/v1", "kind": "Smoke",
            "metadata": {"name": "hello"}, "spec": {"message": "hi from the operator"}})

        def successful():
            operator.check_alive()
            cr = kube.custom.get_namespaced_custom_object("smoke.localcluster.vyogo.tech", "v1", namespace,
                                                          "smokes", "hello")
            conditions = {c["type"]: c for c in cr.get("status", {}).get("conditions", [])}
            if conditions.get("Failure", {}).get("status") == "True":
                pytest.fail("the role failed: %s" % conditions["Failure"].get("message"))
            return conditions.get("Successful", {}).get("status") == "True" and cr
        cr = wait_until(successful, 180, "the Smoke CR's Successful condition (log: %s)" % operator.logfile)
        config_map = kube.core.read_namespaced_config_map("hello-smoke", namespace)
        assert config_map.data == {"message": "hi from the operator", "kind": "Smoke"}
        # The operator's proxy injected the owner reference on create.
        owners = config_map.metadata.owner_references or []
        assert [(o.kind, o.name, o.uid) for o in owners] == [("Smoke", "hello", cr["metadata"]["uid"])]
    finally:
        operator.stop()
        kube.ext.delete_custom_resource_definition("smokes.smoke.localcluster.vyogo.tech")


def test_ansible_playbook_with_kubernetes_core_creates_an_object(kube, namespace, tmp_path):
    playbook = tmp_path / "create.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Create a ConfigMap",
        "hosts": "localhost",
        "gather_facts": False,
        "connection": "local",
        # Modules must run in the interpreter that has the kubernetes client.
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [{"name": "Apply", "kubernetes.core.k8s": {
            "state": "present",
            "definition": {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "from-playbook", "namespace": namespace},
                           "data": {"created-by": "ansible-playbook"}}}}],
    }]))
    env = kube.env()
    env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(playbook_bin), "-i", "localhost,", str(playbook)],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stats = json.loads(proc.stdout)["stats"]["localhost"]
    assert stats["changed"] == 1 and stats["failures"] == 0
    assert kube.core.read_namespaced_config_map("from-playbook", namespace).data == {"created-by": "ansible-playbook"}
