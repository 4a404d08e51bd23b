"""Fixtures for tests that talk to a real Kubernetes API server.

The session brings the local control plane (hack/localcluster) up once and
stops it at the end. With KUBECONFIG set, the same tests run against that
cluster instead (kind, a cloud cluster) and nothing is started or stopped.
Every test gets fresh namespaces that enforce PodSecurity `restricted`.
"""

import contextlib
import os
import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from support import REPO, KedaCrds, Kube, localcluster, wait_until

TEST_CLUSTER = os.environ.get("LOCALCLUSTER_NAME", "frappe-test")


def pytest_collection_modifyitems(items):
    # Any test under tests/integration needs the API server.
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def kube():
    if os.environ.get("KUBECONFIG"):
        yield Kube(os.environ["KUBECONFIG"], None)
        return
    localcluster.build(localcluster.CONTROL_PLANE_COMPONENTS)
    cluster = localcluster.LocalCluster(TEST_CLUSTER)
    started = time.monotonic()
    cluster.up(nodes=2)
    print("\n[localcluster] cluster %s up in %.1fs" % (TEST_CLUSTER, time.monotonic() - started))
    try:
        yield Kube(cluster.kubeconfig, cluster)
    finally:
        if not os.environ.get("LOCALCLUSTER_KEEP"):
            cluster.down()


@pytest.fixture
def namespace_factory(kube):
    created = []

    def make(prefix="t"):
        name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        labels = {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "vyogo.tech/test-namespace": "true",
        }
        kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
        created.append(name)
        if kube.local:
            kube.local.ensure_free_volumes()
        return name

    yield make
    for name in created:
        try:
            kube.core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def namespace(namespace_factory):
    """A fresh namespace labelled PodSecurity enforce=restricted."""
    return namespace_factory()


@pytest.fixture(scope="session")
def _keda_build():
    localcluster.build(["keda"])


@pytest.fixture
def keda_crds(kube, _keda_build, _keda_operator_process):
    """KEDA's CRDs without its operator: ScaledObjects are stored, nothing acts on them.

    The test may remove and reinstall them. An operator an earlier test started
    is stopped, and its Lease deleted: expired, it would say the operator is gone.
    """
    proc = _keda_operator_process.get("proc")
    if proc is not None:
        proc.stop()
        proc.forget_lease()
    crds = KedaCrds(kube)
    if not crds.installed:
        crds.install()
    return crds


@pytest.fixture
def no_keda_crds(kube, _keda_build):
    """A cluster without the KEDA CRDs; returns the installer for mid-test changes."""
    crds = KedaCrds(kube)
    if crds.installed:
        crds.remove()
    return crds


@pytest.fixture(scope="session")
def _keda_operator_process(kube, _keda_build, tmp_path_factory):
    holder = {}
    yield holder
    if holder.get("proc"):
        holder["proc"].stop()


@pytest.fixture
def keda_operator(kube, _keda_build, _keda_operator_process, tmp_path_factory):
    """The real KEDA operator, running on this host against the cluster, with leader election.

    Started once and kept while tests ask for it; restarted after a test
    stopped it (keda_crds) or removed the CRDs under it and it exited.
    """
    crds = KedaCrds(kube)
    if not crds.installed:
        crds.install()
    proc = _keda_operator_process.get("proc")
    if proc is None or not proc.running():
        if kube.local is None:
            pytest.skip("the KEDA operator fixture runs only against the local cluster")
        proc = localcluster.KedaOperator(kube.local, logdir=tmp_path_factory.mktemp("keda")).start()
        _keda_operator_process["proc"] = proc
    return proc


@contextlib.contextmanager
def _servers(tmp_path_factory, server_class, name):
    """make(**options) starts a server_class with a log directory of its own; all are stopped at the end."""
    servers = []

    def make(**options):
        server = server_class(logdir=tmp_path_factory.mktemp(name), **options).start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def redis_factory(tmp_path_factory):
    """Start Redis servers on loopback ports: redis_factory(password=None)."""
    with _servers(tmp_path_factory, localcluster.RedisServer, "redis") as make:
        yield make


@pytest.fixture
def redis_server(redis_factory):
    return redis_factory()


@pytest.fixture(scope="session")
def _mariadb_operator_build():
    localcluster.build(["mariadb-operator"])


def _install_mariadb_crds(kube):
    localcluster.install_mariadb_operator_crds(kube.kubectl)
    wait_until(lambda: kube.group_served("k8s.mariadb.com"), 60, "k8s.mariadb.com in discovery")


@pytest.fixture
def mariadb_operator_crds(kube, _mariadb_operator_build):
    """The MariaDB Operator's CRDs (group k8s.mariadb.com), installed when missing and left in place.

    A cluster we did not start that serves the group already keeps its own
    (they belong to the operator installed there).
    """
    if not kube.group_served("k8s.mariadb.com"):
        _install_mariadb_crds(kube)


