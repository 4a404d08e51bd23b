import copy
import datetime

import pytest

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import (
    apply_merge_patch,
    compute_status,
    create_merge_patch,
    format_time,
    merge_conditions,
    missing_paths,
    normalize_condition,
    normalize_conditions,
    utc_now,
)

T0 = "2024-01-01T00:00:00Z"
NOW = "2024-06-01T12:30:00Z"

OPERATOR_RUNNING = {
    "type": "Running",
    "status": "True",
    "reason": "Running",
    "message": "Running reconciliation",
    "ansibleResult": {"ok": 3, "changed": 1, "failures": 0},
    "lastTransitionTime": T0,
}


def ready(status="True", **extra):
    cond = {"type": "Ready", "status": status, "reason": "BenchReady", "message": "ok"}
    cond.update(extra)
    return cond


# --- time -----------------------------------------------------------------

def test_format_time_is_rfc3339_utc_with_z():
    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    moment = datetime.datetime(2024, 6, 1, 18, 0, 7, 123456, tzinfo=tz)
    assert format_time(moment) == "2024-06-01T12:30:07Z"


def test_utc_now_shape():
    now = utc_now()
    assert now.endswith("Z") and len(now) == len("2024-06-01T12:30:07Z")
    datetime.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ")


# --- transition time ----------------------------------------------------

def test_new_condition_gets_now():
    result = merge_conditions([], [ready()], NOW)
    assert result == [dict(ready(), lastTransitionTime=NOW)]


def test_transition_time_kept_when_status_unchanged():
    existing = [dict(ready(), lastTransitionTime=T0)]
    result = merge_conditions(existing, [ready(message="still ok", reason="Other")], NOW)
    assert result == [dict(ready(message="still ok", reason="Other"), lastTransitionTime=T0)]


def test_transition_time_changes_when_status_changes():
    existing = [dict(ready("True"), lastTransitionTime=T0)]
    result = merge_conditions(existing, [ready("False")], NOW)
    assert result[0]["status"] == "False"
    assert result[0]["lastTransitionTime"] == NOW


def test_transition_time_set_when_old_condition_had_none():
    existing = [ready()]  # written by something that did not set a time
    result = merge_conditions(existing, [ready()], NOW)
    assert result[0]["lastTransitionTime"] == NOW


def test_given_last_transition_time_is_ignored():
    result = merge_conditions([], [dict(ready(), lastTransitionTime="1999-01-01T00:00:00Z")], NOW)
    assert result[0]["lastTransitionTime"] == NOW


def test_same_input_twice_is_stable():
    first = merge_conditions([OPERATOR_RUNNING], [ready()], NOW)
    second = merge_conditions(first, [ready()], "2030-01-01T00:00:00Z")
    assert second == first


# --- other conditions, ordering ------------------------------------------

def test_other_conditions_are_kept_untouched():
    existing = [copy.deepcopy(OPERATOR_RUNNING)]
    result = merge_conditions(existing, [ready()], NOW)
    assert result[0] == OPERATOR_RUNNING
    assert result[1]["type"] == "Ready"


def test_update_in_place_and_append_in_given_order():
    existing = [
        {"type": "A", "status": "True", "lastTransitionTime": T0},
        {"type": "B", "status": "True", "lastTransitionTime": T0},
        {"type": "C", "status": "True", "lastTransitionTime": T0},
    ]
    desired = [
        {"type": "E", "status": "True"},
        {"type": "B", "status": "False"},
        {"type": "D", "status": "Unknown"},
    ]
    result = merge_conditions(existing, desired, NOW)
    assert [c["type"] for c in result] == ["A", "B", "C", "E", "D"]
    assert result[1] == {"type": "B", "status": "False", "lastTransitionTime": NOW}


def test_desired_replaces_reason_message_generation():
    existing = [dict(ready(), observedGeneration=1, lastTransitionTime=T0)]
    result = merge_conditions(existing, [{"type": "Ready", "status": "True"}], NOW)
    assert result == [{"type": "Ready", "status": "True", "lastTransitionTime": T0}]


def test_empty_reason_message_from_operator_count_as_unset():
    # the Ansible Operator SDK rewrites conditions with reason/message "" when unset
    existing = [{"type": "Ready", "status": "True", "reason": "", "message": "", "lastTransitionTime": T0}]
    result = merge_conditions(existing, [{"type": "Ready", "status": "True"}], NOW)
    assert result == existing
    result = merge_conditions(existing, [{"type": "Ready", "status": "True", "reason": "Set"}], NOW)
    assert result == [{"type": "Ready", "status": "True", "reason": "Set", "message": "", "lastTransitionTime": T0}]


def test_non_empty_reason_not_given_is_removed():
    existing = [{"type": "Ready", "status": "True", "reason": "Old", "lastTransitionTime": T0}]
    assert merge_conditions(existing, [{"type": "Ready", "status": "True"}], NOW) == \
        [{"type": "Ready", "status": "True", "lastTransitionTime": T0}]


def test_inputs_not_modified():
    existing = [copy.deepcopy(OPERATOR_RUNNING), dict(ready(), lastTransitionTime=T0)]
    desired = [ready("False")]
    saved = copy.deepcopy((existing, desired))
    merge_conditions(existing, desired, NOW)
    assert (existing, desired) == saved


