# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure functions that compute a custom resource's new status.

Nothing here talks to the API server, so all of it is unit-testable:

* ``merge_conditions(existing, desired, now, replace=False)``: set conditions
  by ``type`` the way apimachinery's ``meta.SetStatusCondition`` does:
  ``lastTransitionTime`` moves only when the condition's ``status`` changes
  (or the condition is new); other conditions, including the ones the
  Ansible Operator SDK writes (Running, Successful, Failure), are kept in
  place unless ``replace`` is true.
* ``apply_merge_patch(target, patch)`` / ``create_merge_patch(original,
  modified)``: JSON merge patch (RFC 7386) in both directions.
* ``compute_status(current, status_patch, conditions, now, replace)``: both
  of the above together, as the k8s_status module uses them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime

CONDITION_STATUSES = ('True', 'False', 'Unknown')

# Keys a caller may give for one condition (observed_generation is an alias);
# lastTransitionTime is computed, a given one is ignored.
CONDITION_KEYS = ('type', 'status', 'reason', 'message', 'observedGeneration')
_ACCEPTED_KEYS = CONDITION_KEYS + ('observed_generation', 'lastTransitionTime')

# Condition keys for which an existing "" counts as "not set".
EMPTY_STRING_KEYS = ('reason', 'message')


