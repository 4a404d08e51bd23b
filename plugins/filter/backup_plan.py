# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan, reads and status of a SiteBackup (module_utils/frappe/backup_plan.py).

Docs in backup_plan.yml, backup_reads.yml, backup_status.yml and backup_job_outcome.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import (
    backup_plan, backup_reads, backup_status, job_outcome)
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'backup_plan': library_filter(backup_plan), 'backup_reads': library_filter(backup_reads),
                'backup_status': library_filter(backup_status), 'backup_job_outcome': library_filter(job_outcome)}
