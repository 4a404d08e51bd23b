"""The plan actions hand back their plan as the task's result, never as facts.

Ansible keeps the facts of any action but set_fact in the host's fact cache, and copies that cache whole (twice) for
every later task of the run: a plan, a read and rendered objects there cost a first reconcile about a second.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    read:
      objects:
        benches-shop: [{apiVersion: vyogo.tech/v1alpha1, kind: FrappeBench,
                        metadata: {name: erp, namespace: shop, uid: u1}, spec: {}}]
  tasks:
    - name: Decide the round
      vyogotech.frappe.reconcile_round_plan:
        read: read
        manifest:
          - {apiVersion: vyogo.tech/v1alpha1, kind: FrappeBench, metadata: {name: erp, namespace: shop}, spec: {}}
          - {apiVersion: vyogo.tech/v1alpha1, kind: FrappeBench, metadata: {name: crm, namespace: shop}, spec: {}}
      register: decided
    - name: Say what the round decided and what the host's facts hold
      ansible.builtin.debug:
        msg: "{{ {'pending': decided.pending | map(attribute='metadata.name') | list,
                  'facts': ansible_facts.keys() | list} | to_json }}"
"""


def test_the_round_plan_is_the_tasks_result_and_leaves_no_fact(tmp_path):
    playbook = tmp_path / "round.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)], capture_output=True,
                         text=True, env=env, cwd=str(REPO), check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    [play] = json.loads(run.stdout)["plays"]
    said = json.loads(play["tasks"][1]["hosts"]["localhost"]["msg"])
    # crm is not on the cluster yet; erp is, without the annotation an apply leaves, so it is applied again.
    assert said == {"pending": ["erp", "crm"], "facts": []}


def test_no_plan_action_returns_facts():
    for name in ("bench_reconcile_plan", "site_reconcile_plan", "reconcile_round_plan"):
        assert "ansible_facts" not in (REPO / "plugins" / "action" / (name + ".py")).read_text(), name
