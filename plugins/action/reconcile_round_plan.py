# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a round of playbooks/site.yml decides from its read before it applies anything, in one task.

Docs in plugins/modules/reconcile_round_plan.py. The round's read holds what
every bench of the manifest reads too, and Ansible templates a variable each
time a task names it, walking all of it: the read is taken here by the name
of its variable, and what the round's tasks need of it is handed on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common._collections_compat import Mapping
from ansible.plugins.action import ActionBase

from ansible_collections.vyogotech.frappe.plugins.filter.apply_pending import apply_pending
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import being_deleted, round_objects


class ActionModule(ActionBase):
    """The manifest's objects to apply, the custom resources read, and those being deleted."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('read', 'manifest'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        answer = (task_vars or {}).get(args.get('read') or '')
        if not isinstance(answer, Mapping) or 'objects' not in answer:
            raise AnsibleActionFail('read %r names no k8s_multi_info read' % (args.get('read'),))
        objects = round_objects(answer['objects'])
        manifest = list(args.get('manifest') or [])
        # The task's result, registered, not facts: Ansible copies the fact cache for every later task.
        result.update(
            changed=False,
            # Only what an apply would change, decided the way kubernetes.core decides it.
            pending=apply_pending(manifest, objects),
            objects=objects,
            deleting={'sites': being_deleted(objects, manifest, ['FrappeSite']),
                      'backups': being_deleted(objects, manifest, ['SiteBackup'])})
        return result
