"""render.yml with SiteBackups and SiteRestores: their Jobs rendered beside the bench and the site, sized by the
bench, and a SiteRestore whose site is not in the manifest refused before anything is written."""

import json

import pytest

from podscripts import RenderError, pod_spec, render

from test_jobs_sized import SITE, bench

SIZE = {"requests": {"cpu": "300m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
BACKUP = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteBackup",
          "metadata": {"name": "nightly", "namespace": "shop"},
          "spec": {"site": "erp", "schedule": "0 2 * * *"}}


def restore(site="erp"):
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "SiteRestore",
            "metadata": {"name": "back", "namespace": "shop"},
            "spec": {"site": site, "backupRef": {"name": "nightly"}}}


def test_the_restore_job_is_rendered_from_the_backups_storage_and_sized_like_backups(tmp_path):
    objects = render(tmp_path, bench(jobResources={"backup": SIZE}), SITE, BACKUP, restore())
    by_name = dict((o["metadata"]["name"], o) for o in objects)
    cron, job = by_name["nightly-backup"], by_name["back-restore"]
    assert pod_spec(cron["spec"]["jobTemplate"])["containers"][0]["resources"] == SIZE
    [container] = pod_spec(job)["containers"]
    assert container["resources"] == SIZE and container["image"] == "docker.io/frappe/erpnext:v15.45.0"
    env = dict((e["name"], e) for e in container["env"])
    assert env["DB_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "db-admin", "key": "password"}
    config = json.loads(by_name["back-restore-script"]["data"]["config.json"])
    assert config["set"]["backup"] == "nightly" and config["set"]["storage"] == {"type": "pvc", "directory": "/backups"}
    volumes = dict((v["name"], v) for v in pod_spec(job)["volumes"])
    assert volumes["backups"]["persistentVolumeClaim"] == {"claimName": "erp-backups", "readOnly": True}


def test_a_restore_of_a_site_not_in_the_manifest_is_refused(tmp_path):
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench(), SITE, BACKUP, restore(site="crm"))
    assert "SiteRestore shop/back: spec.site: no FrappeSite crm" in str(err.value)
    assert not (tmp_path / "rendered" / "manifests.yaml").exists()
