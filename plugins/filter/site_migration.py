# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan, reads and status of a SiteMigration (module_utils/frappe/site_migration.py).

Docs in migration_plan.yml, migration_reads.yml and migration_status.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_migration import (
    migration_plan, migration_reads, migration_status)
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'migration_plan': library_filter(migration_plan), 'migration_reads': library_filter(migration_reads),
                'migration_status': library_filter(migration_status)}
