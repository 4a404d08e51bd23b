# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge patches that give applied objects the owner references their definitions ask for; docs in owner_reference_fixes.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import owner_reference_fixes


class FilterModule(object):
    def filters(self):
        return {'owner_reference_fixes': owner_reference_fixes}