def format_time(moment):
    """RFC 3339 in UTC with a 'Z' suffix and whole seconds, as Kubernetes writes it.

    Whole seconds matter: the Ansible Operator SDK re-reads conditions with the
    layout 2006-01-02T15:04:05Z and replaces a time it cannot parse by "now".
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def utc_now():
    return format_time(datetime.datetime.now(datetime.timezone.utc))


def normalize_condition_status(value):
    """'True'/'False'/'Unknown' from a string in any case or a bool."""
    if isinstance(value, bool):
        return 'True' if value else 'False'
    text = str(value).strip() if value is not None else ''
    for allowed in CONDITION_STATUSES:
        if text.lower() == allowed.lower():
            return allowed
    raise ValueError('condition status must be one of %s, got %r' % (', '.join(CONDITION_STATUSES), value))


def normalize_condition(condition):
    """A clean copy of one desired condition: None values dropped, status canonical.

    Raises ValueError when type or status is missing or invalid, or a key is unknown.
    """
    if not isinstance(condition, dict):
        raise ValueError('conditions: each condition must be a dict, got %r' % (condition,))
    unknown = sorted(str(k) for k in condition if k not in _ACCEPTED_KEYS)
    if unknown:
        raise ValueError('conditions: unknown key(s) %s in %r; allowed: %s'
                         % (', '.join(unknown), condition, ', '.join(CONDITION_KEYS)))
    cond = dict((k, v) for k, v in condition.items() if v is not None and k != 'lastTransitionTime')
    if 'observed_generation' in cond:
        alias = cond.pop('observed_generation')
        cond.setdefault('observedGeneration', alias)
    if not cond.get('type') or not isinstance(cond['type'], str):
        raise ValueError('conditions: each condition needs a non-empty string type, got %r' % (condition,))
    if 'status' not in cond:
        raise ValueError('conditions: condition %s needs a status' % cond['type'])
    try:
        cond['status'] = normalize_condition_status(cond['status'])
    except ValueError as exc:
        raise ValueError('conditions: condition %s: %s' % (cond['type'], exc))
    for key in ('reason', 'message'):
        if key in cond and not isinstance(cond[key], str):
            cond[key] = str(cond[key])
    if 'observedGeneration' in cond:
        value = cond['observedGeneration']
        try:
            if isinstance(value, bool):
                raise ValueError()
            cond['observedGeneration'] = int(value)
        except (TypeError, ValueError):
            raise ValueError('conditions: condition %s: observedGeneration must be an integer, got %r'
                             % (cond['type'], value))
    return cond


def normalize_conditions(conditions):
    """normalize_condition() for each entry; a type may appear only once."""
    result = []
    seen = set()
    for condition in conditions or []:
        cond = normalize_condition(condition)
        if cond['type'] in seen:
            raise ValueError('conditions: type %s is given more than once' % cond['type'])
        seen.add(cond['type'])
        result.append(cond)
    return result


def merge_conditions(existing, desired, now, replace=False):
    """Return the new conditions list; inputs are not modified.

    existing: the object's current status.conditions (None or a list).
    desired: conditions to set (see normalize_condition()).
    now: the RFC 3339 timestamp to use for conditions that are new or whose
        status changed.
    replace: when true the result holds only the desired conditions (in the
        given order); when false the existing ones keep their position, the
        updated ones are replaced in place and new ones are appended in the
        given order.

    A desired condition replaces type, status, reason, message and
    observedGeneration of the existing one (like SetStatusCondition: a reason
    or message that is not given is removed, except that an existing empty
    string stays); lastTransitionTime is kept when the status is unchanged and
    the old condition had one.
    """
    existing = [c for c in (existing or []) if isinstance(c, dict)]
    desired = normalize_conditions(desired)

    old_by_type = {}
    for cond in existing:
        old_by_type.setdefault(cond.get('type'), cond)

    def updated(cond):
        new = copy.deepcopy(cond)
        old = old_by_type.get(cond['type'])
        if old is not None and old.get('status') == new['status'] and old.get('lastTransitionTime'):
            new['lastTransitionTime'] = old['lastTransitionTime']
        else:
            new['lastTransitionTime'] = now
        if old is not None:
            # The Ansible Operator SDK (manageStatus) rewrites every condition
            # with reason and message present, "" when unset: treat "" like
            # "not given" so that its rewrite does not make every run a change.
            for key in EMPTY_STRING_KEYS:
                if key not in new and old.get(key) == '':
                    new[key] = ''
        return new

    desired_by_type = dict((c['type'], c) for c in desired)
    if replace:
        return [updated(c) for c in desired]

    result = []
    placed = set()
    for cond in existing:
        ctype = cond.get('type')
        if ctype in desired_by_type:
            if ctype in placed:
                continue  # a duplicate of a type being set: keep one entry only
            result.append(updated(desired_by_type[ctype]))
            placed.add(ctype)
        else:
            result.append(copy.deepcopy(cond))
    for cond in desired:
        if cond['type'] not in placed:
            result.append(updated(cond))
    return result


def apply_merge_patch(target, patch):
    """RFC 7386: return target with patch applied (null deletes a key, dicts merge, others replace)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = apply_merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def create_merge_patch(original, modified):
    """The smallest RFC 7386 patch that turns original into modified (dicts)."""
    original = original or {}
    modified = modified or {}
    patch = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        old = original.get(key)
        if key in original and old == value:
            continue
        if isinstance(value, dict) and isinstance(old, dict):
            patch[key] = create_merge_patch(old, value)
        else:
            patch[key] = copy.deepcopy(value)
    return patch


def compute_status(current, status_patch=None, conditions=None, now=None, replace_conditions=False):
    """The new status: ``status_patch`` merged in, then ``conditions`` merged by type.

    conditions None leaves status.conditions as it is (after status_patch);
    a list (even empty) is merged, or replaces all with replace_conditions.
    """
    current = current if isinstance(current, dict) else {}
    if status_patch is not None and not isinstance(status_patch, dict):
        raise ValueError('status must be a dict, got %r' % (status_patch,))
    new = apply_merge_patch(current, status_patch or {})
    if conditions is not None:
        if status_patch and 'conditions' in status_patch:
            raise ValueError('give conditions either in status or in conditions, not both')
        merged = merge_conditions(new.get('conditions'), conditions, now or utc_now(), replace=replace_conditions)
        if merged or 'conditions' in new:
            new['conditions'] = merged
    return new


def missing_paths(expected, actual, prefix=''):
    """Dotted paths of values in expected that actual lacks or holds differently."""
    paths = []
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            path = '%s.%s' % (prefix, key) if prefix else str(key)
            if key not in actual:
                paths.append(path)
            else:
                paths.extend(missing_paths(value, actual[key], path))
    elif expected != actual:
        paths.append(prefix or '.')
    return paths
