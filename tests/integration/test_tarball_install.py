"""The collection installed from its tarball, the way a user without this repository installs it.

`ansible-galaxy collection build` of this checkout, `ansible-galaxy collection
install <tarball>` into a directory of its own, then the collection's playbooks
by their FQCN from an unrelated working directory, with only that directory on
ANSIBLE_COLLECTIONS_PATH: nothing of the checkout can stand in for the
installed copy. kubernetes.core is not installed there (--no-deps, offline):
ansible-core finds the copy of the pinned `ansible` package in the
interpreter's site-packages by itself.
"""

import json
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from support import REPO, PlaybookRun, plain_env

GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
# The collection's CRDs: site.yml installs each (its list must name them all).
CRDS = sorted(p.name for p in (REPO / "config" / "crd" / "bases").iterdir())
FQCN = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
PROCESSES = ("gunicorn", "nginx", "socketio", "scheduler", "worker-short", "worker-long", "worker-default")


class Installed:
    """The collection installed from its tarball, and how to run ansible there."""

    def __init__(self, root):
        self.collections = root / "collections"
        self.tree = self.collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
        # No ansible.cfg, no checkout: a directory of the user's own.
        self.cwd = root / "elsewhere"
        self.cwd.mkdir()

    def env(self, kube=None):
        env = plain_env(kube)
        env["ANSIBLE_COLLECTIONS_PATH"] = str(self.collections)
        env["PWD"] = str(self.cwd)
        return env

    def run(self, *args, kube=None, json_output=False):
        env = self.env(kube)
        if json_output:
            env["ANSIBLE_STDOUT_CALLBACK"] = "json"
        return subprocess.run(list(args), cwd=str(self.cwd), env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("tarball")
    inst = Installed(root)
    build = inst.run("ansible-galaxy", "collection", "build", str(REPO), "--output-path", str(root / "build"))
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = root / "build" / ("%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"]))
    assert tarball.is_file(), list((root / "build").iterdir())
    install = inst.run("ansible-galaxy", "collection", "install", str(tarball), "-p", str(inst.collections), "--no-deps")
    assert install.returncode == 0, install.stdout + install.stderr
    return inst


def bench_manifest(namespace, path):
    bench = yaml.safe_load((REPO / "examples" / "frappebench.yaml").read_text())
    bench["metadata"]["namespace"] = namespace
    path.write_text(yaml.safe_dump(bench))
    return path


def test_the_installed_tree_has_neither_the_checkout_link_nor_the_harness(installed):
    tree = installed.tree
    assert (tree / "playbooks" / "site.yml").is_file() and (tree / "playbooks" / "render.yml").is_file()
    # site.yml installs these from the collection itself (playbook_dir/../config/crd).
    assert sorted(p.name for p in (tree / "config" / "crd" / "bases").iterdir()) == CRDS
    assert not (tree / "playbooks" / "collections").exists()
    assert [str(p) for p in tree.rglob("*") if p.is_symlink()] == []
    for left_out in ("tests/integration", "tests/packaging", "hack", "molecule", "awx", "execution-environment.yml",
                     "requirements"):
        assert not (tree / left_out).exists(), left_out


def test_kubernetes_core_comes_from_the_ansible_package_without_being_installed(installed):
    proc = installed.run("ansible-galaxy", "collection", "list", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    where = {name: Path(path) for path, found in json.loads(proc.stdout).items() for name in found}
    assert where[FQCN] == installed.collections / "ansible_collections"
    # The interpreter's own site-packages, scanned by ansible-core (COLLECTIONS_SCAN_SYS_PATH).
    assert where["kubernetes.core"] == Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"


def test_installed_render_playbook_resolves_a_relative_manifest_inside_the_collection(installed):
    out = installed.cwd / "out"
    proc = installed.run("ansible-playbook", FQCN + ".render", "-e", "frappe_manifest=examples/frappebench.yaml",
                         "-e", "frappe_render_dir=%s" % out)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    rendered = [o for o in yaml.safe_load_all((out / "manifests.yaml").read_text()) if o]
    assert sorted(o["metadata"]["name"] for o in rendered if o["kind"] == "Deployment") == sorted(
        "erp-" + p for p in PROCESSES)


def test_installed_site_playbook_converges_by_its_fqcn(kube, namespace, frappe_crds, installed):
    manifest = bench_manifest(namespace, installed.cwd / ("bench-%s.yaml" % namespace))
    cmd = ("ansible-playbook", FQCN + ".site", "-e", "frappe_manifest=%s" % manifest, "-e", "frappe_install_crds=true")

    first = PlaybookRun(installed.run(*cmd, kube=kube, json_output=True))
    assert first.rc == 0, first.explain()
    assert first.changed > 0
    # The CRDs came from the installed copy, not from a checkout.
    crd_items = [r["item"] for t in first.task_results("Install the CRDs") for r in t["results"]]
    # Every CRD of the collection (FrappeBench, FrappeSite, SiteBackup, SiteRestore).
    assert sorted(Path(i).name for i in crd_items) == CRDS
    assert all(installed.tree.resolve() in Path(i).resolve().parents for i in crd_items), crd_items

    again = PlaybookRun(installed.run(*cmd, kube=kube, json_output=True))
    assert again.rc == 0, again.explain()
    assert again.changed == 0, [t["task"]["name"] for p in again.json["plays"] for t in p["tasks"]
                                if t["hosts"]["localhost"].get("changed")]

    bench = kube.custom.get_namespaced_custom_object("vyogo.tech", "v1alpha1", namespace, "frappebenches", "erp")
    assert bench["status"]["phase"] == "Ready", bench["status"]
    deployments = kube.apps.list_namespaced_deployment(namespace, label_selector="vyogo.tech/bench=erp").items
    assert sorted(d.metadata.name for d in deployments) == sorted("erp-" + p for p in PROCESSES)
