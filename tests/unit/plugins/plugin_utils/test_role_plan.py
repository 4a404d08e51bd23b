"""The roles' plan actions (plugins/plugin_utils/role_plan.py): what they trust on disk, and what they hand the
templates."""

import os

from ansible.template import Templar
from ansible.parsing.dataloader import DataLoader

from ansible_collections.vyogotech.frappe.plugins.plugin_utils import role_plan as action


def test_the_template_cache_is_a_directory_of_this_user_that_nobody_else_may_write(tmp_path, monkeypatch):
    monkeypatch.setattr(action.tempfile, "gettempdir", lambda: str(tmp_path))
    cache = action.bytecode_cache()
    assert cache is not None
    (directory,) = list(tmp_path.iterdir())
    assert os.stat(str(directory)).st_mode & 0o777 == 0o700
    assert str(os.getuid()) in directory.name and action.ansible_version in directory.name
    # Compiled code is loaded from it: a directory others may write is not used.
    directory.chmod(0o777)
    assert action.bytecode_cache() is None
    directory.chmod(0o700)
    assert action.bytecode_cache() is not None


def test_the_plan_reaches_the_templates_as_data_never_as_a_template():
    """A value of the user's (or a script) that looks like Jinja is rendered as written."""
    plan = {"name": "{{ lookup('env', 'HOME') }}", "render": [{"vars": {"x": "{% raw %}"}}]}
    templar = Templar(loader=DataLoader(), variables={"frappe_bench_plan": action.Data.of(plan),
                                                      "steps": action.Data.of(plan["render"])})
    out = templar.template("{{ frappe_bench_plan.name }} {{ steps[0].vars.x }}", convert_data=False)
    assert out == "{{ lookup('env', 'HOME') }} {% raw %}"