def test_duplicate_existing_type_collapses_to_one():
    existing = [dict(ready(), lastTransitionTime=T0), dict(ready("False"), lastTransitionTime=NOW)]
    result = merge_conditions(existing, [ready()], NOW)
    assert result == [dict(ready(), lastTransitionTime=T0)]


def test_none_existing():
    assert merge_conditions(None, [ready()], NOW) == [dict(ready(), lastTransitionTime=NOW)]


def test_empty_desired_keeps_existing():
    assert merge_conditions([OPERATOR_RUNNING], [], NOW) == [OPERATOR_RUNNING]


# --- replace mode ----------------------------------------------------------

def test_replace_drops_others_keeps_unchanged_time():
    existing = [copy.deepcopy(OPERATOR_RUNNING), dict(ready(), lastTransitionTime=T0)]
    desired = [{"type": "Degraded", "status": "False"}, ready()]
    result = merge_conditions(existing, desired, NOW, replace=True)
    assert [c["type"] for c in result] == ["Degraded", "Ready"]
    assert result[0]["lastTransitionTime"] == NOW
    assert result[1]["lastTransitionTime"] == T0


def test_replace_with_nothing_clears():
    assert merge_conditions([OPERATOR_RUNNING], [], NOW, replace=True) == []


# --- normalisation ----------------------------------------------------------

@pytest.mark.parametrize("given,expected", [
    (True, "True"), (False, "False"), ("true", "True"), ("FALSE", "False"),
    ("unknown", "Unknown"), ("Unknown", "Unknown"),
])
def test_status_normalised(given, expected):
    assert normalize_condition({"type": "X", "status": given})["status"] == expected


@pytest.mark.parametrize("bad", [
    {"status": "True"},
    {"type": "", "status": "True"},
    {"type": "X"},
    {"type": "X", "status": "maybe"},
    {"type": "X", "status": "True", "observedGeneration": "abc"},
    "Ready",
])
def test_invalid_condition_rejected(bad):
    with pytest.raises(ValueError):
        normalize_condition(bad)


def test_none_values_dropped_and_generation_int():
    cond = normalize_condition({"type": "X", "status": "True", "reason": None, "observedGeneration": "4"})
    assert cond == {"type": "X", "status": "True", "observedGeneration": 4}


def test_snake_case_generation_accepted():
    cond = normalize_condition({"type": "X", "status": "True", "observed_generation": 2})
    assert cond == {"type": "X", "status": "True", "observedGeneration": 2}


def test_duplicate_desired_type_rejected():
    with pytest.raises(ValueError, match="more than once"):
        normalize_conditions([ready(), ready("False")])


# --- merge patch --------------------------------------------------------------

def test_apply_merge_patch_rfc7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "l": [3], "n": {"x": 1}}
    assert apply_merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}


@pytest.mark.parametrize("original,modified", [
    ({}, {}),
    ({"a": 1}, {"a": 1}),
    ({"a": 1}, {"a": 2}),
    ({"a": 1, "b": 2}, {"a": 1}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3, "d": 4}}),
    ({"a": [1, 2]}, {"a": [2]}),
    ({"a": {"b": 1}}, {"a": "scalar"}),
    ({"a": "scalar"}, {"a": {"b": 1}}),
])
def test_create_merge_patch_round_trips(original, modified):
    patch = create_merge_patch(original, modified)
    assert apply_merge_patch(original, patch) == modified
    if original == modified:
        assert patch == {}


def test_create_merge_patch_is_minimal():
    assert create_merge_patch({"a": {"b": 1, "c": 2}, "x": 1}, {"a": {"b": 1, "c": 3}, "x": 1}) == {"a": {"c": 3}}


# --- compute_status ------------------------------------------------------------

def test_compute_status_merges_fields_and_conditions():
    current = {"phase": "Pending", "sites": 1, "conditions": [copy.deepcopy(OPERATOR_RUNNING)]}
    new = compute_status(current, {"phase": "Ready", "sites": None}, [ready()], NOW)
    assert new == {"phase": "Ready", "conditions": [OPERATOR_RUNNING, dict(ready(), lastTransitionTime=NOW)]}
    assert current["phase"] == "Pending"


def test_compute_status_without_conditions_leaves_them():
    current = {"conditions": [OPERATOR_RUNNING]}
    assert compute_status(current, {"phase": "Ready"}, None, NOW) == {"phase": "Ready", "conditions": [OPERATOR_RUNNING]}


def test_compute_status_empty_conditions_add_no_key():
    assert compute_status({}, None, [], NOW) == {}
    assert compute_status(None, None, [], NOW, replace_conditions=True) == {}


def test_compute_status_replace_empty_clears():
    assert compute_status({"conditions": [OPERATOR_RUNNING]}, None, [], NOW, replace_conditions=True) == {"conditions": []}


def test_compute_status_rejects_conditions_twice():
    with pytest.raises(ValueError):
        compute_status({}, {"conditions": []}, [ready()], NOW)


def test_compute_status_idempotent():
    current = compute_status({}, {"phase": "Ready"}, [ready()], NOW)
    assert compute_status(current, {"phase": "Ready"}, [ready()], "2031-01-01T00:00:00Z") == current


def test_missing_paths():
    expected = {"a": 1, "b": {"c": 2, "d": 3}, "l": [1]}
    actual = {"a": 1, "b": {"c": 2}, "l": [2]}
    assert sorted(missing_paths(expected, actual)) == ["b.d", "l"]
    assert missing_paths(expected, expected) == []
