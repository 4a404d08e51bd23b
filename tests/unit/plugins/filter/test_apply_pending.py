"""apply_pending: the rendered objects kubernetes.core's client-side apply would create or change."""

import copy
import json

from ansible_collections.vyogotech.frappe.plugins.filter.apply_pending import apply_pending

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def service(selector=None, ports=None):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "erp-gunicorn", "namespace": "shop", "labels": {"app": "frappe"}},
            "spec": {"selector": selector or {"component": "gunicorn"},
                     "ports": ports or [{"name": "http", "port": 8000, "targetPort": 8000}]}}


def applied(definition):
    """The object as the API server keeps it after kubernetes.core applied `definition`: its fields, the
    annotation with what was applied, and fields the server adds."""
    live = copy.deepcopy(definition)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(definition, separators=(",", ":"), sort_keys=True)}
    live["metadata"].update(uid="u-1", resourceVersion="42", creationTimestamp="2026-11-27T10:00:00Z")
    live["spec"]["ports"][0]["protocol"] = "TCP"
    live["spec"].update(type="ClusterIP", clusterIP="10.0.0.7", sessionAffinity="None")
    live["status"] = {"loadBalancer": {}}
    return live


def test_an_object_applied_as_rendered_is_left_out_whatever_the_server_added():
    desired = service()
    assert apply_pending([desired], {"services": [applied(desired)]}) == []


def test_a_missing_object_or_one_of_a_kind_not_read_is_applied():
    desired = service()
    assert apply_pending([desired], {}) == [desired]
    assert apply_pending([desired], {"services": [dict(applied(desired), kind="ConfigMap")]}) == [desired]


def test_a_field_edited_in_the_cluster_is_applied_back():
    desired = service()
    live = applied(desired)
    live["spec"]["selector"]["component"] = "edited"
    assert apply_pending([desired], {"services": [live]}) == [desired]


def test_a_changed_or_removed_field_is_applied():
    before = service(selector={"component": "gunicorn", "old": "yes"})
    live = {"services": [applied(before)]}
    assert apply_pending([service(ports=[{"name": "http", "port": 8001, "targetPort": 8000}])], live) != []
    # Removed since the last apply: only the annotation shows it.
    assert apply_pending([service()], live) == [service()]


def test_an_object_someone_else_created_is_applied_to_take_it_over():
    live = applied(service())
    del live["metadata"]["annotations"]
    assert apply_pending([service()], {"services": [live]}) == [service()]


def test_items_keep_their_shape_and_order_and_the_facts_are_not_changed():
    first, second = service(), dict(service(), metadata={"name": "erp-nginx", "namespace": "shop"})
    live = {"services": [applied(first)]}
    snapshot = copy.deepcopy(live)
    items = [{"stage": "processes", "object": second}, {"stage": "processes", "object": first}]
    assert apply_pending(items, live, attribute="object") == [items[0]]
    assert live == snapshot


def statefulset(storage="1Gi"):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "erp-redis-queue", "namespace": "shop"},
            "spec": {"serviceName": "erp-redis-queue", "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": storage}}}}]}}


def test_a_claim_template_the_server_completed_is_in_sync_but_a_changed_annotation_is_not():
    desired = statefulset()
    live = copy.deepcopy(desired)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(desired, separators=(",", ":"), sort_keys=True)}
    template = live["spec"]["volumeClaimTemplates"][0]
    template.update(apiVersion="v1", kind="PersistentVolumeClaim", status={"phase": "Pending"})
    template["spec"]["volumeMode"] = "Filesystem"
    assert apply_pending([desired], {"statefulsets": [live]}) == []
    # The template cannot change, but what was last applied can: still applied (bench_plan refuses a new size).
    assert apply_pending([statefulset("2Gi")], {"statefulsets": [live]}) == [statefulset("2Gi")]
    # Other fields of a StatefulSet are compared as any.
    live["spec"]["serviceName"] = "edited"
    assert apply_pending([desired], {"statefulsets": [live]}) == [desired]


def test_an_empty_string_the_server_left_out_is_in_sync_but_a_value_is_not():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "erp-new-site-1", "namespace": "shop"},
           "spec": {"template": {"spec": {"containers": [
               {"name": "new-site", "env": [{"name": "HOST_NAME", "value": ""}, {"name": "SITE_NAME", "value": "erp"}]}]}}}}
    live = copy.deepcopy(job)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(job, separators=(",", ":"), sort_keys=True)}
    # The API server stores an env var with an empty value without its value.
    del live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
    assert apply_pending([job], {"jobs": [live]}) == []
    live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "https://erp.example.com"
    assert apply_pending([job], {"jobs": [live]}) == [job]
