# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan, reads and status of a SiteRestore (module_utils/frappe/restore_plan.py).

Docs in restore_plan.yml, restore_reads.yml, restore_server_reads.yml, restore_status.yml and unseal_key.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import unseal_key
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.restore_plan import (
    restore_plan, restore_reads, restore_server_reads, restore_status)
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'restore_plan': library_filter(restore_plan), 'restore_reads': library_filter(restore_reads),
                'restore_server_reads': library_filter(restore_server_reads),
                'restore_status': library_filter(restore_status), 'unseal_key': library_filter(unseal_key)}
