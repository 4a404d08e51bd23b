"""The molecule scenario (molecule/default) passes against the cluster under test.

`molecule test` runs syntax, converge, idempotence, verify and cleanup with the
`default` driver: no instance is created, the playbooks talk to the API server
the kubeconfig names. Molecule keeps its ephemeral files (inventory,
ansible.cfg, state) in the test's temporary directory, not in the repository.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from support import REPO

pytestmark = [pytest.mark.molecule]


def test_molecule_default_scenario_converges_idempotently_and_verifies(kube, keda_crds, tmp_path):
    # keda_crds: KEDA's CRDs and no operator, so the scenario sees the same KEDA in both of its runs
    # (a host-run operator cannot reach the in-cluster queue and would put the workers in fallback).
    namespace = "molecule-%s" % uuid.uuid4().hex[:8]
    if kube.local:
        kube.local.ensure_free_volumes()  # the sites volume claim binds to one of these
    env = kube.env()
    # molecule calls ansible-config and ansible-playbook by name.
    env["PATH"] = "%s%s%s" % (Path(sys.executable).parent, os.pathsep, env.get("PATH", ""))
    # tests/conftest.py put this checkout on it as vyogotech.frappe.
    env["ANSIBLE_COLLECTIONS_PATH"] = os.environ["ANSIBLE_COLLECTIONS_PATH"]
    env["MOLECULE_NAMESPACE"] = namespace
    env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(tmp_path / "molecule")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["NO_COLOR"] = "1"
    env.pop("ANSIBLE_CONFIG", None)  # molecule writes its own
    molecule = Path(sys.executable).parent / "molecule"
    started = time.monotonic()
    # A session of its own, so a timeout stops ansible-playbook under molecule too.
    proc = subprocess.Popen([str(molecule), "test", "--scenario-name", "default"], cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail("molecule test did not finish in 540s:\n%s\n%s" % (stdout[-5000:], stderr[-3000:]))
    finally:
        try:
            kube.core.delete_namespace(namespace)  # cleanup.yml normally did it already
        except ApiException as exc:
            if exc.status != 404:
                raise
    print("\n[molecule] molecule test took %.1fs" % (time.monotonic() - started))
    output = stdout + stderr
    explain = "%s\n--- molecule log ---\n%s" % (stdout[-5000:], stderr[-3000:])
    assert proc.returncode == 0, explain
    # Molecule logs one line per step of the sequence (its final summary may
    # call a failed idempotence step successful, so read the step lines).
    for step in ("converge", "idempotence", "verify", "cleanup"):
        assert "[default > %s] Executed: Successful" % step in output, explain
    assert "Idempotence test failed" not in output, explain
    # The play recaps, in order: converge, idempotence (the second converge), verify, cleanup.
    recaps = [line for line in stdout.splitlines() if re.match(r"localhost\s+: ok=", line)]
    assert len(recaps) == 4, explain
    assert re.search(r"\bchanged=0\b", recaps[1]) and re.search(r"\bfailed=0\b", recaps[1]), recaps
