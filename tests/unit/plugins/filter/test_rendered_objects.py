"""rendered_objects: the documents of objects.yaml.j2 paired with the plan's steps, or refused."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vyogotech.frappe.plugins.filter.rendered_objects import rendered_objects

STEPS = [
    {"stage": "storage", "kind": "PersistentVolumeClaim", "name": "erp-sites", "template": "storage/sites-pvc.yaml.j2"},
    {"stage": "processes", "kind": "Deployment", "name": "erp-gunicorn", "template": "components/deployment.yaml.j2"},
]


def obj(kind, name):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "shop"}}


def test_each_document_goes_with_the_stage_of_its_step_in_order():
    docs = [obj("PersistentVolumeClaim", "erp-sites"), obj("Deployment", "erp-gunicorn")]
    assert rendered_objects(docs, STEPS) == [{"stage": "storage", "object": docs[0]},
                                             {"stage": "processes", "object": docs[1]}]


def test_empty_documents_of_the_stream_do_not_count():
    docs = [None, obj("PersistentVolumeClaim", "erp-sites"), obj("Deployment", "erp-gunicorn"), None]
    assert [item["object"]["kind"] for item in rendered_objects(docs, STEPS)] == ["PersistentVolumeClaim", "Deployment"]


def test_a_missing_object_is_refused_with_both_counts():
    with pytest.raises(AnsibleFilterError, match="the plan has 2 steps, the templates rendered 1 objects"):
        rendered_objects([obj("PersistentVolumeClaim", "erp-sites")], STEPS)


def test_an_object_that_is_not_its_steps_is_refused_naming_the_template():
    docs = [obj("PersistentVolumeClaim", "erp-sites"), obj("Service", "erp-gunicorn")]
    with pytest.raises(AnsibleFilterError, match="components/deployment.yaml.j2 rendered Service erp-gunicorn "
                                                 "where the plan has Deployment erp-gunicorn"):
        rendered_objects(docs, STEPS)


def test_no_steps_and_no_documents_is_an_empty_list():
    assert rendered_objects([], []) == []
