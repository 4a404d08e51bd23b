#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: warn
short_description: Show messages as Ansible warnings
version_added: 0.1.0
description:
  - Prints each message as a C([WARNING]) line in the play output (and in the
    ansible-operator log) without failing or changing anything.
  - Used by the roles for conditions a user should act on but that must not stop a
    reconcile, such as KEDA not being installed.
author:
  - vyogotech maintainers (@vyogotech)
options:
  msg:
    description:
      - One message, or a list of messages; empty ones are dropped.
    type: raw
    required: true
extends_documentation_fragment:
  - vyogotech.frappe.controller_action
'''

EXAMPLES = r'''
- name: Tell the user the workers run without autoscaling
  vyogotech.frappe.warn:
    msg: KEDA is not installed; workers run with static replicas.
'''

RETURN = r'''
messages:
  description: The messages shown.
  returned: always
  type: list
  elements: str
'''
