# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find, load and check a manifest of FrappeBench, FrappeSite, SiteBackup, SiteRestore and SiteMigration objects, in one task.

Docs in plugins/modules/read_manifest.py; where it is looked for and how its
objects are checked: plugins/module_utils/frappe/manifest.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.manifest import (
    manifest_candidates, manifest_objects)

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

# Where each group of manifest_objects goes.
FACTS = {'benches': 'frappe_benches', 'sites': 'frappe_sites', 'backups': 'frappe_site_backups',
         'restores': 'frappe_site_restores', 'migrations': 'frappe_site_migrations'}


class ActionModule(ActionBase):
    """The manifest's objects by kind, as facts; a clear failure for a missing argument, file or wrong document."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('manifest', 'namespace', 'project_dir'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        manifest = to_text(args.get('manifest') or '')
        if not manifest:
            raise AnsibleActionFail('Pass the manifest to reconcile: -e frappe_manifest=<file with FrappeBench/'
                                    'FrappeSite/SiteBackup/SiteRestore/SiteMigration objects>')
        project_dir = to_text(args['project_dir'])
        found = [path for path in manifest_candidates(manifest, project_dir, os.environ.get('PWD')) if os.path.isfile(path)]
        if not found:
            raise AnsibleActionFail(
                'frappe_manifest=%s: no such file. A relative path is looked up in the project (%s) and then in the '
                'current directory; pass an absolute path otherwise.' % (manifest, project_dir))
        try:
            with open(found[0], 'rb') as handle:
                documents = list(yaml.load_all(handle, Loader=SafeLoader))
        except yaml.YAMLError as exc:
            raise AnsibleActionFail('frappe_manifest=%s is not YAML: %s' % (manifest, exc))
        objects = manifest_objects(documents, args.get('namespace') or 'default', manifest)
        if objects['errors']:
            raise AnsibleActionFail(' '.join(objects['errors']))
        result.update(changed=False, manifest_path=found[0],
                      ansible_facts=dict((fact, objects[group]) for group, fact in FACTS.items()))
        return result
