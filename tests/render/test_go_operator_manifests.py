"""Manifests written for the Go frappe-operator (examples/go-operator/) render as their fields say, and the fields
this collection does not do are refused naming the field and what to do instead (docs/MIGRATING.md)."""

import copy
from pathlib import Path

import pytest
import yaml

from podscripts import RenderError, render

REPO = Path(__file__).resolve().parents[2]
V1_BENCH, V1_SITE = yaml.safe_load((REPO / "examples" / "go-operator" / "bench-and-site-v1.yaml").read_text())["items"]
OLDER = yaml.safe_load((REPO / "examples" / "go-operator" / "bench-older-spellings.yaml").read_text())
EXTERNAL_SITE = yaml.safe_load((REPO / "examples" / "go-operator" / "site-external-database.yaml").read_text())


def by_kind(objects, kind):
    return dict((o["metadata"]["name"], o) for o in objects if o["kind"] == kind)


def test_a_v1_bench_and_site_render_with_their_scaling_placement_and_security(tmp_path):
    objects = render(tmp_path, V1_BENCH, V1_SITE)
    hpa = by_kind(objects, "HorizontalPodAutoscaler")["acme-nginx"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert "acme-nginx" in by_kind(objects, "PodDisruptionBudget")
    scaled = by_kind(objects, "ScaledObject")["acme-worker-short"]
    assert scaled["spec"]["maxReplicaCount"] == 5
    assert scaled["spec"]["triggers"][0]["metadata"]["listLength"] == "2"
    assert "acme-worker-default" not in by_kind(objects, "ScaledObject")
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert obj["spec"]["template"]["metadata"]["labels"]["team"] == "erp-ops", obj["metadata"]["name"]
        assert pod["nodeSelector"] == {"topology.kubernetes.io/zone": "zone-a"}, obj["metadata"]["name"]
        assert pod["tolerations"][0]["key"] == "dedicated"
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (1001, 0)
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["runAsUser"] == 1001
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    site_job = [o for o in objects if o["kind"] == "Job" and o["metadata"]["labels"].get("vyogo.tech/site") == "erp"][0]
    env = dict((e["name"], e.get("value")) for e in site_job["spec"]["template"]["spec"]["containers"][0]["env"])
    assert env["INSTALL_APPS"] == "erpnext"


def test_older_spellings_render_as_the_fields_they_stand_for(tmp_path):
    objects = render(tmp_path, OLDER, keda=False)
    deployments = by_kind(objects, "Deployment")
    assert deployments["legacy-gunicorn"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "docker.io/frappe/erpnext:v15.45.0"
    assert deployments["legacy-gunicorn"]["spec"]["replicas"] == 2
    assert deployments["legacy-scheduler"]["spec"]["replicas"] == 1
    assert [deployments["legacy-worker-" + t]["spec"]["replicas"] for t in ("short", "long", "default")] == [1, 1, 1]


def test_a_site_of_provider_external_renders_its_job_with_the_sites_own_login(tmp_path):
    objects = render(tmp_path, OLDER, EXTERNAL_SITE, keda=False)
    [job] = [o for o in objects if o["kind"] == "Job" and o["metadata"]["labels"].get("vyogo.tech/site") ==
             "external-db-site"]
    env = dict((e["name"], e) for e in job["spec"]["template"]["spec"]["containers"][0]["env"])
    assert env["DB_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "external-db-creds", "key": "password"}}
    assert not [name for name in env if name.startswith("DB_ROOT")]
    # Nothing is made on a server: no Database, User or Grant.
    assert not [o for o in objects if o["apiVersion"].startswith("k8s.mariadb.com")]


def test_a_dedicated_site_runs_its_mariadb_on_the_image_it_names(tmp_path):
    site = copy.deepcopy(V1_SITE)
    site["spec"]["dbConfig"] = {"mode": "dedicated", "image": "docker.io/library/mariadb:11.4"}
    [server] = [o for o in render(tmp_path, V1_BENCH, site) if o["kind"] == "MariaDB"]
    assert server["spec"]["image"] == "docker.io/library/mariadb:11.4"


def test_a_tag_pinned_to_its_digest_runs_that_digest(tmp_path):
    bench = copy.deepcopy(V1_BENCH)
    pinned = "v15.45.0@sha256:" + "fc7d472b" * 8
    bench["spec"]["imageConfig"]["tag"] = pinned
    objects = render(tmp_path, bench, V1_SITE)
    images = set(c["image"] for o in objects if o["kind"] in ("Deployment", "Job")
                 for c in o["spec"]["template"]["spec"]["containers"] if "redis" not in c["image"])
    assert images == {"docker.io/frappe/erpnext:" + pinned}


def test_a_shared_site_that_names_no_server_is_made_on_the_go_operators_default_mariadb(tmp_path):
    site = copy.deepcopy(V1_SITE)
    site["spec"]["dbConfig"] = {"provider": "mariadb", "mode": "shared"}
    objects = render(tmp_path, V1_BENCH, site)
    for kind in ("Database", "User", "Grant"):
        [obj] = [o for o in objects if o["kind"] == kind]
        assert obj["spec"]["mariaDbRef"] == {"name": "frappe-mariadb", "namespace": "acme", "kind": "MariaDB"}, obj


@pytest.mark.parametrize("change, message", [
    ({"apps": [{"name": "hrms", "source": "git", "gitUrl": "https://github.com/frappe/hrms", "gitBranch": "version-15"}]},
     "spec.apps[0] (hrms) has source git: apps are not installed from Git at run time here; build an image"),
    ({"fpmConfig": {"repositories": [{"name": "internal", "url": "https://fpm.example.com"}]}},
     "spec.fpmConfig.repositories is not taken"),
    ({"gunicornAutoscaling": {"enabled": True, "minReplicas": 2}},
     "spec.gunicornAutoscaling is not taken: write it as spec.componentAutoscaling.gunicorn"),
    ({"redisConfig": {"host": "redis.example.com", "port": "6379"}}, "spec.redisConfig.host is not taken"),
    ({"namespacePolicy": {"resourceQuota": {"pods": "50"}}}, "spec.namespacePolicy is not taken"),
    ({"componentReplicas": {"scheduler": 2}}, "spec.componentReplicas.scheduler"),
    ({"security": {"securityContext": {"privileged": True}}}, "spec.security.securityContext.privileged: true"),
])
def test_a_bench_field_not_done_here_is_refused_naming_it(tmp_path, change, message):
    bench = copy.deepcopy(V1_BENCH)
    bench["spec"].update(change)
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench)
    assert message in str(err.value)


@pytest.mark.parametrize("change, message", [
    ({"dbConfig": {"mariadbRef": {"name": "mariadb"}, "host": "db.acme.example"}},
     "spec.dbConfig.host is not taken: it is the address of a database of provider: external"),
    ({"routeConfig": {"enabled": True, "host": "erp.acme.example"}}, "spec.routeConfig is not taken"),
    ({"skipInit": True}, "spec.skipInit is not taken"),
    ({"apps": ["hrms"]}, "spec.apps names hrms, which FrappeBench acme does not carry"),
])
def test_a_site_field_not_done_here_is_refused_naming_it(tmp_path, change, message):
    site = copy.deepcopy(V1_SITE)
    site["spec"].update(change)
    with pytest.raises(RenderError) as err:
        render(tmp_path, V1_BENCH, site)
    assert message in str(err.value)
