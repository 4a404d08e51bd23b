#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: site_reconcile_plan
short_description: Plan and render the reconcile of a FrappeSite, and decide what it changes
version_added: 0.1.0
description:
  - The plan of the FrappeSite O(site) from what was read (O(live) or O(shared_read)), the objects the role's
    templates render from it, and in apply mode what an apply would change, all in one task on the controller.
  - The role M(vyogotech.frappe.frappe_site) calls it from C(tasks/resolve.yml); it needs the role's templates
    (C(objects.yaml.j2)) and files (the site Jobs' scripts).
  - Shows the plan's warnings, except those in O(warnings_given).
  - Fails with the plan's refusals (each names the field and what to do) before anything is written, except for a
    site being deleted under C(deletionPolicy) Retain, which lets go whatever its spec says.
author:
  - vyogotech maintainers (@vyogotech)
options:
  site:
    description: The FrappeSite object.
    type: dict
    required: true
  live:
    description: In apply mode, what M(vyogotech.frappe.k8s_multi_info) read for the site.
    type: dict
  shared_read:
    description:
      - In apply mode, instead of O(live), the name (C(var)) of the variable holding a read for several sites
        (P(vyogotech.frappe.shared_reads#filter)), of which the site's share is taken.
    type: dict
  settings:
    description: The role's settings (C(frappe_site_settings)).
    type: dict
    required: true
  mode:
    description: V(apply) plans against the cluster; V(render) plans without one.
    type: str
    choices: [apply, render]
    default: apply
  render_bench:
    description: In render mode, the site's FrappeBench with the status a reconcile would publish.
    type: dict
    default: {}
  finalizer:
    description: In apply mode, the finalizer every FrappeSite carries (the role's C(frappe_site_finalizer)).
    type: str
  warnings_given:
    description: Warnings already shown in this run (a caller that reconciles in rounds); they are not shown again.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - vyogotech.frappe.controller_action
'''

EXAMPLES = r'''
- name: Plan and render the reconcile of the site
  vyogotech.frappe.site_reconcile_plan:
    site: "{{ _vyogo_tech_frappesite }}"
    live: "{{ frappe_site_live }}"
    settings: "{{ frappe_site_settings }}"
    mode: apply
  register: frappe_site_reconcile
'''

RETURN = r'''
plan:
  description:
  - C(names) holds the name of every object the site owns or uses (Database C(<site>-db), User C(<site>-user), Grant
    C(<site>-grant), dedicated MariaDB C(<site>-mariadb), Ingress C(<site>-ingress), as the Go frappe-operator names
    them); C(render) the ordered list of templates to render (stages C(database), C(site), C(ingress)); C(delete) the
    site Jobs and Ingresses the site controls and no longer wants.
  - C(database) says where the database is, its name (deterministic per namespace and site name, or the one the
    status recorded; with C(provider=external) the one its Secret names), its C(cleanupPolicy) (C(Skip) unless
    the site's C(deletionPolicy) is C(Delete) on a C(MariaDB)) and whether it is ready, with a reason and message
    a user can act on.
  - C(job_allowed) says the site Job may be created (bench configured, database ready, Administrator password
    present); C(provision) that anything may be written at all (not when the MariaDB Operator is missing and no
    connection Secret is given, nor while C(missing_references) is not empty, the fields naming a bench, MariaDB,
    ExternalMariaDB or Secret that does not exist; the status says what to create).
  - C(errors) lists why the site cannot be reconciled (unsupported provider, contradicting database settings, a bench
    in another namespace, a domain another site of the bench serves, a site name, domain or object reference that
    cannot be one, as plugins/module_utils/frappe/site_validation.py says, a database server in another namespace whose
    annotation C(vyogo.tech/allow-sites-from) does not name the site's namespace); a caller refuses the site with
    them and writes nothing. C(warnings) lists what it accepts but does not act on.
  - C(consent) is set (apply mode) when the database server is in another namespace - C(given), C(existing) (the
    site's Database, User or Grant is already on that server), C(server), C(annotation), C(fix), C(message). A site
    whose database is already there keeps being reconciled without consent, with a warning; its objects then say
    C(cleanupPolicy) C(Skip), and a deletion under C(deletionPolicy) C(Delete) is refused (the site keeps its
    finalizer) until consent is given or the policy is C(Retain).
  returned: always
  type: dict
state:
  description: The objects read, by key. Register the task's result (the role registers it as C(frappe_site_reconcile)); nothing
    here is a fact, since Ansible copies the fact cache for every later task.
  returned: always
  type: dict
objects:
  description: Unless the site is being deleted, each rendered object with its stage.
  returned: always
  type: list
  elements: dict
pending:
  description: In apply mode, the rendered objects an apply would change.
  returned: always
  type: list
  elements: dict
writes:
  description: The reconcile has something to write (the finalizer O(finalizer), deletions, pending objects, owner
    references, generated Secrets, the site's routes on its bench).
  returned: always
  type: bool
status:
  description: With nothing to write (and no failed Job), the status decided from the same read; else empty (the
    role's status step decides it, as C(frappe_site_status)).
  returned: always
  type: dict
settled:
  description: True for a Ready site whose stored status is that one, with nothing on its way.
  returned: always
  type: bool
'''
