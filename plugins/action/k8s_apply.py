# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""M(vyogotech.frappe.k8s_apply), run in the task's worker on the controller (plugins/plugin_utils/in_process.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.modules import k8s_apply
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    MODULE = 'vyogotech.frappe.k8s_apply'
    module_main = staticmethod(k8s_apply.main)
