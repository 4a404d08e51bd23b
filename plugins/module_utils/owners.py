# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner references as the roles want them, whoever created the object.

Under the Ansible Operator SDK the proxy appends its own owner reference
(the reconciled object, not as controller) to every object a role creates
with a POST. The roles set their own controller reference, and none at all on
what must outlive its owner; these helpers find where the two differ and make
the merge patch that puts the wanted list back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _key(ref):
    return (ref.get('apiVersion'), ref.get('kind'), ref.get('name'), ref.get('uid'),
            bool(ref.get('controller')), bool(ref.get('blockOwnerDeletion')))


def same_owners(refs, wanted):
    """Whether two ownerReferences lists say the same, in any order (a missing list is an empty one)."""
    return sorted(_key(r) for r in refs or []) == sorted(_key(r) for r in wanted or [])


def owner_fix(obj, wanted):
    """The merge patch that sets `obj`'s ownerReferences to `wanted`, or None when they agree.

    obj: a live object (apiVersion, kind, metadata). The patch replaces the
    whole list (a JSON merge patch replaces lists); null removes it.
    """
    meta = obj.get('metadata') or {}
    if same_owners(meta.get('ownerReferences'), wanted):
        return None
    patch_meta = {'name': meta.get('name'), 'ownerReferences': list(wanted) if wanted else None}
    if meta.get('namespace'):
        patch_meta['namespace'] = meta['namespace']
    return {'apiVersion': obj.get('apiVersion'), 'kind': obj.get('kind'), 'metadata': patch_meta}


def without_owner(obj, uid):
    """The merge patch that takes every reference to `uid` off `obj`, or None when it has none."""
    refs = (obj.get('metadata') or {}).get('ownerReferences') or []
    if not uid or not any(r.get('uid') == uid for r in refs):
        return None
    return owner_fix(obj, [r for r in refs if r.get('uid') != uid])


def applied_objects(applied):
    """The objects an apply run (vyogotech.frappe.k8s_apply or kubernetes.core.k8s) returned, in the order of its definitions.

    One definition gives its result at the top; several give result.results.
    A skipped or failed run gives none.
    """
    if not isinstance(applied, dict) or applied.get('skipped') or applied.get('failed'):
        return []
    result = applied.get('result') or {}
    if isinstance(result, dict) and 'results' in result and 'metadata' not in result:
        return [(r or {}).get('result') or {} for r in result['results']]
    return [result]


def identity(obj):
    """(kind, namespace, name): how an object the API server returned is matched with its rendered definition."""
    meta = obj.get('metadata') or {}
    return (obj.get('kind'), meta.get('namespace') or '', meta.get('name'))


def live_index(live):
    """(kind, namespace, name) -> object, over every list of a k8s_multi_info result."""
    index = {}
    for objects in (live or {}).values():
        for obj in objects or []:
            if isinstance(obj, dict) and obj.get('kind'):
                index[identity(obj)] = obj
    return index


def current_objects(definitions, applied, live):
    """Each definition's object as the API server holds it now: what its apply returned, else what the read found.

    applied: what an apply run (k8s_apply or kubernetes.core.k8s) registered (a loop's result too), or a
    list of such results; live: the objects of a k8s_multi_info read taken
    before the apply. None for a definition neither applied nor found.
    """
    now = live_index(live)
    for result in _results(applied):
        for obj in applied_objects(result):
            if obj.get('metadata'):
                now[identity(obj)] = obj
    return [now.get(identity(d)) for d in definitions or []]


def _results(applied):
    """The single runs of what an apply run (k8s_apply or kubernetes.core.k8s) registered: a loop registers one per item."""
    out = []
    for result in applied if isinstance(applied, list) else [applied]:
        if isinstance(result, dict) and isinstance(result.get('results'), list) and 'result' not in result:
            out.extend(result['results'])
        else:
            out.append(result)
    return out


def owner_reference_fixes(applied, definitions):
    """Merge patches for the objects of `applied` whose owner references differ from their definition's.

    applied: what an apply run (k8s_apply or kubernetes.core.k8s) registered, or a list of such results;
    definitions: the objects as rendered, matched to what came back by kind,
    namespace and name. An object without a definition, or returned without
    metadata (a failed item), is left alone.
    """
    wanted = dict((identity(d), (d.get('metadata') or {}).get('ownerReferences')) for d in definitions or [])
    fixes = []
    for result in _results(applied):
        for obj in applied_objects(result):
            if identity(obj) not in wanted:
                continue
            fix = owner_fix(obj, wanted[identity(obj)])
            if fix:
                fixes.append(fix)
    return fixes
