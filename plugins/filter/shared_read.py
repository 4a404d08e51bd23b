# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read for several reconciles, and each one's share (module_utils/frappe/shared_read.py); docs in the .yml of each filter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import shared_read_of, shared_reads
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'shared_reads': library_filter(shared_reads), 'shared_read_of': library_filter(shared_read_of)}
