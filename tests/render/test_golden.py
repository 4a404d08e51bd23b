"""render.yml's output for the examples stays what it was, object for object.

The golden copies under golden/ are what the role rendered before a change
of its shape; a difference is either a regression or a change to explain in
its commit. Refresh them deliberately with UPDATE_GOLDEN=1.
"""

import os
from pathlib import Path

import pytest
import yaml

from podscripts import render

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CASES = {
    # name: (manifest, KEDA served)
    "example-keda": (REPO / "examples" / "frappebench.yaml", True),
    "example-no-keda": (REPO / "examples" / "frappebench.yaml", False),
    "full-bench": (HERE / "golden" / "full-bench.yaml", True),
}


def _documents(text):
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _golden(path):
    """A golden copy is one YAML document, the list of objects (yamllint wants one per file)."""
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_output_equals_its_golden_copy(case, tmp_path):
    manifest, keda = CASES[case]
    objects = render(tmp_path, *_documents(manifest.read_text()), keda=keda)
    golden = HERE / "golden" / ("%s.rendered.yaml" % case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(yaml.safe_dump(objects, sort_keys=True, width=120))
    expected = _golden(golden)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        (o["kind"], o["metadata"]["name"]) for o in expected]
    for got, want in zip(objects, expected):
        assert got == want, "%s %s differs from %s" % (got["kind"], got["metadata"]["name"], golden.name)
