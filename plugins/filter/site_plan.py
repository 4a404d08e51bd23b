# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reads of a FrappeSite (module_utils/frappe/site_plan.py); docs in site_reads.yml.

Its plan is made by the role's plan action (plugins/action/site_reconcile_plan.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_reads
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'site_reads': library_filter(site_reads)}
