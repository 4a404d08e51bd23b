# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendered objects a client-side apply would change; docs in apply_pending.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import sys

from ansible.errors import AnsibleFilterError

from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import identity, live_index


def _apply_patch():
    """kubernetes.core's apply_patch, imported when first needed.

    Ansible loads every filter file of a collection to find any one of its
    filters, so an import here at the top would cost each task that uses one.
    apply_patch itself needs no Kubernetes client: the client import (about
    0.15 s, the kubernetes package loads all its models) that kubernetes.core's
    apply module tries, for apply_object only, is kept from happening.
    """
    blocked = 'kubernetes.dynamic.exceptions' not in sys.modules
    if blocked:
        sys.modules['kubernetes.dynamic.exceptions'] = None  # an ImportError, which that module allows for
    try:
        from ansible_collections.kubernetes.core.plugins.module_utils.apply import apply_patch
    except ImportError as exc:  # pragma: no cover - kubernetes.core is a declared dependency
        raise AnsibleFilterError('apply_pending needs kubernetes.core: %s' % exc)
    finally:
        if blocked:
            del sys.modules['kubernetes.dynamic.exceptions']
    return apply_patch


def merge_patched(target, patch):
    """`target` with a JSON merge patch (RFC 7386) applied: what the API server stores before its defaults."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patched(result.get(key), value)
    return result


# Fields the API server never lets an update change: a patch that seems to
# change one changes nothing (its list items only lack what the server
# defaults, like a claim template's volumeMode and status) or is refused, and
# bench_plan refuses such a change with a message before anything is applied.
FIXED_FIELDS = {'StatefulSet': ('spec', 'volumeClaimTemplates')}


def _without_fixed(obj):
    path = FIXED_FIELDS.get(obj.get('kind'))
    if not path:
        return obj
    obj = copy.deepcopy(obj)
    parent = obj
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    return obj


def _stored(value):
    """`value` as the API server stores it: an empty string field is left out (its fields are omitempty)."""
    if isinstance(value, dict):
        return dict((k, _stored(v)) for k, v in value.items() if v != '')
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def in_sync(definition, live_obj):
    """Whether the patch kubernetes.core's client-side apply sends for `definition` leaves `live_obj` as it is.

    kubernetes.core computes the patch (apply_patch: deletions since the last
    applied configuration, plus every rendered field the live object does not
    hold as rendered, lists merged by their key) and sends it as a merge patch
    even when it changes nothing; here the patch is applied to the live object
    and the result compared with it.
    """
    if live_obj is None:
        return False
    # apply_patch may change what it is given: the facts stay as they are.
    actual, patch = _apply_patch()(copy.deepcopy(live_obj), copy.deepcopy(definition))
    return actual is patch or _stored(_without_fixed(merge_patched(actual, patch))) == _stored(_without_fixed(actual))


def apply_pending(items, live, attribute=None):
    """The items whose object a client-side apply would create or change, in their order."""
    index = live_index(live)
    pending = []
    for item in items or []:
        definition = item[attribute] if attribute else item
        if not in_sync(definition, index.get(identity(definition))):
            pending.append(item)
    return pending


class FilterModule(object):
    def filters(self):
        return {'apply_pending': apply_pending}
