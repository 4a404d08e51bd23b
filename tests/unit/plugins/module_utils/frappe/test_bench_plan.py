"""Unit tests of bench_plan: the names, decisions, refusals and deletions of a bench's reconcile."""

import copy
import re
from pathlib import Path

from ansible_collections.vyogotech.frappe.plugins.action.bench_reconcile_plan import SCRIPTS
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan

from role_settings import role_settings

SETTINGS = role_settings("frappe_bench", "frappe_bench_settings")


UID = "0b7c2f5e-1111-2222-3333-444455556666"


def bench(name="erp", namespace="erp-ns", status=None, annotations=None, **spec):
    body = {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext", "tag": "v15.45.0"}}
    body.update(spec)
    meta = {"name": name, "namespace": namespace, "uid": UID}
    if annotations:
        meta["annotations"] = annotations
    obj = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "metadata": meta, "spec": body}
    if status:
        obj["status"] = status
    return obj


def obj(kind, name, **fields):
    return dict({"kind": kind, "metadata": {"name": name}}, **fields)


STANDARD = obj("StorageClass", "standard", provisioner="rancher.io/local-path",
               metadata={"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}})
NFS = obj("StorageClass", "shared-nfs", provisioner="nfs.csi.k8s.io")


def plan(b=None, mode="apply", **live):
    live.setdefault("storage_classes", [STANDARD, NFS])
    live.setdefault("api_groups", {"keda.sh/v1alpha1": True})
    return bench_plan(b or bench(), live=live, settings=SETTINGS, mode=mode, config_script="echo configure")


def test_every_name_the_bench_owns_comes_from_the_plan():
    p = plan()
    assert p["errors"] == []
    rendered = [s["template"] for s in p["render"]]
    assert rendered == [
        "storage/sites-pvc.yaml.j2",
        "redis/service.yaml.j2", "redis/networkpolicy.yaml.j2", "redis/statefulset.yaml.j2",
        "redis/service.yaml.j2", "redis/networkpolicy.yaml.j2", "redis/statefulset.yaml.j2",
        "config/job.yaml.j2", "components/nginx-configmap.yaml.j2",
        "components/service.yaml.j2", "components/deployment.yaml.j2",
        "components/service.yaml.j2", "components/deployment.yaml.j2",
        "components/service.yaml.j2", "components/deployment.yaml.j2",
        "components/deployment.yaml.j2",
        "workers/deployment.yaml.j2", "workers/deployment.yaml.j2", "workers/deployment.yaml.j2",
        "workers/triggerauthentication.yaml.j2",
        "workers/scaledobject.yaml.j2", "workers/scaledobject.yaml.j2"]
    assert [s["stage"] for s in p["render"]] == sorted(
        [s["stage"] for s in p["render"]], key=["storage", "redis", "config", "processes", "keda"].index)
    assert p["names"]["worker"]["short"] == "erp-worker-short" and p["names"]["sites"] == "erp-sites"
    assert re.fullmatch(r"erp-config-[0-9a-f]{10}", p["config"]["job"])
    assert p["id"] == "erp-ns.erp" and p["owner_references"][0]["uid"] == bench()["metadata"]["uid"]


def test_the_configuration_hash_follows_every_input_and_nothing_else():
    first = plan()["config"]["hash"]
    assert plan()["config"]["hash"] == first
    assert plan(bench(imageConfig={"repository": "docker.io/frappe/erpnext", "tag": "v15.46.0"}))["config"]["hash"] != first
    assert bench_plan(bench(), live={"storage_classes": [STANDARD]}, settings=SETTINGS,
                      config_script="echo other")["config"]["hash"] != first
    assert bench_plan(bench(), live={"storage_classes": [STANDARD, NFS]}, settings=SETTINGS, config_script="echo configure",
                      assets_script="echo assets")["config"]["hash"] != first
    assert plan(bench(componentReplicas={"gunicorn": 3}))["config"]["hash"] == first


def owned(kind, name, uid=UID, **fields):
    """A live object this bench (or another, by uid) controls."""
    return dict({"kind": kind, "metadata": {"name": name, "ownerReferences": [
        {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "name": "erp", "uid": uid, "controller": True}]}},
        **fields)


def test_a_completed_configuration_job_is_not_waited_for_and_earlier_ones_go():
    job = plan()["config"]["job"]
    complete = {"conditions": [{"type": "Complete", "status": "True"}]}
    p = plan(jobs=[owned("Job", job, status=complete), owned("Job", "erp-config-0123456789", status=complete),
                   obj("Job", "erp-config-backup")])
    assert p["config"]["done"] is True
    # Only what the bench controls goes: a Job someone else made stays.
    assert p["delete"] == [{"api_version": "batch/v1", "kind": "Job", "name": "erp-config-0123456789"}]
    assert plan(jobs=[owned("Job", job, status={"active": 1})])["config"]["done"] is False


def test_refusals_stop_the_plan_before_anything_is_decided():
    p = plan(bench(storageSize="0"))
    assert len(p["errors"]) == 1 and "spec.storageSize" in p["errors"][0] and "render" not in p
    changed = plan(bench(benchId="other", status={"phase": "Ready", "benchId": "erp-ns.erp"}))
    assert "cannot change from erp-ns.erp to other" in changed["errors"][0] and "render" not in changed
    no_uid = bench()
    del no_uid["metadata"]["uid"]
    assert "metadata.uid is missing" in plan(no_uid)["errors"][0]
    assert plan(no_uid, mode="render")["errors"] == []


def test_what_only_the_cluster_knows_is_checked_in_apply_mode_only():
    missing_class = bench(storageClassName="no-such-class")
    assert "StorageClass no-such-class does not exist. Pick one of standard, shared-nfs" in plan(missing_class)["errors"][0]
    assert plan(missing_class, mode="render")["errors"] == []
    external = bench(redisConfig={"connectionSecretRef": {"name": "queue"}})
    assert "which does not exist" in plan(external)["errors"][0]
    lacking = [{"kind": "Secret", "metadata": {"name": "queue", "resourceVersion": "7"}, "data": {"host": ""}}]
    assert "lacks the key host or port" in plan(external, redis_secret=lacking)["errors"][0]
    elsewhere = bench(redisConfig={"connectionSecretRef": {"name": "queue", "namespace": "other"}})
    assert "connectionSecretRef.namespace must be the bench namespace" in plan(elsewhere, mode="render")["errors"][0]
    bad_annotation = bench(annotations={"vyogo.tech/sites-access-mode": "Sometimes"})
    assert "must be ReadWriteMany or ReadWriteOnce" in plan(bad_annotation, mode="render")["errors"][0]


def test_the_sites_volume_follows_its_class_and_an_existing_claim_keeps_what_it_is():
    assert plan()["sites"]["access_mode"] == "ReadWriteOnce"
    assert any("does not look ReadWriteMany-capable" in w for w in plan()["warnings"])
    assert plan(bench(storageClassName="shared-nfs"))["sites"]["access_mode"] == "ReadWriteMany"
    assert plan(mode="render")["sites"]["access_mode"] == "ReadWriteMany"
    claim = obj("PersistentVolumeClaim", "erp-sites", spec={
        "accessModes": ["ReadWriteMany"], "storageClassName": "shared-nfs", "resources": {"requests": {"storage": "20Gi"}}})
    kept = plan(bench(storageClassName="standard", storageSize="10Gi"), sites_claim=[claim])
    assert kept["sites"] == {"exists": True, "access_mode": "ReadWriteMany", "class_name": "shared-nfs", "size": "20Gi",
                             "owned": False}
    assert any("the class of a claim cannot change" in w for w in kept["warnings"])
    grown = plan(bench(storageSize="30Gi"), sites_claim=[claim])["sites"]
    assert (grown["size"], grown["class_name"]) == ("30Gi", "")


def test_a_kept_sites_volume_is_taken_off_the_bench_and_an_owned_one_left_alone():
    # What the Ansible Operator SDK's proxy appends on a create: the bench, not as controller.
    proxy = {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench", "name": "erp", "uid": UID}
    claim = obj("PersistentVolumeClaim", "erp-sites", apiVersion="v1", spec={"accessModes": ["ReadWriteMany"]},
                metadata={"name": "erp-sites", "namespace": "erp-ns", "ownerReferences": [proxy]})
    kept = plan(sites_claim=[claim])
    assert not kept["sites"]["owned"]
    assert kept["owner_fixes"] == [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                    "metadata": {"name": "erp-sites", "namespace": "erp-ns", "ownerReferences": None}}]
    deleted_with_it = plan(bench(annotations={"vyogo.tech/sites-deletion-policy": "Delete"}), sites_claim=[claim])
    assert deleted_with_it["sites"]["owned"] and deleted_with_it["owner_fixes"] == []
    assert plan()["owner_fixes"] == [] and plan(mode="render")["owner_fixes"] == []


def test_the_prune_takes_what_the_bench_controls_and_no_longer_plans_and_nothing_else():
    planned = plan()
    live = dict((key, [owned(step["kind"], step["name"]) for step in planned["render"] if step["kind"] == kind])
                for key, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet"),
                                  ("services", "Service"), ("networkpolicies", "NetworkPolicy"),
                                  ("scaledobjects", "ScaledObject"), ("triggerauthentications", "TriggerAuthentication")))
    # The queue Redis as it runs: with its volume (one without is the in-memory one of old, kept as it is).
    live["statefulsets"][1]["spec"] = {"volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}
    assert plan(**live)["delete"] == []
    live["scaledobjects"].append(owned("ScaledObject", "erp-worker-default"))
    live["deployments"].append(owned("Deployment", "erp-old-process"))
    live["deployments"].append(owned("Deployment", "erp-of-another-bench", uid="another-uid"))
    live["deployments"].append(obj("Deployment", "erp-made-by-hand"))
    assert plan(**live)["delete"] == [
        {"api_version": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "erp-worker-default"},
        {"api_version": "apps/v1", "kind": "Deployment", "name": "erp-old-process"}]
    # An external Redis: the in-cluster servers go, ScaledObjects first.
    secret = [{"kind": "Secret", "metadata": {"name": "queue"}, "data": {"host": "", "port": ""}}]
    external = plan(bench(redisConfig={"connectionSecretRef": {"name": "queue"}}), redis_secret=secret, **live)
    assert [(d["kind"], d["name"]) for d in external["delete"]] == [
        ("ScaledObject", "erp-worker-default"), ("Deployment", "erp-old-process"),
        ("StatefulSet", "erp-redis-cache"), ("StatefulSet", "erp-redis-queue"),
        ("Service", "erp-redis-cache"), ("Service", "erp-redis-queue"),
        ("NetworkPolicy", "erp-redis-cache"), ("NetworkPolicy", "erp-redis-queue")]
    # Without KEDA the worker ScaledObjects go, and the TriggerAuthentication with them.
    gone = plan(api_groups={"keda.sh/v1alpha1": False}, **live)
    assert gone["keda"] is False
    assert [d["kind"] for d in gone["delete"]][:4] == ["ScaledObject"] * 3 + ["TriggerAuthentication"]
    # Never a claim or a Secret, whatever they are.
    assert all(d["kind"] not in ("PersistentVolumeClaim", "Secret") for d in external["delete"] + gone["delete"])
    # Render mode deletes nothing.
    assert plan(mode="render", **live)["delete"] == []


def test_a_queue_redis_that_keeps_its_jobs_in_memory_is_left_as_it_is():
    in_memory = owned("StatefulSet", "erp-redis-queue", spec={})
    p = plan(statefulsets=[in_memory])
    assert p["delete"] == []
    assert p["redis"]["queue_in_memory"] is True
    assert "redis/statefulset.yaml.j2" in [s["template"] for s in p["render"]]  # the cache's
    assert [s["vars"]["redis"]["role"] for s in p["render"] if s["template"] == "redis/statefulset.yaml.j2"] == ["cache"]
    assert p["redis"]["endpoints"]["queue"]["auth"] is False


def test_keda_and_its_operator_decide_how_workers_scale():
    assert plan()["workers"]["short"]["mode"] == "autoscaled"
    stale = {"kind": "Lease", "metadata": {"name": "operator.keda.sh"},
             "spec": {"holderIdentity": "keda-0", "leaseDurationSeconds": 15, "renewTime": "2020-01-01T00:00:00.000000Z"}}
    gone = plan(keda_lease=[stale])
    assert gone["keda_operator_alive"] is False and gone["workers"]["short"]["mode"] == "static"
    assert any("the KEDA operator is not running" in w for w in gone["warnings"])
    failing = obj("ScaledObject", "erp-worker-short", metadata={
        "name": "erp-worker-short", "labels": {"app.kubernetes.io/component": "worker-short"}},
        status={"conditions": [{"type": "Ready", "status": "False", "reason": "TriggerError", "message": "x"}]})
    assert plan(scaledobjects=[failing])["workers"]["short"]["mode"] == "fallback"
    assert plan(api_groups={"keda.sh/v1alpha1": False})["workers"]["short"]["mode"] == "static"
    # A read that did not ask is no answer: static replicas, not ScaledObjects nothing may serve.
    assert plan(api_groups={})["workers"]["short"]["mode"] == "static"
    assert plan(mode="render")["workers"]["short"]["mode"] == "autoscaled"


def test_the_plan_does_not_change_its_input():
    b = bench(workerAutoscalingConfig={"short": {"maxReplicas": 3}})
    before = copy.deepcopy(b)
    plan(b)
    assert b == before


def test_a_new_size_for_the_queue_volume_is_refused_with_the_way_out():
    queue = obj("StatefulSet", "erp-redis-queue", spec={"volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]})
    refused = plan(bench(redisConfig={"storageSize": "2Gi"}), statefulsets=[queue])
    assert refused["errors"][0].startswith("spec.redisConfig.storageSize cannot change from 1Gi to 2Gi")
    assert plan(bench(redisConfig={"storageSize": "1024Mi"}), statefulsets=[queue])["errors"] == []
    assert plan(statefulsets=[queue])["errors"] == []  # the default is what it has


def _site(name, site_name, bench_name="erp", created="2026-11-27T10:00:00Z", deleting=False, **spec):
    meta = {"name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-27T12:00:00Z"
    return {"kind": "FrappeSite", "metadata": meta,
            "spec": dict({"benchRef": {"name": bench_name}, "siteName": site_name}, **spec)}


def test_nginx_maps_the_domains_of_sites_served_on_another_name():
    sites = [_site("crm", "crm.acme.test", domain="crm.example.org"),
             _site("plain", "plain.example.com"),
             _site("other", "x.test", bench_name="elsewhere", domain="x.example.org"),
             _site("gone", "gone.test", deleting=True, domain="gone.example.org"),
             # Claims crm's domain later: crm keeps it (the younger site is refused by site_plan).
             _site("late", "late.test", created="2026-11-27T11:00:00Z", domain="crm.example.org")]
    p = plan(sites=sites)
    assert p["routes"]["map"] == {"crm.example.org": "crm.acme.test"}
    assert p["nginx"]["routes"] == p["routes"]["map"]
    # Every host socket.io may be asked to call back: each site's name and domain.
    assert p["routes"]["hosts"] == ["crm.acme.test", "crm.example.org", "late.test", "plain.example.com"]
    assert ("ConfigMap", "erp-nginx") in [(s["kind"], s["name"]) for s in p["render"]]


def test_the_nginx_configuration_is_always_the_benchs_own_and_the_old_map_is_pruned():
    p = plan(sites=[_site("plain", "plain.example.com")])
    assert p["routes"]["map"] == {} and ("ConfigMap", "erp-nginx") in [(s["kind"], s["name"]) for s in p["render"]]
    nginx = [c for c in p["components"] if c["name"] == "nginx"][0]
    # Debian's nginx with the mounted configuration, not the image's envsubst entrypoint.
    assert nginx["args"] == ["nginx", "-c", "/etc/nginx/frappe/nginx.conf"] and "env" not in nginx
    assert (p["nginx"]["backend"], p["nginx"]["socketio"], p["nginx"]["port"]) == (
        "erp-gunicorn:8000", "erp-socketio:9000", nginx["port"])
    owned = {"name": "erp-nginx-routes", "ownerReferences": [{"controller": True, "uid": UID}]}
    p = plan(configmaps=[{"metadata": owned}])
    assert {"api_version": "v1", "kind": "ConfigMap", "name": "erp-nginx-routes"} in p["delete"]


RESTRICTED = {"kind": "Namespace", "metadata": {"name": "erp-ns", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}}}


def test_the_root_chown_of_the_volume_is_refused_where_the_namespace_enforces_restricted():
    p = plan(bench(sitesVolume={"fixPermissions": True}), namespace=[RESTRICTED])
    [error] = p["errors"]
    assert "spec.sitesVolume.fixPermissions" in error and "pod-security.kubernetes.io/enforce=restricted" in error
    assert "anonuid=1000" in error and "Nothing was changed" in error
    # Nothing to render, so nothing is written.
    assert "render" not in p
    # Without the opt-in the namespace does not matter; under baseline the fix is allowed.
    assert plan(bench(), namespace=[RESTRICTED])["errors"] == []
    baseline = copy.deepcopy(RESTRICTED)
    baseline["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    fixed = plan(bench(sitesVolume={"fixPermissions": True}), namespace=[baseline])
    assert fixed["errors"] == [] and fixed["volume"]["fix_permissions"] is True


def test_queues_and_the_volume_fix_are_inputs_of_the_configuration_hash():
    first = plan()["config"]["hash"]
    queued = plan(bench(queues={"reports": {"timeout": 5000}}))
    assert queued["config"]["hash"] != first and queued["config"]["workers"] == {"reports": {"timeout": 5000}}
    assert plan(bench(sitesVolume={"fixPermissions": True}))["config"]["hash"] != first
    assert any("spec.queues declares reports, which no worker consumes" in w for w in queued["warnings"])


def test_a_site_that_is_not_a_dns_name_never_reaches_the_nginx_configuration():
    p = plan(sites=[_site("bad", "bad.test", domain="x.test; }"), _site("ok", "ok.test")])
    assert p["routes"] == {"map": {}, "hosts": ["ok.test"]}


def nginx_service(ip):
    return {"metadata": {"name": "erp-nginx"}, "spec": {"clusterIP": ip}}


def test_socketio_resolves_every_site_host_to_the_nginx_service():
    sites = [_site("crm", "crm.acme.test", domain="crm.example.org"), _site("plain", "plain.example.com")]
    p = plan(sites=sites, services=[nginx_service("10.96.0.42")])
    socketio = [c for c in p["components"] if c["name"] == "socketio"][0]
    assert socketio["host_aliases"] == [
        {"ip": "10.96.0.42", "hostnames": ["crm.acme.test", "crm.example.org", "plain.example.com"]}]
    # The Service got a new address (deleted and made again): the next reconcile follows it.
    again = plan(sites=sites, services=[nginx_service("10.96.7.7")])
    assert [c for c in again["components"] if c["name"] == "socketio"][0]["host_aliases"][0]["ip"] == "10.96.7.7"
    # No other component gets them.
    assert all("host_aliases" not in c for c in p["components"] if c["name"] != "socketio")


def test_before_the_nginx_service_exists_socketio_has_no_aliases_yet():
    """The first reconcile creates the Service; its creation starts the next reconcile, which adds them."""
    sites = [_site("plain", "plain.example.com")]
    assert [c for c in plan(sites=sites)["components"] if c["name"] == "socketio"][0]["host_aliases"] == []
    headless = plan(sites=sites, services=[nginx_service("None")])
    assert [c for c in headless["components"] if c["name"] == "socketio"][0]["host_aliases"] == []
    no_sites = plan(services=[nginx_service("10.96.0.42")])
    assert [c for c in no_sites["components"] if c["name"] == "socketio"][0]["host_aliases"] == []


def test_real_ip_settings_reach_the_nginx_plan():
    b = bench(nginx={"upstreamRealIPAddresses": ["10.244.0.0/16"], "upstreamRealIPRecursive": False})
    assert plan(b)["nginx"]["real_ip"] == {"upstreamRealIPAddresses": ["10.244.0.0/16"],
                                           "upstreamRealIPHeader": "X-Forwarded-For",
                                           "upstreamRealIPRecursive": False}
    bad = plan(bench(nginx={"upstreamRealIPAddresses": ["10.244.0.1/16"]}))
    assert "spec.nginx.upstreamRealIPAddresses[0]" in bad["errors"][0] and "render" not in bad


def test_every_plan_the_bench_role_makes_takes_every_script():
    """The scripts are inputs of the configuration hash: a plan made without one names another Job."""
    tasks = Path(__file__).resolve().parents[5] / "roles" / "frappe_bench" / "tasks"
    calls = [text.split("vyogotech.frappe.bench_plan(", 1)[1].split("}}", 1)[0]
             for path in sorted(tasks.glob("*.yml"))
             for text in path.read_text().split("{{")[1:] if "vyogotech.frappe.bench_plan(" in text]
    # The first plan is the action's (plugins/action/bench_reconcile_plan.py), the second apply.yml's.
    assert len(calls) == 1
    for call in calls:
        for argument in SCRIPTS:
            assert argument + "=" in call, call
    assert sorted(SCRIPTS) == ["assets_script", "check_script", "config_script", "finish_script", "migrate_script",
                               "rollback_script", "volume_check_script"]
    assert all((tasks.parent / "files" / name).is_file() for name in SCRIPTS.values())
