# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan of a FrappeBench (module_utils/frappe/bench_plan.py), its reads and names; docs in the .yml of each filter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.domain_detection import detection_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import bench_names
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'bench_plan': library_filter(bench_plan), 'bench_domain_reads': library_filter(detection_reads),
                'bench_names': library_filter(bench_names)}
