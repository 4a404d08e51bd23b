"""Render mode refuses what the API server would refuse, with the path of each field, and writes nothing.

Render mode sees no API server, so playbooks/render.yml checks each object
against the openAPIV3Schema of its CRD (plugins/module_utils/frappe/crd_schema.py):
a misspelled field is refused, not dropped, and so are a wrong type or a
value outside an enum. A site whose bench is not in the manifest is refused
too: render mode has no cluster to read the bench from.
"""

import pytest

from manifests import bench
from podscripts import RenderError, render


def site(bench_name="erp", **spec):
    body = {"benchRef": {"name": bench_name}, "siteName": "erp.example.com",
            "dbConfig": {"mariadbRef": {"name": "mariadb"}}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "shop", "namespace": "erp-ns"},
            "spec": body}


CASES = [
    # (id, objects, message in the refusal)
    ("misspelled-bench-field", lambda: [bench(componentReplicas={"gunicron": 2})],
     "FrappeBench erp-ns/erp: spec.componentReplicas.gunicron: unknown field."),
    ("misspelled-site-field", lambda: [bench(), site(siteNmae="x")],
     "FrappeSite erp-ns/shop: spec.siteNmae: unknown field."),
    ("wrong-type", lambda: [bench(frappeVersion=15)],
     "FrappeBench erp-ns/erp: spec.frappeVersion: Invalid value: integer: must be of type string."),
    ("bad-enum", lambda: [bench(), site(dbConfig={"provider": "oracle", "mariadbRef": {"name": "mariadb"}})],
     "FrappeSite erp-ns/shop: spec.dbConfig.provider: Unsupported value: 'oracle'"),
    ("missing-required", lambda: [bench(), {**site(), "spec": {"siteName": "erp.example.com"}}],
     "FrappeSite erp-ns/shop: spec.benchRef: Required value."),
]


@pytest.mark.parametrize("objects, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_object_the_api_server_would_refuse_is_refused_with_its_path(tmp_path, objects, message):
    with pytest.raises(RenderError) as err:
        render(tmp_path, *objects())
    assert message in str(err.value) and "Nothing was changed." in str(err.value)
    assert not (tmp_path / "rendered" / "manifests.yaml").exists()


def test_every_error_is_listed_not_only_the_first(tmp_path):
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench(frappeVersion=15, componentReplicas={"gunicron": 2}))
    assert "spec.frappeVersion" in str(err.value) and "spec.componentReplicas.gunicron" in str(err.value)


@pytest.mark.parametrize("with_ingress", [False, True], ids=["no-ingress", "ingress"])
def test_a_site_whose_bench_is_not_in_the_manifest_is_refused_saying_to_add_it(tmp_path, with_ingress):
    spec = {"ingress": {"enabled": True}} if with_ingress else {}
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench(), site(bench_name="other", **spec))
    assert ("FrappeSite erp-ns/shop: spec.benchRef.name: the FrappeBench erp-ns/other is not in the manifest"
            in str(err.value))
    assert "add the FrappeBench other to the manifest" in str(err.value)
    assert not (tmp_path / "rendered" / "manifests.yaml").exists()


def test_a_bench_in_another_namespace_does_not_count(tmp_path):
    other = bench()
    other["metadata"]["namespace"] = "elsewhere"
    with pytest.raises(RenderError) as err:
        render(tmp_path, other, site())
    assert "the FrappeBench erp-ns/erp is not in the manifest" in str(err.value)
