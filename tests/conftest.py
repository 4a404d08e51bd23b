"""Set-up shared by every test: the collection is importable and loadable.

A symlink ``ansible_collections/vyogotech/frappe`` -> this checkout is kept in a
per-checkout temporary directory that is prepended to ``sys.path`` and to
ANSIBLE_COLLECTIONS_PATH, so unit tests import
``ansible_collections.vyogotech.frappe`` and ansible-playbook or
ansible-operator started by integration tests find the collection without
installing it. ``ansible_collections`` stays a namespace package, so
collections installed elsewhere (``kubernetes.core`` from the ``ansible``
package) remain importable. Idempotent, also across processes.
"""

import hashlib
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NAMESPACE, NAME = "vyogotech", "frappe"


def _collections_root():
    """A directory holding ansible_collections/vyogotech/frappe -> this checkout."""
    parts = REPO_ROOT.parts
    if parts[-3:] == ("ansible_collections", NAMESPACE, NAME):
        return str(REPO_ROOT.parents[1])  # already checked out inside a collection tree
    digest = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / ("collections-%s-%s-%s" % (NAMESPACE, NAME, digest))
    parent = root / "ansible_collections" / NAMESPACE
    parent.mkdir(parents=True, exist_ok=True)
    link = parent / NAME
    if not (link.is_symlink() and Path(os.readlink(str(link))) == REPO_ROOT):
        tmp_link = parent / (".%s.%d" % (NAME, os.getpid()))
        if tmp_link.is_symlink():
            tmp_link.unlink()
        tmp_link.symlink_to(REPO_ROOT, target_is_directory=True)
        os.replace(str(tmp_link), str(link))  # atomic, also when another process raced us
    return str(root)


def _install_collection_path():
    root = _collections_root()
    if root not in sys.path:
        sys.path.insert(0, root)
    paths = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([root] + paths)
    # ansible_collections is a namespace package (or, under ansible-test, the
    # collection loader's synthetic one): its __path__ follows sys.path, so
    # nothing needs invalidating here.
    return root


COLLECTIONS_ROOT = _install_collection_path()
