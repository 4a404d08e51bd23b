# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A function of the library (plugins/module_utils/frappe) as a Jinja filter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput


def library_filter(function):
    """`function`, raising AnsibleFilterError where the library raises InvalidInput (Ansible reports its message)."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except InvalidInput as exc:
            raise AnsibleFilterError(str(exc))
    return call
