"""The strategy playbooks/site.yml runs with: ansible.builtin.linear, with the collection's plugins loaded before any
worker forks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[4]
# tests/conftest.py puts a collection tree holding this checkout first on ANSIBLE_COLLECTIONS_PATH.
COLLECTIONS_ROOT = os.environ["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0]

# In a fresh interpreter, as ansible-playbook starts: nothing of the collection is imported before preload().
PRELOAD = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible_collections.vyogotech.frappe.plugins.strategy import linear
before = sorted(m for m in sys.modules if m.startswith('ansible_collections.vyogotech.frappe.plugins.'))
linear.preload()
after = sorted(m for m in sys.modules if m.startswith('ansible_collections.') or m == 'kubernetes.dynamic')
print(json.dumps({'before': before, 'after': after}))
"""


def test_preload_loads_every_filter_and_action_of_the_collection_and_the_libraries_they_import():
    out = subprocess.run([sys.executable, "-c", PRELOAD, COLLECTIONS_ROOT], capture_output=True, text=True, check=True,
                         env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT))
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["before"] == ["ansible_collections.vyogotech.frappe.plugins.strategy",
                                "ansible_collections.vyogotech.frappe.plugins.strategy.linear"]
    prefix = "ansible_collections.vyogotech.frappe.plugins."
    for kind in ("filter", "action"):
        names = sorted(p.stem for p in (REPO / "plugins" / kind).glob("*.py") if p.stem != "__init__")
        assert names and all(prefix + kind + "." + name in loaded["after"] for name in names), kind
    assert prefix + "module_utils.frappe.bench_plan" in loaded["after"]
    assert prefix + "module_utils.frappe.site_plan" in loaded["after"]
    assert "ansible_collections.kubernetes.core.plugins.action.k8s_info" in loaded["after"]
    # The in-process modules' client (plugins/plugin_utils/in_process.py): no worker imports it again.
    assert "kubernetes.dynamic" in loaded["after"]
    assert "ansible_collections.kubernetes.core.plugins.module_utils.k8s.client" in loaded["after"]


def test_site_yml_runs_with_it():
    [play] = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    assert play["strategy"] == "vyogotech.frappe.linear"
