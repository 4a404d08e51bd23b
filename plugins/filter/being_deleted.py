# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FrappeSites and SiteBackups a round's read found being deleted; docs in being_deleted.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import being_deleted


class FilterModule(object):
    def filters(self):
        return {'being_deleted': being_deleted}
