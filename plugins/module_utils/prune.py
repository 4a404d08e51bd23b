# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prune both reconcile plans share: what an owner controls that its plan no longer contains."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def controlled_unwanted(live, prunable, wanted, uid):
    """Objects of the `prunable` kinds whose controller owner reference carries `uid` and that are not `wanted`.

    live: the read, key -> list of objects; prunable: (key, apiVersion, kind) in deletion order;
    wanted: a set of (kind, name). Returns [{'api_version', 'kind', 'name'}]. Without a uid nothing is
    controlled, so nothing is deleted.
    """
    unwanted = []
    if not uid:
        return unwanted
    for key, api_version, kind in prunable:
        for obj in live.get(key) or []:
            owners = (obj.get('metadata') or {}).get('ownerReferences') or []
            controlled = any(o.get('controller') and o.get('uid') == uid for o in owners)
            if controlled and (kind, obj['metadata']['name']) not in wanted:
                unwanted.append({'api_version': api_version, 'kind': kind, 'name': obj['metadata']['name']})
    return unwanted
