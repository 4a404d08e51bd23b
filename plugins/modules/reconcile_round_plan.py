#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: reconcile_round_plan
short_description: Decide what a round of playbooks/site.yml applies, reconciles and finishes, from its read
version_added: 0.1.0
description:
  - Takes the read of a round (a M(vyogotech.frappe.k8s_multi_info) result of P(vyogotech.frappe.round_reads#filter)
    and what the benches read, named by its variable in O(read), not templated) and the manifest's objects.
  - Returns C(pending), the manifest's objects an apply would create or change (the way
    M(kubernetes.core.k8s) decides it); C(objects), the custom resources read, by key, for
    P(vyogotech.frappe.current_objects#filter); and C(deleting), the FrappeSites (C(sites)) and
    SiteBackups (C(backups)) being deleted that the manifest does not hold, which the round finishes.
  - They are the task's result, to register (playbooks/site.yml registers C(frappe_round_plan)), not facts, since
    Ansible copies the fact cache for every later task.
author:
  - vyogotech maintainers (@vyogotech)
options:
  read:
    description: The name of the variable holding the round's read.
    type: str
    required: true
  manifest:
    description: The manifest's FrappeBench, FrappeSite, SiteBackup, SiteRestore and SiteMigration objects.
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - vyogotech.frappe.controller_action
'''

EXAMPLES = r'''
- name: Decide what the round applies and finishes
  vyogotech.frappe.reconcile_round_plan:
    read: frappe_namespace_objects
    manifest: "{{ frappe_benches + frappe_sites + frappe_site_backups + frappe_site_restores + frappe_site_migrations }}"
  register: frappe_round_plan
'''

RETURN = r'''
pending:
  description: The manifest's objects an apply would create or change.
  returned: always
  type: list
  elements: dict
objects:
  description: The custom resources read, by key.
  returned: always
  type: dict
deleting:
  description: The FrappeSites (C(sites)) and SiteBackups (C(backups)) being deleted that the manifest does not hold.
  returned: always
  type: dict
'''
