# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each definition's object as the API server holds it now; docs in current_objects.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import current_objects as _current_objects


def current_objects(definitions, applied, live):
    objects = _current_objects(definitions, applied, live)
    missing = ['%s %s/%s' % (d.get('kind'), (d.get('metadata') or {}).get('namespace'), (d.get('metadata') or {}).get('name'))
               for d, obj in zip(definitions or [], objects) if obj is None]
    if missing:
        raise AnsibleFilterError('current_objects: neither applied nor found by the read: %s' % ', '.join(missing))
    return objects


class FilterModule(object):
    def filters(self):
        return {'current_objects': current_objects}
