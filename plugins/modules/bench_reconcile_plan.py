#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bench_reconcile_plan
short_description: Plan and render the reconcile of a FrappeBench, and decide what it changes
version_added: 0.1.0
description:
  - The plan of the FrappeBench O(bench) from what was read (O(live) or O(shared_read)), the objects the role's templates render from
    it, and in apply mode what an apply would change, all in one task on the controller.
  - The role M(vyogotech.frappe.frappe_bench) calls it from C(tasks/resolve.yml); it needs the role's templates
    (C(objects.yaml.j2)) and files (the configuration Job's scripts).
  - Fails with the plan's refusals (each names the field and what to do) before anything is written.
  - Shows the plan's warnings, except those in O(warnings_given).
author:
  - vyogotech maintainers (@vyogotech)
options:
  bench:
    description: The FrappeBench object.
    type: dict
    required: true
  live:
    description:
      - In apply mode, what M(vyogotech.frappe.k8s_multi_info) read for the bench (its C(objects) and
        C(api_groups_served)).
    type: dict
  shared_read:
    description:
      - In apply mode, instead of O(live), the name (C(var)) of the variable holding a read for several benches
        (P(vyogotech.frappe.shared_reads#filter)) and the C(settings) it was made with; the bench's share is taken.
    type: dict
  settings:
    description: The role's settings (C(frappe_bench_settings)).
    type: dict
    required: true
  mode:
    description: V(apply) plans against the cluster; V(render) plans without one.
    type: str
    choices: [apply, render]
    default: apply
  render_sites:
    description: In render mode, the FrappeSites of the manifest (for the hosts the bench serves).
    type: list
    elements: dict
    default: []
  render_upgrade:
    description:
      - In render mode, the upgrade to show (docs/UPGRADES.md "Render mode") - C(versions) of the image in the
        manifest, optionally its C(digest), and C(running) (C(image), C(versions)) of what the processes run now.
    type: dict
    default: {}
  warnings_given:
    description: Warnings already shown in this run (a caller that reconciles in rounds); they are not shown again.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - vyogotech.frappe.controller_action
'''

EXAMPLES = r'''
- name: Plan and render the reconcile of the bench
  vyogotech.frappe.bench_reconcile_plan:
    bench: "{{ _vyogo_tech_frappebench }}"
    live: "{{ frappe_bench_live }}"
    settings: "{{ frappe_bench_settings }}"
    mode: apply
  register: frappe_bench_reconcile
'''

RETURN = r'''
plan:
  description: The plan of the bench (plugins/module_utils/frappe/bench_plan.py). Register the task's result (the role
    registers it as C(frappe_bench_reconcile)); nothing here is a fact, since Ansible copies the fact cache for every later task.
  returned: always
  type: dict
state:
  description: The objects read, by key; empty for a settled bench.
  returned: always
  type: dict
groups_served:
  description: The API groups asked about, and whether each is served.
  returned: always
  type: dict
objects:
  description: Each rendered object with its stage; empty for a settled bench.
  returned: always
  type: list
  elements: dict
pending:
  description: In apply mode, the rendered objects an apply would change.
  returned: always
  type: list
  elements: dict
password_missing:
  description: In apply mode, whether the bench's Redis password Secret is still to be created.
  returned: always
  type: bool
rolling:
  description: In apply mode, whether a rollout of the bench still moves.
  returned: always
  type: bool
applies:
  description: In apply mode, whether there is something to delete, apply, create or patch.
  returned: always
  type: bool
reread:
  description: In apply mode, whether the role's status step reads the workloads again (after a change, while the
    configuration Job has not completed, or while a rollout moves), rather than taking the apply's answer (a
    reconcile that creates the configuration Job, before which no process runs).
  returned: always
  type: bool
status:
  description: The status the reconcile publishes, in render mode, and in apply mode when there is nothing to delete,
    apply, create or wait for; else empty (the role's status step decides it after the apply, as
    C(frappe_bench_status)).
  returned: always
  type: dict
settled:
  description: True for a Ready bench in apply mode whose reconcile has nothing else to do (its stored status is this
    one, nothing is on its way, no worker's scaling mode changed).
  returned: always
  type: bool
'''
