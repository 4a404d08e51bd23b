# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a pause between reconcile rounds watches, and from where (module_utils/frappe/progress.py).

Docs in progress_reads.yml and progress_seen.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.progress import progress_reads, progress_seen
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'progress_reads': library_filter(progress_reads), 'progress_seen': library_filter(progress_seen)}
