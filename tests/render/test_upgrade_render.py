"""Render mode told an upgrade (-e frappe_render_upgrade): bad input is refused with the field and the fix.

The Jobs it renders are run against real servers in tests/integration/test_bench_upgrade_jobs.py.
"""

import pytest

from podscripts import RenderError, render

BENCH = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": "shop"},
         "spec": {"frappeVersion": "version-15"}}
SITE = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite", "metadata": {"name": "a", "namespace": "shop"},
        "spec": {"benchRef": {"name": "shop"}, "siteName": "a.example.com",
                 "dbConfig": {"connectionSecretRef": {"name": "db-admin"}}}}
RUNNING = {"image": "docker.io/frappe/erpnext@sha256:" + "11" * 32, "versions": {"frappe": "15.55.1"}}


def jobs(objects):
    return [o for o in objects if o["kind"] == "Job" and o["metadata"]["labels"]["app.kubernetes.io/component"] == "upgrade"]


def test_without_it_no_upgrade_job_is_rendered_and_with_it_each_site_s_migrate_is(tmp_path):
    assert jobs(render(tmp_path / "plain", BENCH, SITE)) == []
    given = {"versions": {"frappe": "15.60.0"}, "running": RUNNING}
    migrate, = jobs(render(tmp_path / "upgrade", BENCH, SITE, extra_vars={"frappe_render_upgrade": given}))
    assert migrate["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/frappe/erpnext:version-15"


@pytest.mark.parametrize("given, field", [
    ({"versions": "15.60.0", "running": RUNNING}, "frappe_render_upgrade.versions"),
    ({"versions": {"frappe": "15.60.0"}}, "frappe_render_upgrade.running"),
    ({"versions": {"frappe": "15.60.0"}, "digest": "latest", "running": RUNNING}, "frappe_render_upgrade.digest"),
])
def test_bad_input_names_its_field(tmp_path, given, field):
    with pytest.raises(RenderError, match=field):
        render(tmp_path, BENCH, SITE, extra_vars={"frappe_render_upgrade": given})
