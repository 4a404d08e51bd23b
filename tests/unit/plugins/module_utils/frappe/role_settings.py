"""A role's settings mapping as the role resolves it from its defaults and vars, for the plan filters' tests."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[5]


def role_variables(role):
    variables = {}
    for path in (REPO / "roles" / role / "defaults" / "main.yml", REPO / "roles" / role / "vars" / "main.yml"):
        variables.update(yaml.safe_load(path.read_text()))
    return variables


def role_settings(role, settings_var):
    """Each entry of `settings_var` must name exactly one role variable (optionally | bool or | int)."""
    variables = role_variables(role)
    settings = {}
    for key, value in variables[settings_var].items():
        match = re.fullmatch(r"\{\{ (\w+)(?: \| (bool|int))? \}\}", value)
        assert match, "%s.%s must name one role variable: %r" % (settings_var, key, value)
        name, conversion = match.groups()
        assert name in variables, "%s.%s names %s, which the role does not define" % (settings_var, key, name)
        settings[key] = {"bool": bool, "int": int, None: lambda v: v}[conversion](variables[name])
    return settings
