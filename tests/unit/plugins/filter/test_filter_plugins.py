"""The filter plugins are the Jinja face of the library: each one a task or template uses, each documented."""

import importlib
import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

REPO = Path(__file__).resolve().parents[4]
FILTER_DIR = REPO / "plugins" / "filter"
PACKAGE = "ansible_collections.vyogotech.frappe.plugins.filter."


def _filters():
    """filter name -> (plugin file stem, function), over every filter plugin of the collection."""
    found = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        module = importlib.import_module(PACKAGE + path.stem)
        for name, function in module.FilterModule().filters().items():
            assert name not in found, "filter %s is defined twice" % name
            found[name] = (path.stem, function)
    return found


FILTERS = _filters()


def _yaml_text():
    """Every task, variable file, playbook and template of the roles and playbooks."""
    texts = []
    for top in ("roles", "playbooks"):
        for path in (REPO / top).rglob("*"):
            if path.is_file() and path.suffix in (".yml", ".yaml", ".j2"):
                texts.append(path.read_text())
    return "\n".join(texts)


USES = _yaml_text()


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_is_used_by_a_task_or_template(name):
    # Code only Python calls belongs in the library (plugins/module_utils/frappe), not in a filter.
    assert re.search(r"vyogotech\.frappe\.%s\b" % name, USES), (
        "filter %s is used by no task, variable file or template under roles/ or playbooks/" % name)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_is_documented(name):
    doc = FILTER_DIR / ("%s.yml" % name)
    assert doc.is_file(), "filter %s has no documentation %s" % (name, doc.name)
    assert re.search(r"^\s*name: %s\s*$" % name, doc.read_text(), re.M)


def test_every_documentation_file_names_a_filter():
    assert sorted(p.stem for p in FILTER_DIR.glob("*.yml")) == sorted(FILTERS)


def test_library_errors_reach_ansible_as_filter_errors():
    _stem, restore_plan = FILTERS["restore_plan"]
    with pytest.raises(AnsibleFilterError, match="mode must be apply or render"):
        restore_plan({"metadata": {}, "spec": {}}, {}, {}, mode="dry-run")
