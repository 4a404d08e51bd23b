# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan and reads of a FrappeBench (module_utils/frappe/bench_plan.py); docs in bench_plan.yml and bench_reads.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan, reconcile_reads
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'bench_plan': library_filter(bench_plan), 'bench_reads': library_filter(reconcile_reads)}
