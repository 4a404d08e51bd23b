"""Render-mode tests: playbooks/render.yml without a cluster, and the script harness."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack" / "localcluster"))
import localcluster  # noqa: E402  (stdlib-only; the servers the integration fixtures start too)


@pytest.fixture
def mariadb_server(tmp_path_factory):
    """A real mariadbd on a loopback port with a fresh data directory (it starts in well under a second)."""
    server = localcluster.MariaDBServer(logdir=tmp_path_factory.mktemp("mariadb")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory):
    """Two real redis-server on loopback ports: a bench's cache and queue (the queue with a password)."""
    cache = localcluster.RedisServer(logdir=tmp_path_factory.mktemp("redis-cache")).start()
    queue = localcluster.RedisServer(password="q-s3cret", logdir=tmp_path_factory.mktemp("redis-queue")).start()
    yield cache, queue
    cache.stop()
    queue.stop()
