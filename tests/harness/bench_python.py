"""The Python of the bench image as the bench's scripts meet it: Python with boto3 and redis.

frappe_docker's image ships boto3 in the bench's environment
(images/production/Containerfile), and redis as a dependency of Frappe. hack/setup-env.sh builds an environment
from requirements/bench-image.txt beside the test environment and links it
there as ``bench-python/``; it cannot be the test environment itself (the
kubernetes client and botocore need different python-dateutil majors).

``run(code, **env)`` runs Python source with it and returns what the code
printed as JSON on its last line; a failure raises with its stderr.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH_PYTHON = Path(sys.prefix) / "bench-python" / "bin" / "python"


def python():
    if not os.access(BENCH_PYTHON, os.X_OK):
        raise RuntimeError("%s is missing: run hack/setup-env.sh (make test does)" % BENCH_PYTHON)
    return str(BENCH_PYTHON)


def run(code, *args, env=None, check=True):
    """Run `code` with the bench Python; the parsed JSON of its last stdout line, or the process when check=False."""
    proc = subprocess.run([python(), "-c", code] + [str(a) for a in args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=120, check=False)
    if not check:
        return proc
    if proc.returncode != 0:
        raise RuntimeError("bench Python failed (%d): %s" % (proc.returncode, proc.stderr.strip()[-2000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])
