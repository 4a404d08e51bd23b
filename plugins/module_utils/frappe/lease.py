# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the holder of a coordination.k8s.io Lease is alive.

True when its holder renewed it within leaseDurationSeconds (plus a grace),
False when not (or released), None when there is no Lease (leader election
off: nothing can be said). Conditions a process writes itself go stale when
it stops; its leader-election Lease does not.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput


def _parse(stamp):
    # MicroTime: 2026-11-27T05:46:06.123456Z (the fraction may be missing).
    text = str(stamp).rstrip('Z')
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    raise InvalidInput('lease_renewed: cannot read the time %r' % (stamp,))


def lease_renewed(lease, now=None, grace_seconds=0):
    """True while the Lease was renewed within its duration (plus grace), False after; None without a Lease."""
    if not lease:
        return None
    spec = lease.get('spec') or {}
    if not spec.get('renewTime') or not spec.get('holderIdentity'):
        return False  # released: nobody holds it
    renewed = _parse(spec['renewTime'])
    current = _parse(now) if now else datetime.datetime.now(datetime.timezone.utc)
    duration = int(spec.get('leaseDurationSeconds') or 15) + int(grace_seconds)
    return (current - renewed).total_seconds() <= duration
