# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every reconcile plan filter checks of its input before it plans."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

MODES = ('apply', 'render')


def check_plan_input(filter_name, kind, obj, mode, settings, settings_name):
    """Refuse an object without metadata and spec, an unknown mode, or settings that are not a mapping."""
    if not isinstance(obj, dict) or not isinstance(obj.get('metadata'), dict) or not isinstance(obj.get('spec'), dict):
        raise InvalidInput('%s expects a %s object with metadata and spec' % (filter_name, kind))
    if mode not in MODES:
        raise InvalidInput('%s: mode must be apply or render, got %r' % (filter_name, mode))
    if not isinstance(settings, dict):
        raise InvalidInput('%s: settings must be the mapping of the role settings (%s)' % (filter_name, settings_name))
