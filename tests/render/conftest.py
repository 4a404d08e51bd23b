"""Render-mode tests: playbooks/render.yml without a cluster, and the script harness."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
