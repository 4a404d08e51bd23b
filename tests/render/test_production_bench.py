"""A production bench rendered: every container sized, budgets by replicas, one autoscaler per autoscaled process
with its bounds, spread over nodes and zones, and what would break refused before anything is written."""

import copy
from pathlib import Path

import pytest
import yaml

from podscripts import RenderError, render

REPO = Path(__file__).resolve().parents[2]
BENCH, SITE = yaml.safe_load((REPO / "examples" / "frappebench-production.yaml").read_text())["items"]
# The upgrade Jobs are rendered too when render mode is told the change (docs/UPGRADES.md, "Render mode").
UPGRADE = {"versions": {"frappe": "15.60.0", "erpnext": "15.50.0"},
           "running": {"image": "docker.io/frappe/erpnext@sha256:" + "11" * 32,
                       "versions": {"frappe": "15.55.1", "erpnext": "15.45.0"}}}


def by_kind(objects, kind):
    return dict((o["metadata"]["name"], o) for o in objects if o["kind"] == kind)


def pods(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield obj, obj["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    return render(tmp_path_factory.mktemp("production"), BENCH, SITE, extra_vars={"frappe_render_upgrade": UPGRADE})


def test_every_container_of_the_bench_and_its_jobs_requests_cpu_and_memory(production):
    kinds = set()
    for obj, spec in pods(production):
        kinds.add((obj["kind"], obj["metadata"]["labels"]["app.kubernetes.io/component"]))
        for container in spec.get("initContainers", []) + spec["containers"]:
            requests = (container.get("resources") or {}).get("requests") or {}
            assert requests.get("cpu") and requests.get("memory"), (obj["kind"], obj["metadata"]["name"],
                                                                    container["name"])
    # What was looked at: the processes, Redis, the configuration, site and upgrade Jobs.
    assert {("Deployment", "gunicorn"), ("StatefulSet", "redis-queue"), ("Job", "config"), ("Job", "site"),
            ("Job", "upgrade")} <= kinds


def test_budgets_guard_the_processes_with_two_replicas_or_more(production):
    budgets = by_kind(production, "PodDisruptionBudget")
    assert sorted(budgets) == ["shop-gunicorn", "shop-nginx", "shop-worker-long"]
    for name, budget in budgets.items():
        assert budget["spec"]["maxUnavailable"] == 1
        assert budget["spec"]["selector"]["matchLabels"] == {
            "vyogo.tech/bench": "shop", "app.kubernetes.io/component": name[len("shop-"):]}


def test_one_autoscaler_per_autoscaled_process_with_its_bounds(production):
    hpa, = by_kind(production, "HorizontalPodAutoscaler").values()
    assert hpa["metadata"]["name"] == "shop-gunicorn"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop-gunicorn"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}}]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    deployments = by_kind(production, "Deployment")
    assert deployments["shop-gunicorn"]["spec"]["replicas"] == 2 and deployments["shop-nginx"]["spec"]["replicas"] == 2
    scaled = by_kind(production, "ScaledObject")
    assert "shop-gunicorn" not in scaled and "shop-nginx" not in scaled
    assert (scaled["shop-worker-long"]["spec"]["minReplicaCount"], scaled["shop-worker-long"]["spec"]["maxReplicaCount"]) == (2, 6)


def test_nginx_on_keda_gets_a_cpu_scaled_object_and_without_keda_static_replicas(tmp_path):
    bench = copy.deepcopy(BENCH)
    bench["spec"]["componentAutoscaling"]["nginx"] = {"enabled": True, "provider": "keda", "minReplicas": 2,
                                                      "maxReplicas": 4, "keda": {"trigger": "cpu", "targetValue": "60"}}
    scaled = by_kind(render(tmp_path / "keda", bench), "ScaledObject")["shop-nginx"]
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (2, 4)
    assert scaled["spec"]["triggers"] == [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]
    static = render(tmp_path / "static", bench, keda=False)
    assert "shop-nginx" not in by_kind(static, "ScaledObject")
    assert by_kind(static, "Deployment")["shop-nginx"]["spec"]["replicas"] == 1
    assert "shop-nginx" not in by_kind(static, "PodDisruptionBudget")


def test_gunicorn_nginx_and_workers_spread_over_nodes_and_zones_and_pods_carry_pod_config(production):
    deployments = by_kind(production, "Deployment")
    for name in ("shop-gunicorn", "shop-nginx", "shop-worker-short", "shop-worker-long", "shop-worker-default"):
        spread = deployments[name]["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in spread] == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    for name in ("shop-socketio", "shop-scheduler"):
        assert "topologySpreadConstraints" not in deployments[name]["spec"]["template"]["spec"]
    for obj, spec in pods(production):
        assert obj["spec"]["template"]["metadata"]["labels"]["team"] == "shop", obj["metadata"]["name"]
        assert spec["tolerations"] == BENCH["spec"]["podConfig"]["tolerations"], obj["metadata"]["name"]


def test_gunicorn_and_nginx_finish_their_requests_when_they_stop(production):
    deployments = by_kind(production, "Deployment")
    gunicorn = deployments["shop-gunicorn"]["spec"]["template"]["spec"]
    assert {"name": "GUNICORN_CMD_ARGS", "value": "--graceful-timeout=120"} in gunicorn["containers"][0]["env"]
    assert gunicorn["containers"][0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert gunicorn["terminationGracePeriodSeconds"] > 5 + 120
    nginx = deployments["shop-nginx"]["spec"]["template"]["spec"]
    assert "-s quit" in nginx["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1]
    assert nginx["terminationGracePeriodSeconds"] > 5 + 120


@pytest.mark.parametrize("change, message", [
    ({"componentReplicas": {"socketio": 2}}, "spec.componentReplicas.socketio (2) must be 0 or 1"),
    ({"componentAutoscaling": {"socketio": {"enabled": True}}},
     "spec.componentAutoscaling.socketio.enabled cannot be true"),
    ({"componentAutoscaling": {"gunicorn": {"enabled": True, "minReplicas": 0}}},
     "spec.componentAutoscaling.gunicorn.minReplicas (0) must be >= 1"),
    ({"componentAutoscaling": {"worker-short": {}}, "workerAutoscalingConfig": {"short": {"maxReplicas": 3}}},
     "both set the short worker"),
    ({"podConfig": {"labels": {"app.kubernetes.io/component": "x"}}},
     "spec.podConfig.labels.app.kubernetes.io/component is set by the collection"),
])
def test_what_would_break_the_bench_is_refused_before_anything_is_rendered(tmp_path, change, message):
    bench = copy.deepcopy(BENCH)
    bench["spec"].update(change)
    with pytest.raises(RenderError) as err:
        render(tmp_path, bench)
    assert message in str(err.value)
    assert not (tmp_path / "rendered" / "manifests.yaml").exists()
