"""The production web tier of a bench: container sizes, replicas and autoscalers, disruption budgets, placement."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.autoscaling import worker_autoscaling
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import bench_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import bench_spec_errors
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.component_resources import (
    DEFAULTS, REDIS_DEFAULT, component_resources)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.component_scaling import (
    WEB_DEFAULTS, web_scaling)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_placement import (
    SITES_NODE_LABEL, pod_config, site_job_pods)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_security import (
    security_contexts, security_errors)

from test_bench_plan import SETTINGS, bench, obj, owned, plan


def steps(p, kind):
    return [s["name"] for s in p["render"] if s["kind"] == kind]


def component(p, name):
    return [c for c in p["components"] if c["name"] == name][0]


def test_every_process_has_requests_and_an_entry_replaces_the_built_in_size_whole():
    sized = component_resources({})
    assert all(sized[key]["requests"]["cpu"] and sized[key]["requests"]["memory"] for key in DEFAULTS)
    assert sized["redis"] == REDIS_DEFAULT and "limits" not in sized["redis"]
    own = component_resources({"componentResources": {"gunicorn": {"requests": {"cpu": "2"}}},
                               "redisConfig": {"resources": {"limits": {"memory": "2Gi"}}}})
    assert own["gunicorn"] == {"requests": {"cpu": "2"}} and own["nginx"] == DEFAULTS["nginx"]
    assert own["redis"] == {"limits": {"memory": "2Gi"}}
    errors = bench_spec_errors(bench(componentResources={"nginx": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}))
    assert errors == ["spec.componentResources.nginx.requests.cpu (2) is more than its limit (1): Kubernetes refuses "
                      "such a pod, so it would never start. Lower the request or raise "
                      "spec.componentResources.nginx.limits.cpu"]


def test_gunicorn_and_nginx_run_static_replicas_until_an_autoscaler_owns_them():
    static = web_scaling({"componentReplicas": {"gunicorn": 3}}, keda_available=True)
    assert static["gunicorn"]["mode"] == "static" and static["gunicorn"]["replicas"] == 3
    assert static["gunicorn"]["budget"] and not static["nginx"]["budget"]
    hpa = web_scaling({"componentAutoscaling": {"gunicorn": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}}},
                      keda_available=False)["gunicorn"]
    assert (hpa["mode"], hpa["provider"], hpa["replicas"], hpa["budget"]) == ("autoscaled", "hpa", 2, True)
    assert hpa["hpa"] == WEB_DEFAULTS["hpa"]
    keda = {"componentAutoscaling": {"nginx": {"enabled": True, "provider": "keda", "keda": {"trigger": "memory"}}}}
    assert web_scaling(keda, keda_available=True)["nginx"]["provider"] == "keda"
    without = web_scaling(keda, keda_available=False)["nginx"]
    assert without["mode"] == "static" and without["replicas"] == 1 and not without["providerManaged"]
    assert without["warnings"] == ["KEDA is not available: nginx runs 1 static replica(s) instead of scaling 1-10 on "
                                   "memory; install KEDA or set spec.componentAutoscaling.nginx.provider: hpa"]


@pytest.mark.parametrize("spec, message", [
    ({"componentAutoscaling": {"gunicorn": {"enabled": True, "minReplicas": 0}}},
     "spec.componentAutoscaling.gunicorn.minReplicas (0) must be >= 1"),
    ({"componentAutoscaling": {"gunicorn": {"enabled": True, "minReplicas": 4, "maxReplicas": 2}}},
     "spec.componentAutoscaling.gunicorn.minReplicas (4) must be <= maxReplicas (2)"),
    ({"componentReplicas": {"gunicorn": 2}, "componentAutoscaling": {"gunicorn": {"staticReplicas": 3}}},
     "spec.componentAutoscaling.gunicorn.staticReplicas (3) and spec.componentReplicas.gunicorn (2) disagree"),
    ({"componentReplicas": {"socketio": 2}}, "spec.componentReplicas.socketio (2) must be 0 or 1"),
    ({"componentAutoscaling": {"socketio": {"enabled": True}}},
     "spec.componentAutoscaling.socketio.enabled cannot be true: socketio runs one replica (Frappe's realtime server"),
    ({"componentAutoscaling": {"socketio": {"maxReplicas": 3}}},
     "spec.componentAutoscaling.socketio.maxReplicas is not taken"),
    ({"componentAutoscaling": {"scheduler": {"staticReplicas": 2}}},
     "spec.componentAutoscaling.scheduler.staticReplicas (2) must be 0 or 1"),
    ({"componentAutoscaling": {"scheduler": {"staticReplicas": 0}}},
     "spec.componentAutoscaling.scheduler.staticReplicas must be 1"),
    ({"componentAutoscaling": {"gunicorn": {"keda": {"trigger": "redis"}}}},
     "spec.componentAutoscaling.gunicorn.keda.trigger must be cpu or memory"),
    ({"componentAutoscaling": {"celery": {}}}, "spec.componentAutoscaling has unknown component(s) celery"),
])
def test_what_would_break_a_bench_is_refused_naming_the_field(spec, message):
    with pytest.raises(InvalidInput) as err:
        web_scaling(spec, keda_available=True)
    assert message in str(err.value)


def test_a_scheduler_key_that_says_one_replica_is_taken():
    assert web_scaling({"componentAutoscaling": {"scheduler": {"enabled": False, "staticReplicas": 1}}},
                       keda_available=True)["scheduler"]["replicas"] == 1


def test_the_go_operators_worker_keys_are_another_spelling_of_the_worker_settings():
    spelled = worker_autoscaling({"componentAutoscaling": {"worker-long": {
        "enabled": True, "minReplicas": 2, "maxReplicas": 4, "provider": "keda",
        "keda": {"trigger": "redis", "targetValue": "3"}}}}, keda_available=True, bench_id="erp")
    ours = worker_autoscaling({"workerAutoscalingConfig": {"long": {
        "enabled": True, "minReplicas": 2, "maxReplicas": 4, "queueLength": 3}}}, keda_available=True, bench_id="erp")
    assert spelled["long"]["source"] == "componentAutoscaling"
    assert dict(spelled["long"], source=None) == dict(ours["long"], source=None)
    # What the block leaves out takes the worker defaults, not the web tier's.
    assert spelled["long"]["cooldownPeriod"] == 300 and spelled["short"]["source"] == "defaults"
    for spec, message in [
            ({"componentAutoscaling": {"worker-short": {}}, "workerAutoscalingConfig": {"short": {}}},
             "spec.componentAutoscaling.worker-short and spec.workerAutoscalingConfig.short both set the short worker"),
            ({"componentAutoscaling": {"worker-short": {"provider": "hpa"}}},
             "spec.componentAutoscaling.worker-short.provider must be keda"),
            ({"componentAutoscaling": {"worker-short": {"keda": {"trigger": "cpu"}}}},
             "spec.componentAutoscaling.worker-short.keda.trigger must be redis"),
            ({"componentAutoscaling": {"worker-default": {"keda": {"metadata": {"listName": "x"}}}}},
             "spec.componentAutoscaling.worker-default.keda.metadata is not taken")]:
        with pytest.raises(InvalidInput) as err:
            worker_autoscaling(spec, keda_available=True, bench_id="erp")
        assert message in str(err.value)


def test_the_plan_renders_one_autoscaler_per_autoscaled_process_and_keeps_its_count():
    spec = {"componentAutoscaling": {"gunicorn": {"enabled": True, "minReplicas": 2, "maxReplicas": 5},
                                     "nginx": {"enabled": True, "provider": "keda", "maxReplicas": 3}}}
    p = plan(bench(**spec))
    assert steps(p, "HorizontalPodAutoscaler") == ["erp-gunicorn"]
    assert "erp-nginx" in steps(p, "ScaledObject")
    assert component(p, "gunicorn")["replicas"] == 2
    # Once the Deployment exists the autoscaler's count is kept, never written back.
    live = [obj("Deployment", "erp-gunicorn", spec={"replicas": 4}), obj("Deployment", "erp-nginx", spec={"replicas": 3})]
    p = plan(bench(**spec), deployments=live)
    assert component(p, "gunicorn")["replicas"] == 4 and component(p, "nginx")["replicas"] == 3
    # Static processes are set to what the spec says.
    assert component(plan(bench(componentReplicas={"gunicorn": 2}), deployments=live), "gunicorn")["replicas"] == 2
    # Without KEDA the nginx ScaledObject is not planned, and a live one is pruned with the HPA that is no longer wanted.
    p = plan(bench(**spec), api_groups={"keda.sh/v1alpha1": False},
             scaledobjects=[owned("ScaledObject", "erp-nginx")],
             autoscalers=[owned("HorizontalPodAutoscaler", "erp-old")])
    assert "erp-nginx" not in steps(p, "ScaledObject")
    assert [(d["kind"], d["name"]) for d in p["delete"]] == [
        ("ScaledObject", "erp-nginx"), ("HorizontalPodAutoscaler", "erp-old")]


def test_a_budget_guards_each_process_from_two_replicas_on_and_none_blocks_a_drain_at_one():
    assert steps(plan(), "PodDisruptionBudget") == []
    p = plan(bench(componentReplicas={"gunicorn": 2},
                   componentAutoscaling={"nginx": {"enabled": True, "minReplicas": 1, "maxReplicas": 4}},
                   workerAutoscalingConfig={"long": {"minReplicas": 2},
                                            "default": {"enabled": False, "staticReplicas": 3}}))
    assert steps(p, "PodDisruptionBudget") == ["erp-gunicorn", "erp-worker-long", "erp-worker-default"]
    gone = plan(disruption_budgets=[owned("PodDisruptionBudget", "erp-gunicorn")])
    assert [(d["api_version"], d["kind"], d["name"]) for d in gone["delete"]] == [
        ("policy/v1", "PodDisruptionBudget", "erp-gunicorn")]


def test_pods_spread_over_nodes_only_where_the_volume_lets_them():
    rwx = plan(bench(storageClassName="shared-nfs"))
    assert rwx["sites"]["access_mode"] == "ReadWriteMany"
    spread = component(rwx, "gunicorn")["spread"]
    assert [c["topologyKey"] for c in spread] == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" for c in spread)
    assert spread[0]["labelSelector"] == {"matchLabels": {"vyogo.tech/bench": "erp",
                                                          "app.kubernetes.io/component": "gunicorn"}}
    assert rwx["workers"]["short"]["spread"] and not component(rwx, "socketio")["spread"]
    rwo = plan(bench(storageClassName="standard"))
    assert rwo["sites"]["access_mode"] == "ReadWriteOnce"
    assert not component(rwo, "gunicorn")["spread"] and not rwo["workers"]["short"]["spread"]


def test_pod_config_joins_the_volume_node_and_may_not_take_the_selecting_labels():
    config = {"labels": {"team": "retail"}, "nodeSelector": {"pool": "frappe"}, "geoTag": {"zone": "eu-1a"},
              "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "frappe", "effect": "NoSchedule"}],
              "affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}}}
    p = plan(bench(storageClassName="standard", podConfig=config))
    assert p["pods"]["placement"]["nodeSelector"] == {"pool": "frappe", "topology.kubernetes.io/zone": "eu-1a"}
    sites = p["pods"]["sites_placement"]["affinity"]["podAffinity"]
    assert sites["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 1}]
    assert sites["requiredDuringSchedulingIgnoredDuringExecution"] == [{
        "labelSelector": {"matchLabels": {SITES_NODE_LABEL: "erp-sites"}}, "topologyKey": "kubernetes.io/hostname"}]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in p["pods"]["placement"]["affinity"]["podAffinity"]
    assert p["pods"]["sites_labels"] == {"team": "retail", SITES_NODE_LABEL: "erp-sites"}
    for bad, message in [
            ({"labels": {"vyogo.tech/bench": "other"}}, "spec.podConfig.labels.vyogo.tech/bench is set by the collection"),
            ({"labels": {"tier": 3}}, "spec.podConfig.labels.tier must be a label value"),
            ({"tolerations": [{"operator": "Exists", "value": "x"}]}, "spec.podConfig.tolerations[0].value must be empty"),
            ({"affinity": {"nodeAfinity": {}}}, "spec.podConfig.affinity has unknown field(s) nodeAfinity"),
            ({"geoTag": {"zone": "a"}, "nodeSelector": {"topology.kubernetes.io/zone": "b"}}, "disagree")]:
        refused = plan(bench(podConfig=bad))
        assert refused["errors"] and message in refused["errors"][0], refused["errors"]
        assert "render" not in refused


def test_a_sites_job_runs_where_the_bench_places_its_pods():
    b = bench(podConfig={"nodeSelector": {"pool": "frappe"}},
              status={"sitesAccessMode": "ReadWriteOnce", "sitesClaim": "erp-sites"})
    pods = site_job_pods(b, 1000)
    assert pods["labels"] == {SITES_NODE_LABEL: "erp-sites"}
    assert pods["placement"]["nodeSelector"] == {"pool": "frappe"}
    assert pods["placement"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert site_job_pods(None, 1000) == {"labels": {}, "placement": {}, "security": security_contexts({}, 1000)}
    assert pod_config({}) == {"labels": {}, "nodeSelector": {}, "affinity": {}, "tolerations": []}


def test_status_reports_each_components_scaling_as_the_go_operator_does():
    spec = {"componentAutoscaling": {"gunicorn": {"enabled": True, "minReplicas": 2, "maxReplicas": 5}}}
    p = plan(bench(**spec))
    state = {"deployments": [obj("Deployment", "erp-gunicorn", spec={"replicas": 3}, status={"replicas": 2}),
                             obj("Deployment", "erp-worker-short", spec={"replicas": 0}, status={})]}
    patch = bench_status(p, state, bench(**spec), SETTINGS)["status"]
    scaling = patch["componentScaling"]
    assert scaling["gunicorn"] == {"mode": "autoscaled", "provider": "hpa", "currentReplicas": 2,
                                   "desiredReplicas": 3, "providerManaged": True}
    assert scaling["nginx"] == {"mode": "static", "provider": "", "currentReplicas": 0, "desiredReplicas": 0,
                                "providerManaged": False}
    assert scaling["worker-short"]["provider"] == "keda" and scaling["worker-short"]["mode"] == "autoscaled"
    assert sorted(scaling) == ["gunicorn", "nginx", "scheduler", "socketio", "worker-default", "worker-long",
                               "worker-short"]


def test_security_goes_over_the_restricted_contexts_of_every_pod_and_sites_jobs():
    # The Go operator's OpenShift example: an arbitrary uid in the root group.
    openshift = {"security": {"podSecurityContext": {"runAsUser": 1001, "runAsGroup": 0, "fsGroup": 0},
                              "securityContext": {"runAsUser": 1001, "runAsGroup": 0,
                                                  "allowPrivilegeEscalation": False,
                                                  "capabilities": {"drop": ["NET_RAW"]}}}}
    assert security_errors(openshift) == []
    contexts = security_contexts(openshift, 1000)
    assert contexts["pod"] == {"runAsNonRoot": True, "runAsUser": 1001, "runAsGroup": 0, "fsGroup": 0,
                               "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
    assert contexts["container"] == {"allowPrivilegeEscalation": False, "runAsUser": 1001, "runAsGroup": 0,
                                     "capabilities": {"drop": ["ALL", "NET_RAW"]}}
    p = plan(bench(**openshift))
    assert p["security"] == contexts and p["redis_security"]["pod"]["runAsUser"] == 1001
    assert site_job_pods(bench(**openshift), 1000)["security"] == contexts
    assert security_contexts({}, 1000)["pod"]["runAsUser"] == 1000


@pytest.mark.parametrize("security, message", [
    ({"podSecurityContext": {"runAsUser": 0}}, "spec.security.podSecurityContext.runAsUser: 0 runs as root"),
    ({"podSecurityContext": {"runAsNonRoot": False}}, "spec.security.podSecurityContext.runAsNonRoot: false"),
    ({"securityContext": {"privileged": True}}, "spec.security.securityContext.privileged: true"),
    ({"securityContext": {"allowPrivilegeEscalation": True}}, "allowPrivilegeEscalation: true"),
    ({"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}, "capabilities.add SYS_ADMIN"),
    ({"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}, "seccompProfile.type Unconfined"),
    ({"podSecurityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}, "sysctls kernel.msgmax"),
    ({"securityContext": {"readOnlyRootFilesystem": True}}, "Frappe writes its logs"),
    ({"securityContext": {"runAsUsr": 5}}, "spec.security.securityContext has unknown field(s) runAsUsr"),
])
def test_what_would_break_podsecurity_restricted_or_frappe_is_refused_with_the_reason(security, message):
    errors = security_errors({"security": security})
    assert len(errors) == 1 and message in errors[0], errors
    refused = plan(bench(security=security))
    assert refused["errors"] and message in refused["errors"][0]


def test_the_go_operators_older_spellings_are_read_as_the_fields_they_stand_for():
    written = bench(version="v15.46.0", componentReplicas={"scheduler": 1, "workers": {"default": 2, "long": 0}})
    del written["spec"]["frappeVersion"], written["spec"]["imageConfig"]["tag"]
    older = plan(written)
    assert older["errors"] == [] and older["image"].endswith(":v15.46.0")
    assert older["spec"]["frappeVersion"] == "v15.46.0" and "version" not in older["spec"]
    assert older["workers"]["default"]["staticReplicas"] == 2 and older["workers"]["long"]["staticReplicas"] == 0
    assert older["workers"]["default"]["source"] == "componentReplicas"
    for spec, message in [
            ({"version": "v15.1.0"}, "spec.version (v15.1.0) and spec.frappeVersion (version-15) disagree"),
            ({"componentReplicas": {"scheduler": 2}}, "spec.componentReplicas.scheduler must be 1"),
            ({"componentReplicas": {"workers": {"short": 1}, "workerShort": 2}},
             "spec.componentReplicas.workers.short (1) and spec.componentReplicas.workerShort (2) disagree"),
            ({"componentReplicas": {"workers": {"fast": 1}}}, "spec.componentReplicas.workers.fast is not a worker")]:
        refused = plan(bench(**spec))
        assert refused["errors"] and message in refused["errors"][0], refused["errors"]
