"""Checks of how the benchmarks read an ansible-playbook run (hack/benchmarks/playbook_report.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack" / "benchmarks"))

from playbook_report import module_runs, slowest_tasks  # noqa: E402

COMMAND = "ansible.builtin.command"
PLAYBOOK = [{
    "name": "Module runs and controller-side actions",
    "hosts": "localhost", "connection": "local", "gather_facts": False,
    "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
    "tasks": [
        {"name": "say", "ansible.builtin.debug": {"msg": "no module"}},
        {"name": "remember", "ansible.builtin.set_fact": {"remembered": 1}},
        {"name": "once", COMMAND: "true", "changed_when": False},
        {"name": "two of three items", COMMAND: "true", "loop": [1, 2, 3], "when": "item != 2",
         "changed_when": False},
        {"name": "hidden", COMMAND: "true", "no_log": True, "changed_when": False},
        {"name": "hidden and skipped", COMMAND: "true", "no_log": True, "when": False},
        {"name": "hidden items", COMMAND: "true", "no_log": True, "loop": [1, 2], "changed_when": False},
        {"name": "slow", COMMAND: "sleep 1", "changed_when": False},
    ],
}]


def _report(tmp_path):
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)],
                          env=env, capture_output=True, text=True, check=True, cwd=str(tmp_path))
    return json.loads(proc.stdout)


def test_module_runs_and_slowest_tasks(tmp_path):
    report = _report(tmp_path)
    # once 1, two of three items 2, hidden 1, slow 1; no_log hides a loop's items, so that loop counts once.
    assert module_runs(report) == 6

    rows = slowest_tasks(report, count=len(PLAYBOOK[0]["tasks"]))
    times = [seconds for seconds, _runs, _name in rows]
    assert times == sorted(times, reverse=True)
    by_name = {name: (seconds, runs) for seconds, runs, name in rows}
    assert {name: runs for name, (_seconds, runs) in by_name.items()} == {
        "say": 0, "remember": 0, "once": 1, "two of three items": 2, "hidden": 1, "hidden and skipped": 0,
        "hidden items": 1, "slow": 1}
    assert by_name["slow"][0] >= 1.0
    assert len(slowest_tasks(report, count=3)) == 3
