#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: read_manifest
short_description: Find, load and check a manifest of FrappeBench, FrappeSite, SiteBackup, SiteRestore and SiteMigration objects
version_added: 0.1.0
description:
  - Finds the file O(manifest) (a relative path in O(project_dir), then in the directory the controller runs in),
    loads its YAML documents and sets, by kind, the facts C(frappe_benches), C(frappe_sites),
    C(frappe_site_backups), C(frappe_site_restores) and C(frappe_site_migrations), on the controller in one task.
  - A v1 C(List) stands for its items, as kubectl writes and takes it; an object without C(metadata.namespace)
    gets O(namespace).
  - Fails, naming what to do, when O(manifest) is empty, when no such file exists, when it is not YAML, and when a
    document is not one of the four kinds of C(vyogo.tech/v1alpha1) with a C(metadata.name).
  - C(playbooks/site.yml) and C(playbooks/render.yml) start with it.
author:
  - vyogotech maintainers (@vyogotech)
options:
  manifest:
    description: The manifest's path, absolute or relative.
    type: str
    required: true
  namespace:
    description: The namespace of objects that name none.
    type: str
    default: default
  project_dir:
    description: Where a relative O(manifest) is looked for first (the checkout holding C(playbooks/)).
    type: path
    required: true
extends_documentation_fragment:
  - vyogotech.frappe.controller_action
'''

EXAMPLES = r'''
- name: Read the manifest
  vyogotech.frappe.read_manifest:
    manifest: "{{ frappe_manifest | default('') }}"
    namespace: "{{ frappe_namespace }}"
    project_dir: "{{ playbook_dir | ansible.builtin.dirname }}"
'''

RETURN = r'''
manifest_path:
  description: The file that was read.
  returned: success
  type: str
ansible_facts:
  description: frappe_benches, frappe_sites, frappe_site_backups, frappe_site_restores and frappe_site_migrations, each a list of objects.
  returned: success
  type: dict
'''
