"""Every Job run on a bench is sized: the configuration, site and drop Jobs, from the bench's spec.jobResources."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podscripts import REPO, pod_spec, render

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.job_resources import DEFAULTS

SITE = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeSite",
        "metadata": {"name": "erp", "namespace": "shop"},
        "spec": {"benchRef": {"name": "shop"}, "siteName": "erp.example.com", "deletionPolicy": "Delete",
                 "dbConfig": {"connectionSecretRef": {"name": "db-admin"}}}}
OVERRIDE = {"default": {"requests": {"cpu": "200m", "memory": "300Mi"}, "limits": {"cpu": "700m", "memory": "900Mi"}},
            "siteInit": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "3", "memory": "5Gi"}}}


def bench(**spec):
    body = {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext", "tag": "v15.45.0"},
            "apps": [{"name": "erpnext", "source": "image"}]}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": {"name": "shop", "namespace": "shop"},
            "spec": body}


# The drop Job is rendered when a FrappeSite is deleted (roles/frappe_site/tasks/finalize.yml), never by
# render.yml: this playbook plans the site like the role (resolve.yml, render mode) and renders the drop
# Job's template with the same lookup finalize.yml uses.
DROP_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Plan the site as the role does
      ansible.builtin.include_role:
        name: vyogotech.frappe.frappe_site
        tasks_from: resolve.yml
        public: true
      vars:
        _vyogo_tech_frappesite: "{{ site }}"
        frappe_site_mode: render
        frappe_site_render_bench: "{{ bench }}"
    - name: Render the drop Job as finalize.yml does
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: >-
          {{ lookup('ansible.builtin.template', 'site/drop-job.yaml.j2',
                    template_vars={'name': frappe_site_reconcile.plan.drop_job.name, 'frappe_site_plan': frappe_site_reconcile.plan})
             | from_yaml | to_json }}
        mode: "0644"
"""


def render_drop_job(tmp_path, bench_obj):
    (tmp_path / "templates").symlink_to(REPO / "roles" / "frappe_site" / "templates")
    playbook = tmp_path / "drop.yml"
    playbook.write_text(DROP_PLAYBOOK)
    out = tmp_path / "drop-job.json"
    variables = {"site": SITE, "bench": bench_obj, "out": str(out)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e", json.dumps(variables)],
        capture_output=True, text=True, check=False, cwd=str(tmp_path),
        env={k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_") and k != "KUBECONFIG"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def jobs(objects):
    found = {}
    for obj in objects:
        if obj["kind"] == "Job":
            found["config" if "-config-" in obj["metadata"]["name"] else "site"] = obj
    return found


def resources(job):
    """The resources of the Job's container, which its init containers share."""
    [container] = pod_spec(job)["containers"]
    for init in pod_spec(job).get("initContainers", []):
        assert init.get("resources") == container.get("resources"), init["name"]
    return container.get("resources")


@pytest.fixture(scope="module")
def defaults(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("defaults")
    return dict(jobs(render(tmp, bench(), SITE)), drop=render_drop_job(tmp, bench()))


@pytest.fixture(scope="module")
def overridden(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("override")
    b = bench(jobResources=OVERRIDE)
    return dict(jobs(render(tmp, b, SITE)), drop=render_drop_job(tmp, b))


def test_every_job_carries_requests_and_limits_by_default(defaults):
    assert set(defaults) == {"config", "site", "drop"}
    for kind, job in defaults.items():
        res = resources(job)
        assert res and set(res["requests"]) == {"cpu", "memory"} and set(res["limits"]) == {"cpu", "memory"}, kind
    assert resources(defaults["site"]) == DEFAULTS["siteInit"]
    assert resources(defaults["config"]) == resources(defaults["drop"]) == DEFAULTS["maintenance"]


def test_the_bench_sizes_all_three_jobs(overridden):
    assert resources(overridden["site"]) == OVERRIDE["siteInit"]
    # No maintenance entry: the bench's default.
    assert resources(overridden["config"]) == resources(overridden["drop"]) == OVERRIDE["default"]
