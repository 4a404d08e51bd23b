"""Render mode refuses a FrappeSite whose names the API server would refuse, and writes nothing.

Render mode sees no API server, so the site plan checks what the CRD checks
at admission (plugins/module_utils/frappe/site_validation.py), and the domain made from
the bench's suffix, which only the plan sees.
"""

import pytest

from manifests import bench
from podscripts import RenderError, render


def site(**spec):
    body = {"benchRef": {"name": "erp"}, "siteName": "erp.example.com", "dbConfig": {"mariadbRef": {"name": "mariadb"}}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "shop", "namespace": "erp-ns"},
            "spec": body}


CASES = [
    # (id, bench spec, site spec, field named in the refusal)
    ("site-label-64", {}, {"siteName": "a" * 64 + ".example.com"}, "spec.siteName"),
    ("site-is-assets", {}, {"siteName": "assets"}, "spec.siteName"),
    ("site-too-long-for-backups", {}, {"siteName": ".".join(["a" * 60] * 3) + "." + "b" * 40}, "spec.siteName"),
    ("tls-secret", {}, {"ingress": {"enabled": True, "tls": {"enabled": True, "secretName": "erp_tls"}}},
     "spec.ingress.tls.secretName"),
    ("mariadb-name", {}, {"dbConfig": {"mariadbRef": {"name": "maria.db"}}}, "spec.dbConfig.mariadbRef.name"),
    ("suffix-label-64", {"domainConfig": {"suffix": "x" * 64 + ".example.com"}}, {"siteName": "erp"},
     "domainConfig.suffix"),
]


@pytest.mark.parametrize("bench_spec, site_spec, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_site_with_a_bad_name_is_refused_and_nothing_is_rendered(tmp_path, bench_spec, site_spec, field):
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench(**bench_spec), site(**site_spec))
    assert field in str(err.value) and "Nothing was changed" in str(err.value)
    assert not (tmp_path / "rendered" / "manifests.yaml").exists()
