# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities as numbers (256Mi, 1Gi, 1.5G, 500m, 2).

Used to compare volume sizes (a reconcile never shrinks a claim), to hand
Redis its maxmemory in bytes and to check resource requests and limits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re
from decimal import Decimal, InvalidOperation

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

_SUFFIXES = {
    '': 1, 'n': Decimal('1e-9'), 'u': Decimal('1e-6'), 'm': Decimal('1e-3'),
    'k': 10 ** 3, 'M': 10 ** 6, 'G': 10 ** 9, 'T': 10 ** 12, 'P': 10 ** 15, 'E': 10 ** 18,
    'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60,
}
_QUANTITY = re.compile(r'^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$')


def quantity_decimal(value, field='quantity'):
    """A quantity such as 256Mi, 1.5G or 500m as an exact Decimal of base units."""
    if isinstance(value, bool):
        raise InvalidInput('%s must be a quantity such as 256Mi, got %r' % (field, value))
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise InvalidInput(
            '%s must be a Kubernetes quantity such as 256Mi, 1Gi or 500M, got %r' % (field, value))
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIXES[match.group(2)])
    except InvalidOperation:
        raise InvalidInput('%s: cannot read %r as a quantity' % (field, value))


def k8s_quantity(value, field='quantity'):
    """Return a quantity such as 256Mi, 1.5G or 500m as a whole number of base units (rounded up)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(math.ceil(quantity_decimal(value, field)))


def requests_above_limits(path, entry, what):
    """'<path>.requests.<r> (x) is more than its limit (y) ...' for each resource of a {requests, limits} `entry`
    whose request is above its limit: Kubernetes refuses such a pod, so `what` would never start. A quantity that
    does not parse is left to the check of the quantities themselves."""
    entry = entry if isinstance(entry, dict) else {}
    requests = entry.get('requests') if isinstance(entry.get('requests'), dict) else {}
    limits = entry.get('limits') if isinstance(entry.get('limits'), dict) else {}
    errors = []
    for resource in sorted(set(requests) & set(limits)):
        try:
            above = quantity_decimal(requests[resource]) > quantity_decimal(limits[resource])
        except InvalidInput:
            continue
        if above:
            errors.append('%s.requests.%s (%s) is more than its limit (%s): Kubernetes refuses such a pod, so %s '
                          'would never start. Lower the request or raise %s.limits.%s'
                          % (path, resource, requests[resource], limits[resource], what, path, resource))
    return errors
