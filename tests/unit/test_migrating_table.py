"""docs/MIGRATING.md's table of the Go frappe-operator's fields agrees with the CRDs and with what is refused.

Every field it lists is in the CRD of its kind (so strict server-side apply takes it and no lenient client prunes
it), every field it calls refused is refused by the plan naming the field (or the block it is in), and nothing the
library refuses is called honoured.
"""

import functools
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.go_operator_fields import (
    REFUSED_BENCH, REFUSED_SITE, REFUSED_SITE_UNLESS_DEDICATED, REFUSED_SITE_UNLESS_EXTERNAL, current_spelling,
    site_refusals)

REPO = Path(__file__).resolve().parents[2]
CRDS = {"FrappeBench": "vyogo.tech_frappebenches.yaml", "FrappeSite": "vyogo.tech_frappesites.yaml"}
ROW = re.compile(r"^\| (FrappeBench|FrappeSite) \| `([^`]+)` \| ([^|]+) \| (.+) \|$")


@functools.lru_cache(maxsize=None)
def rows():
    found = [ROW.match(line) for line in (REPO / "docs" / "MIGRATING.md").read_text().splitlines()]
    return [m.groups() for m in found if m]


@functools.lru_cache(maxsize=None)
def spec_schema(kind):
    crd = yaml.safe_load((REPO / "config" / "crd" / "bases" / CRDS[kind]).read_text())
    versions = dict((v["name"], v["schema"]["openAPIV3Schema"]) for v in crd["spec"]["versions"])
    assert versions["v1"] == versions["v1alpha1"]
    return versions["v1"]["properties"]["spec"]


def resolve(schema, path):
    """The schema node of `path` (spec.a.b, [] for items, <key> for map keys), or None when the CRD lacks it."""
    node = schema
    for part in re.findall(r"\[\]|[^.\[\]]+", path)[1:]:
        if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
            return node  # the rest is the Kubernetes type the Go field embeds, taken as it is
        if part == "[]":
            node = node.get("items")
        elif part == "<key>":
            node = node.get("additionalProperties") or next(iter((node.get("properties") or {}).values()), None)
        else:
            node = (node.get("properties") or {}).get(part)
        if node is None:
            return None
    return node


def sample(node):
    """A value of the schema node's type, as a manifest would set it."""
    if node.get("type") == "boolean":
        return True
    if node.get("type") == "integer":
        return 2
    if node.get("type") == "object":
        properties = node.get("properties") or {}
        if properties:
            key, child = next(iter(properties.items()))
            return {key: sample(child)}
        return {"a": "b"}
    if node.get("type") == "array":
        return [sample(node["items"])]
    return "x"


def set_path(spec, path, value):
    parts = path.split(".")[1:]
    for part in parts[:-1]:
        spec = spec.setdefault(part, {})
    spec[parts[-1]] = value


def refusals(kind, spec):
    if kind == "FrappeBench":
        return current_spelling(dict({"frappeVersion": "version-15"}, **spec))[1]
    return site_refusals(spec)


def test_the_table_lists_each_field_once():
    listed = [(kind, field) for kind, field, _api, _here in rows()]
    assert len(listed) > 250 and len(listed) == len(set(listed))


@pytest.mark.parametrize("kind, field, api, here", rows())
def test_every_listed_field_is_in_the_crd_and_refused_when_the_table_says_so(kind, field, api, here):
    node = resolve(spec_schema(kind), field)
    assert node is not None, "%s %s is not in the CRD: strict apply would refuse it without a reason" % (kind, field)
    if here.startswith("Refused") and "[]" not in field and "<key>" not in field:
        spec = {}
        set_path(spec, field, sample(node))
        errors = refusals(kind, spec)
        named = [e for e in errors if any(e.startswith(field[:i]) for i in range(len("spec.") + 1, len(field) + 1)
                                          if i == len(field) or field[i] == ".")]
        assert named, (field, errors)


def test_what_the_library_refuses_is_called_refused_in_the_table():
    here = dict(((kind, field), text) for kind, field, _api, text in rows())
    for kind, refused in (("FrappeBench", REFUSED_BENCH), ("FrappeSite", REFUSED_SITE)):
        for field in refused:
            assert here.get((kind, field), "").startswith("Refused"), (kind, field)


@pytest.mark.parametrize("refused, where, elsewhere", [
    (REFUSED_SITE_UNLESS_EXTERNAL, {"provider": "external"}, {"provider": "mariadb"}),
    (REFUSED_SITE_UNLESS_DEDICATED, {"mode": "dedicated"}, {"mode": "shared"}),
])
def test_what_only_one_kind_of_database_takes_is_called_so_in_the_table(refused, where, elsewhere):
    here = dict(((kind, field), text) for kind, field, _api, text in rows())
    condition = "`%s: %s`" % next(iter(where.items()))
    for field in refused:
        text = here.get(("FrappeSite", field), "")
        assert text.startswith("Honoured with " + condition) or text == "As `spec.dbConfig.host`", (field, text)
        key = field.split(".")[-1]
        assert site_refusals({"dbConfig": dict(elsewhere, **{key: "x"})}), field
        assert not site_refusals({"dbConfig": dict(where, **{key: "x"})}), field


STATUS_LINE = re.compile(r"^- (FrappeBench|FrappeSite), (written|not written): (.*?)(?=^- |^\n|\Z)", re.M | re.S)


def test_the_status_fields_said_to_be_written_are_in_the_status_schema_and_the_others_are_not():
    text = (REPO / "docs" / "MIGRATING.md").read_text()
    found = STATUS_LINE.findall(text)
    assert sorted((kind, what) for kind, what, _body in found) == [
        ("FrappeBench", "not written"), ("FrappeBench", "written"), ("FrappeSite", "not written"),
        ("FrappeSite", "written")]
    for kind, what, body in found:
        crd = yaml.safe_load((REPO / "config" / "crd" / "bases" / CRDS[kind]).read_text())
        status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        # The fields a line is about are its backquoted status paths outside parentheses (inside them: what a
        # field holds, or where its content is instead).
        named = re.findall(r"`status\.([A-Za-z]+)`", re.sub(r"\([^()]*\)", "", body))
        assert named, (kind, what)
        for field in named:
            assert (field in status) == (what == "written"), (kind, what, field)