@pytest.fixture(scope="session")
def _mariadb_operator_process(kube):
    holder = {}
    yield holder
    if holder.get("proc"):
        holder["proc"].stop()


@pytest.fixture
def mariadb_operator(kube, _mariadb_operator_build, _mariadb_operator_process, tmp_path_factory):
    """The real MariaDB Operator, running on this host against the local cluster, with its CRDs.

    Started once and kept while tests ask for it; started again after a test
    removed its CRDs (no_mariadb_crds stops it first).
    """
    if kube.local is None:
        pytest.skip("the MariaDB Operator fixture runs only against the local cluster")
    if not kube.group_served("k8s.mariadb.com"):
        _install_mariadb_crds(kube)
    proc = _mariadb_operator_process.get("proc")
    if proc is None or not proc.running():
        proc = localcluster.MariaDBOperator(kube.local, logdir=tmp_path_factory.mktemp("mariadb-operator")).start()
        _mariadb_operator_process["proc"] = proc
    return proc


@pytest.fixture
def no_mariadb_crds(kube, _mariadb_operator_build, _mariadb_operator_process):
    """A cluster that does not serve k8s.mariadb.com: an operator an earlier test started is stopped
    (it watches those kinds) and the CRDs are removed."""
    if kube.local is None:
        pytest.skip("removing the MariaDB Operator's CRDs is only done on the local cluster")
    proc = _mariadb_operator_process.get("proc")
    if proc is not None:
        proc.stop()
    if kube.group_served("k8s.mariadb.com"):
        localcluster.remove_mariadb_operator_crds(kube.kubectl)
    wait_until(lambda: not kube.group_served("k8s.mariadb.com"), 60, "k8s.mariadb.com to leave discovery")


@pytest.fixture
def mariadb_factory(tmp_path_factory):
    """Start MariaDB servers on loopback ports, each with a fresh data directory:
    mariadb_factory(root_password=None). Stopped (data removed) after the test."""
    with _servers(tmp_path_factory, localcluster.MariaDBServer, "mariadb") as make:
        yield make


@pytest.fixture
def mariadb_server(mariadb_factory):
    """A fresh MariaDB server for this test (it starts in well under a second)."""
    return mariadb_factory()


@pytest.fixture(scope="session")
def _s3_build():
    localcluster.build(["seaweedfs"])


@pytest.fixture
def s3_factory(tmp_path_factory, _s3_build):
    """Start real S3 servers (SeaweedFS) on loopback ports, each with its own data and one identity:
    s3_factory(access_key=None, secret_key=None). Stopped (data removed) after the test."""
    with _servers(tmp_path_factory, localcluster.S3Server, "s3") as make:
        yield make


@pytest.fixture
def s3_server(s3_factory):
    return s3_factory()


@pytest.fixture(scope="session")
def frappe_crds(kube):
    """The collection's CRDs (config/crd/bases), applied as a user would."""
    crd_dir = REPO / "config" / "crd"
    kube.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=pytest", "-k", crd_dir)
    localcluster.wait_established(kube.kubectl, [
        "frappebenches.vyogo.tech", "frappesites.vyogo.tech", "sitebackups.vyogo.tech", "siterestores.vyogo.tech"])


@pytest.fixture
def ready_site(kube, frappe_crds, namespace):
    """A FrappeBench and a Ready FrappeSite on it, with the status their roles would have written (for the
    roles of SiteBackup and SiteRestore, which start from a site that exists)."""
    group, version = "vyogo.tech", "v1alpha1"
    kube.apply({"apiVersion": "%s/%s" % (group, version), "kind": "FrappeBench",
                "metadata": {"name": "shop", "namespace": namespace},
                "spec": {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext",
                                                                        "tag": "v15.45.0"}}})
    # The sites volume the bench's reconcile would have made.
    kube.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "shop-sites", "namespace": namespace},
                "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "shared-nfs",
                         "resources": {"requests": {"storage": "1Gi"}}}})
    kube.custom.patch_namespaced_custom_object_status(group, version, namespace, "frappebenches", "shop", {"status": {
        "phase": "Ready", "image": "docker.io/frappe/erpnext:v15.45.0", "sitesClaim": "shop-sites",
        "sitesAccessMode": "ReadWriteMany"}})
    kube.apply({"apiVersion": "%s/%s" % (group, version), "kind": "FrappeSite",
                "metadata": {"name": "erp", "namespace": namespace},
                "spec": {"benchRef": {"name": "shop"}, "siteName": "erp.example.com",
                         "dbConfig": {"mariadbRef": {"name": "mariadb"}}}})
    kube.custom.patch_namespaced_custom_object_status(group, version, namespace, "frappesites", "erp",
                                                      {"status": {"phase": "Ready"}})
    return namespace
