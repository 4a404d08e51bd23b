#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: requeue_after
short_description: Ask the Ansible Operator SDK to reconcile the object again after a period
version_added: 0.1.0
description:
  - Under the Ansible Operator SDK, a task with the action C(requeue_after) (written so, without its collection;
    the SDK matches the task's action by that bare name, or C(operator_sdk.util.requeue_after)) sets when the
    object being reconciled is reconciled again, instead of the watch's C(reconcilePeriod).
  - Outside the SDK (ansible-playbook, AWX) it does nothing.
  - The same contract as C(operator_sdk.util.requeue_after), which is only published on Ansible Galaxy.
author:
  - vyogotech maintainers (@vyogotech)
options:
  period:
    description: A Go duration, for example V(15s), V(1m) or V(1m30s).
    type: str
    required: true
extends_documentation_fragment:
  - vyogotech.frappe.controller_action
notes:
  - Call it as C(requeue_after) from a role or play whose C(collections) keyword lists C(vyogotech.frappe).
'''

EXAMPLES = r'''
- name: Come back soon while the site is being created  # noqa: fqcn[action]
  requeue_after:
    period: 15s
'''

RETURN = r'''
period:
  description: The period the SDK waits before it reconciles the object again.
  returned: always
  type: str
'''
