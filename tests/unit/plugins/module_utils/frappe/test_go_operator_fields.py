"""The Go frappe-operator's fields that are read another way here: older spellings, refusals, accepted ones."""

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.go_operator_fields import (
    bench_ignored_fields, current_spelling, site_refusals)


def test_nothing_to_say_for_a_bench_without_them():
    assert bench_ignored_fields({"frappeVersion": "v15", "redisConfig": {"type": "redis"},
                                 "gitConfig": {}, "appsJSON": ""}) == []
    assert current_spelling({"frappeVersion": "v15", "gitConfig": {"enabled": False}, "appsJSON": "",
                             "fpmConfig": {"repositories": []}})[1] == []


def test_each_accepted_field_is_named_once_with_its_reason():
    notes = bench_ignored_fields({"siteReconcileConcurrency": 4, "redisConfig": {"type": "dragonfly"},
                                  "domainConfig": {"suffix": ".example.com"}})
    assert [n.split(":")[0] for n in notes] == ["spec.siteReconcileConcurrency", "spec.redisConfig.type dragonfly"]


def test_app_names_in_apps_json_are_the_apps_and_anything_else_is_refused():
    spec, errors = current_spelling({"frappeVersion": "v15", "appsJSON": '["erpnext", "hrms"]'})
    assert errors == [] and spec["apps"] == [{"name": "erpnext", "source": "image"}, {"name": "hrms", "source": "image"}]
    assert "appsJSON" not in spec
    _spec, errors = current_spelling({"appsJSON": '[{"url": "https://github.com/frappe/hrms"}]'})
    assert errors and errors[0].startswith("spec.appsJSON must be a JSON array of app names")


@pytest.mark.parametrize("spec, message", [
    ({"apps": [{"name": "hrms", "source": "fpm", "version": "15.0.0"}]},
     "spec.apps[0] (hrms) has source fpm: apps are not installed from FPM packages at run time here; build an image"),
    ({"apps": [{"name": "hrms", "source": "git", "gitUrl": "https://github.com/frappe/hrms"}]},
     "spec.apps[0] (hrms) has source git"),
    ({"gitConfig": {"enabled": True}}, "spec.gitConfig.enabled: true"),
    ({"fpmConfig": {"repositories": [{"name": "r", "url": "https://fpm.example"}]}},
     "spec.fpmConfig.repositories is not taken"),
    ({"dbConfig": {"provider": "mariadb"}}, "spec.dbConfig is not taken: a bench-wide database default for its sites is not read here; set "
     "spec.dbConfig on each FrappeSite"),
])
def test_what_installs_apps_at_run_time_is_refused_pointing_at_the_image(spec, message):
    errors = current_spelling(spec)[1]
    assert len(errors) == 1 and message in errors[0], errors


@pytest.mark.parametrize("spec, message", [
    ({"routeConfig": {"enabled": True}}, "spec.routeConfig is not taken: the site is served through an Ingress"),
    ({"skipInit": True}, "spec.skipInit is not taken"),
    ({"encryptionKeySecretRef": {"name": "k", "key": "encryption_key"}}, "spec.encryptionKeySecretRef is not taken"),
    ({"dbConfig": {"host": "db.example.com"}}, "spec.dbConfig.host is not taken: it is the address of a database "
     "of provider: external"),
    ({"dbConfig": {"provider": "mariadb", "port": "3306"}}, "spec.dbConfig.port is not taken"),
])
def test_what_a_site_cannot_do_here_is_refused_with_what_to_do_instead(spec, message):
    errors = site_refusals(spec)
    assert len(errors) == 1 and message in errors[0], errors
    assert site_refusals({"skipInit": False, "dbConfig": {"provider": "mariadb"}}) == []


def test_the_address_of_an_external_database_is_taken_with_provider_external():
    assert site_refusals({"dbConfig": {"provider": "external", "host": "db.example.com", "port": "3306",
                                       "connectionSecretRef": {"name": "db"}}}) == []


def test_the_older_shapes_of_an_app_source_and_of_worker_keys_are_read_as_the_current_ones():
    spec, errors = current_spelling({"apps": [{"name": "erpnext", "source": {"type": "image"}}],
                                     "componentAutoscaling": {"workerShort": {"enabled": False, "staticReplicas": 2}}})
    assert errors == []
    assert spec["apps"] == [{"name": "erpnext", "source": "image"}]
    assert spec["componentAutoscaling"] == {"worker-short": {"enabled": False, "staticReplicas": 2}}
    _spec, errors = current_spelling({"componentAutoscaling": {"workerLong": {"maxReplicas": 3},
                                                               "worker-long": {"maxReplicas": 4}}})
    assert errors and "spec.componentAutoscaling.workerLong and spec.componentAutoscaling.worker-long" in errors[0]
    _spec, errors = current_spelling({"apps": [{"name": "hrms", "source": {"type": "git"}}]})
    assert errors and "spec.apps[0] (hrms) has source git" in errors[0]
    _spec, errors = current_spelling({"apps": [{"name": "hrms", "source": "docker"}]})
    assert errors == ["spec.apps[0].source must be image (or fpm or git, which are refused here), got 'docker'"]
