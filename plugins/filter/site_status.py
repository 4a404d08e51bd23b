# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status of a FrappeSite (module_utils/frappe/site_status.py); docs in site_status.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import site_status
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.library_filter import library_filter


class FilterModule(object):
    def filters(self):
        return {'site_status': library_filter(site_status)}
