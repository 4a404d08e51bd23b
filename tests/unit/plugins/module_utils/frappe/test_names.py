"""Every object name of a bench and a site comes from names.py, and nothing else in the collection forms one."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import names

import test_bench_plan as bench_case
import test_site_plan as site_case

REPO = Path(__file__).resolve().parents[5]
GOLDEN = REPO / "tests" / "render" / "golden"
HASH = "[0-9a-f]{%d}" % names.JOB_HASH_LENGTH


def _flat(mapping):
    for value in mapping.values():
        if isinstance(value, dict):
            yield from _flat(value)
        else:
            yield value


def test_the_bench_plan_takes_its_names_from_names_py():
    p = bench_case.plan()
    assert p["errors"] == []
    assert p["names"] == names.bench_names("erp")
    assert p["config"]["job"] == names.config_job_name("erp", p["config"]["hash"])
    assert re.fullmatch("erp-config-" + HASH, p["config"]["job"])
    # Every object the plan renders is named by names.py.
    allowed = set(_flat(names.bench_names("erp"))) | {p["config"]["job"]}
    assert {step["name"] for step in p["render"]} <= allowed
    assert p["nginx"]["config_map"] == names.bench_names("erp")["nginx_config"]


def test_the_site_plan_takes_its_names_from_names_py():
    p = site_case.plan()
    assert p["errors"] == []
    assert p["names"] == names.site_names("erp")
    assert p["job"]["name"] == names.site_job_name("erp", p["job"]["hash"])
    assert p["drop_job"]["name"] == names.drop_job_name("erp", site_case.UID)
    assert p["database_name"] == names.database_name("shop", "erp")
    allowed = set(_flat(names.site_names("erp"))) | {p["job"]["name"]}
    assert {step["name"] for step in p["render"]} <= allowed


def test_the_site_reads_find_the_objects_by_the_names_of_names_py():
    reads = dict((r["key"], r.get("name")) for r in site_case.site_reads(site_case.site()))
    expected = names.site_names("erp")
    for key in ("database", "user", "grant", "db_secret", "admin_secret"):
        assert reads[key] == expected[key], key


def test_a_drop_job_without_uid_keeps_the_plain_name():
    assert names.drop_job_name("erp", "") == "erp-drop-site"
    assert names.drop_job_name("erp", "0123456789ab") == "erp-drop-site-01234567"


def test_every_name_of_the_longest_bench_name_fits_in_a_label():
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import bench_validation

    assert bench_validation.LONGEST_DERIVED_SUFFIX == names.worker_name("", "default")
    longest = "b" * bench_validation.MAX_BENCH_NAME_LENGTH
    key = "0" * names.JOB_HASH_LENGTH
    made = list(_flat(names.bench_names(longest))) + [
        names.config_job_name(longest, key), names.migrate_job_name(longest, "s" * 253, key),
        names.upgrade_job_name(longest, key)]
    assert max(len(n) for n in made) <= 63, max(made, key=len)


# Which entry of bench_names names an object of each kind in a rendered bench.
KIND_NAMES = {
    "PersistentVolumeClaim": lambda n: {n["sites"]},
    "ConfigMap": lambda n: {n["nginx_config"]},
    "Deployment": lambda n: set(n["component"].values()) | set(n["worker"].values()),
    "Service": lambda n: set(n["component"].values()) | {n["redis_cache"], n["redis_queue"]},
    "StatefulSet": lambda n: {n["redis_cache"], n["redis_queue"]},
    "NetworkPolicy": lambda n: {n["redis_cache"], n["redis_queue"]},
    "ScaledObject": lambda n: set(n["worker"].values()) | {n["component"]["gunicorn"], n["component"]["nginx"]},
    "HorizontalPodAutoscaler": lambda n: {n["component"]["gunicorn"], n["component"]["nginx"]},
    "PodDisruptionBudget": lambda n: set(n["component"].values()) | set(n["worker"].values()),
    "TriggerAuthentication": lambda n: {n["trigger_auth"]},
}


@pytest.mark.parametrize("golden", sorted(p.name for p in GOLDEN.glob("*.rendered.yaml")))
def test_every_name_in_the_golden_renders_is_one_of_names_py(golden):
    objects = yaml.safe_load((GOLDEN / golden).read_text())
    assert objects
    for obj in objects:
        bench = obj["metadata"]["labels"]["vyogo.tech/bench"]
        n = names.bench_names(bench)
        name = obj["metadata"]["name"]
        if obj["kind"] == "Job":
            assert re.fullmatch(re.escape(n["config_prefix"]) + HASH, name), name
        else:
            assert name in KIND_NAMES[obj["kind"]](n), (obj["kind"], name)
        spec = (obj.get("spec") or {}).get("template", {}).get("spec") or {}
        for volume in spec.get("volumes") or []:
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] == n["sites"]
        if obj["kind"] == "ScaledObject":
            for trigger in obj["spec"]["triggers"]:
                assert trigger["authenticationRef"]["name"] == n["trigger_auth"]


# ---------------------------------------------------------------------------
# No other plugin file forms an object name
# ---------------------------------------------------------------------------

PLUGINS = REPO / "plugins"
NAMES_PY = PLUGINS / "module_utils" / "frappe" / "names.py"


def _suffixes():
    """What names.py appends to a bench or site name: '-sites', '-worker-default', '-new-site-', ..."""
    made = list(_flat(names.bench_names("X"))) + list(_flat(names.site_names("X"))) + [names.drop_job_name("X", "")]
    return sorted(set(n[1:] for n in made if n.startswith("X-")), key=len, reverse=True)


SUFFIXES = _suffixes()
# A name made by formatting: '%s-...' or '...-%s' (a hyphenated name around a placeholder).
FORMATTED = re.compile(r"%s-[a-z]|[a-z]-%s")


def _string_constants(path):
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            docstrings.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _offences(path):
    out = []
    for lineno, text in _string_constants(path):
        if FORMATTED.search(text):
            out.append("%s:%d formats a name: %r" % (path.relative_to(REPO), lineno, text))
        for suffix in SUFFIXES:
            # A literal that is a names.py suffix: a name made by concatenation.
            if text == suffix:
                out.append("%s:%d holds the name part %r" % (path.relative_to(REPO), lineno, text))
    return out


def test_the_offence_finder_finds_what_names_py_itself_does():
    # names.py forms every name, so the same check finds them there: the check can fail.
    found = _offences(NAMES_PY)
    assert any("'%s-sites'" in o for o in found), found
    assert any("'%s-worker-%s'" in o for o in found), found


@pytest.mark.parametrize("path", sorted(str(p.relative_to(REPO)) for p in PLUGINS.rglob("*.py") if p != NAMES_PY))
def test_no_plugin_file_but_names_py_forms_an_object_name(path):
    assert _offences(REPO / path) == []


# Jinja in the roles and playbooks: a name is read from the plan (plan.names,
# plan.config.job, ...), never glued together with ~ or after a {{ }}.
GLUED = re.compile(r"~\s*['\"]-[a-z]|\}\}-(%s)\b" % "|".join(re.escape(s.strip("-")) for s in SUFFIXES))


def _templates():
    for top in ("roles", "playbooks"):
        for path in sorted((REPO / top).rglob("*")):
            if path.is_file() and path.suffix in (".yml", ".yaml", ".j2"):
                yield path


def test_the_glue_finder_finds_a_glued_name():
    assert GLUED.search("name: \"{{ bench.metadata.name }}-sites\"")
    assert GLUED.search("{{ plan.name ~ '-worker-' ~ type }}")
    assert not GLUED.search("{{ (key.queue ~ '-' ~ trigger_name) | to_json }}")


def test_no_task_or_template_glues_an_object_name():
    found = []
    for path in _templates():
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if GLUED.search(line):
                found.append("%s:%d: %s" % (path.relative_to(REPO), lineno, line.strip()))
    assert found == []
