"""Every place that names the collection's CRDs names all of them: a new kind is never left out of one."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CRDS = sorted(p.name for p in (REPO / "config" / "crd" / "bases").iterdir())


def named_in(path):
    return sorted(set(re.findall(r"vyogo\.tech_[a-z]+\.yaml", (REPO / path).read_text())))


def test_site_yml_render_yml_and_kustomize_name_every_crd():
    assert named_in("playbooks/site.yml") == CRDS
    assert named_in("playbooks/render.yml") == CRDS
    kustomization = yaml.safe_load((REPO / "config" / "crd" / "kustomization.yaml").read_text())
    assert sorted(Path(r).name for r in kustomization["resources"]) == CRDS


def test_the_operator_watches_and_may_write_every_kind():
    kinds = [yaml.safe_load((REPO / "config" / "crd" / "bases" / c).read_text())["spec"]["names"] for c in CRDS]
    watched = sorted(w["kind"] for w in yaml.safe_load((REPO / "watches.yaml").read_text()))
    assert watched == sorted(k["kind"] for k in kinds)
    rules = yaml.safe_load((REPO / "config" / "rbac" / "role.yaml").read_text())["rules"]
    resources = set(r for rule in rules if "vyogo.tech" in rule.get("apiGroups", []) for r in rule["resources"])
    for names in kinds:
        assert {names["plural"], names["plural"] + "/status", names["plural"] + "/finalizers"} <= resources


def test_every_crd_serves_v1_with_the_schema_of_its_stored_v1alpha1():
    for path in sorted((REPO / "config" / "crd" / "bases").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        versions = dict((v["name"], v) for v in crd["spec"]["versions"])
        assert sorted(versions) == ["v1", "v1alpha1"], path.name
        assert versions["v1alpha1"]["storage"] and not versions["v1"]["storage"] and versions["v1"]["served"]
        for part in ("schema", "subresources", "additionalPrinterColumns"):
            assert versions["v1"].get(part) == versions["v1alpha1"].get(part), (path.name, part)
        # Without a webhook the API server converts by the apiVersion alone: only right when the schemas agree.
        assert crd["spec"].get("conversion", {"strategy": "None"})["strategy"] == "None"
