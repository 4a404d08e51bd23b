"""The execution environment definition (execution-environment.yml) makes a complete build context.

`ansible-builder create` writes the context offline, as the README tells a user
to, from the definition and the collection tarball next to it. Building the
image needs a container runtime and base image, which this project's machines
do not have; what the image build would run is checked in the Containerfile.
The Python and system dependencies come from the collections themselves
(`ansible-builder introspect`, which the image build runs too), so
requirements.txt and bindep.txt stay their only list.
"""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
DEFINITION = yaml.safe_load((REPO / "execution-environment.yml").read_text())


def run(*args, cwd):
    # Nothing of the caller's Ansible set-up: tests/conftest.py puts this checkout on the collections path,
    # where ansible-galaxy would find the collection installed already.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run([str(a) for a in args], cwd=str(cwd), env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "%s\n%s\n%s" % (" ".join(map(str, args)), proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def dev_pins():
    pins = {}
    for line in (REPO / "requirements" / "dev.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def requirement_lines(path):
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A project directory as the README's build commands leave it: the definition,
    requirements.yml and build/<tarball> of this checkout."""
    project = tmp_path_factory.mktemp("ee") / "project"
    project.mkdir()
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy2(str(REPO / name), str(project / name))
    run(BIN / "ansible-galaxy", "collection", "build", REPO, "--output-path", project / "build", cwd=project)
    assert [p.name for p in (project / "build").iterdir()] == [TARBALL]
    return project


@pytest.fixture(scope="module")
def context(built):
    ctx = built.parent / "context"
    run(BIN / "ansible-builder", "create", "--file", built / "execution-environment.yml", "--context", ctx,
        "--output-filename", "Containerfile", cwd=built.parent)
    return ctx


def test_definition_is_schema_version_3_and_lists_no_dependencies_of_its_own():
    assert DEFINITION["version"] == 3
    # One list each: requirements.txt and bindep.txt, through meta/execution-environment.yml.
    assert not {"python", "system"} & set(DEFINITION["dependencies"])
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_context_holds_the_containerfile_the_collection_and_its_requirements(built, context):
    containerfile = (context / "Containerfile").read_text()
    build_dir = context / "_build"
    assert yaml.safe_load((build_dir / "requirements.yml").read_text()) == yaml.safe_load(
        (REPO / "requirements.yml").read_text())
    assert [p.name for p in (build_dir / "collections").iterdir()] == [TARBALL]
    assert (build_dir / "collections" / TARBALL).read_bytes() == (built / "build" / TARBALL).read_bytes()

    # requirements.yml (kubernetes.core) first, then this collection from the tarball in the context.
    galaxy_installs = [line for line in containerfile.splitlines() if "ansible-galaxy collection install" in line]
    assert len(galaxy_installs) == 2 and "-r requirements.yml" in galaxy_installs[0], galaxy_installs
    tarball_glob = galaxy_installs[1].split()[-1]
    assert tarball_glob.startswith("/build/collections/"), galaxy_installs[1]
    assert fnmatch.fnmatch(TARBALL, tarball_glob.rsplit("/", 1)[1])
    # The image build reads each collection's dependencies from the collections it installed.
    assert re.search(r"^RUN \S+ /output/scripts/introspect.py introspect ", containerfile, re.M), containerfile


def test_context_pins_ansible_core_and_runner_to_the_tested_versions(context):
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="(.*)"$', (context / "Containerfile").read_text(), re.M).group(1)
    pins = dev_pins()
    assert sorted(refs.split()) == ["ansible-core==%s" % pins["ansible-core"], "ansible-runner==%s" % pins["ansible-runner"]]


def test_introspection_of_the_installed_collection_finds_requirements_txt_and_bindep_txt(built):
    collections = built.parent / "collections"
    run(BIN / "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", collections,
        built / "build" / TARBALL, cwd=built.parent)
    assert (collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"] / "MANIFEST.json").is_file()
    found = yaml.safe_load(run(BIN / "ansible-builder", "introspect", collections, cwd=built.parent).stdout)
    origin = "  # from collection %s.%s" % (GALAXY["namespace"], GALAXY["name"])
    assert found["python"] == [req + origin for req in requirement_lines(REPO / "requirements.txt")]
    assert found["system"] == [req + origin for req in requirement_lines(REPO / "bindep.txt")]
