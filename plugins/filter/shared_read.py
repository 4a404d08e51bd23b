# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read for several reconciles (module_utils/frappe/shared_read.py); docs in shared_reads.yml and round_reads.yml.

Each reconcile's share is taken by the roles' plan actions (plugins/plugin_utils/role_plan.py share_of).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import round_reads, shared_reads
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'shared_reads': library_filter(shared_reads), 'round_reads': round_reads}
