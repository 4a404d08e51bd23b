"""A plain checkout works as the README says: no ANSIBLE_COLLECTIONS_PATH, no set-up.

The README's ansible-playbook commands are taken from the README itself and run
exactly as written, from a copy of the project laid out as a fresh clone, with
only the pinned environment on PATH.
"""

import re
import subprocess

import yaml

from support import REPO, fresh_clone, plain_env

README_BLOCK = re.compile(r"\*\*ansible-playbook\*\*.*?```sh\n(?P<body>.*?)```", re.S)


def readme_commands():
    """The ansible-playbook commands of the README's 'ansible-playbook' block."""
    match = README_BLOCK.search((REPO / "README.md").read_text())
    assert match, "README.md has no ```sh block after **ansible-playbook**"
    body = match.group("body").replace("\\\n", " ")
    return [line.strip() for line in body.splitlines() if line.strip().startswith("ansible-playbook ")]


def test_readme_lists_both_playbooks():
    commands = readme_commands()
    assert [c.split()[1] for c in commands] == ["playbooks/site.yml", "playbooks/render.yml"], commands


def test_readme_commands_work_in_a_plain_clone(kube, tmp_path):
    clone = fresh_clone(tmp_path / "frappe-ansible")
    env = plain_env(kube)
    site, render = readme_commands()
    try:
        for command in (render, site):
            proc = subprocess.run(["bash", "-c", command], cwd=str(clone), env=env,
                                  capture_output=True, text=True, check=False)
            assert proc.returncode == 0, "%s\n%s\n%s" % (command, proc.stdout[-4000:], proc.stderr[-2000:])
        rendered = list(yaml.safe_load_all((clone / "out" / "manifests.yaml").read_text()))
        assert {"Deployment", "ScaledObject", "Job"} <= {o["kind"] for o in rendered if o}
        bench = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", "default", "frappebenches", "erp")
        assert bench["status"]["phase"] in ("Ready", "Progressing", "Pending"), bench["status"]
    finally:
        kube.kubectl("delete", "frappebench", "erp", "-n", "default", "--ignore-not-found", "--wait=false")


def test_relative_manifest_resolves_against_the_project_not_the_working_directory(tmp_path):
    """ansible-runner and AWX start the playbook elsewhere, often without $PWD."""
    clone = fresh_clone(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = plain_env()
    env.pop("PWD", None)
    proc = subprocess.run(["ansible-playbook", str(clone / "playbooks" / "render.yml"),
                           "-e", "frappe_manifest=examples/frappebench.yaml",
                           "-e", "frappe_render_dir=%s" % (tmp_path / "out")],
                          cwd=str(elsewhere), env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (tmp_path / "out" / "manifests.yaml").read_text().count("kind: ScaledObject") == 2


def test_a_missing_manifest_is_named(tmp_path):
    manifest = "examples/no-such-bench.yaml"
    clone = fresh_clone(tmp_path / "project")
    proc = subprocess.run(["ansible-playbook", "playbooks/render.yml", "-e", "frappe_manifest=" + manifest,
                           "-e", "frappe_render_dir=out"],
                          cwd=str(clone), env=plain_env(), capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "frappe_manifest=%s: no such file" % manifest in proc.stdout, proc.stdout[-3000:]
