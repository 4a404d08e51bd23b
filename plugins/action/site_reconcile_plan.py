# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan, render and decide the reconcile of one FrappeSite in one task on the controller.

Docs in plugins/modules/site_reconcile_plan.py. The decisions are the
library's (plugins/module_utils/frappe/site_plan.py and
plugins/filter/apply_pending.py); why one task: plugins/plugin_utils/role_plan.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.vyogotech.frappe.plugins.filter.apply_pending import apply_pending
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_status import (
    site_settled, site_status, site_writes_needed)
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.role_plan import plan_inputs, render, unshown

# The role's scripts the plan carries into its Jobs (roles/frappe_site/files).
SCRIPTS = {'new_site_script': 'new-site.sh', 'drop_site_script': 'drop-site.sh'}


def pending_stages(plan):
    """The stages a reconcile applies: the database objects and the Ingress while the site is provisioned, and its
    site Job once the plan allows it."""
    if not plan['provision']:
        return []
    return ['database', 'ingress'] + (['site'] if plan['job_allowed'] else [])


class ActionModule(ActionBase):
    """One site's plan, its rendered objects and what an apply would change."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('site', 'live', 'shared_read', 'settings', 'mode', 'render_bench', 'finalizer',
                             'warnings_given'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        mode, objects, groups, scripts = plan_inputs(
            self, task_vars, args['site'], {'bench': [args.get('render_bench')]}, SCRIPTS)
        try:
            plan = site_plan(args['site'], live=dict(objects, api_groups=groups), settings=args['settings'],
                             mode=mode, **scripts)
        except InvalidInput as exc:
            raise AnsibleActionFail(str(exc))
        # All of it is the task's result, registered as frappe_site_reconcile, not facts: Ansible keeps the facts of an
        # action other than set_fact in the host's fact cache, and copies that whole for every later task.
        planned = {'plan': plan, 'state': objects, 'objects': [], 'pending': [], 'writes': False, 'settled': False,
                   'status': {}}
        # A site going away under Retain lets go even if its spec is refused now
        # (nothing is dropped); a refused Delete keeps its finalizer and says why.
        if plan['errors'] and not (plan.get('deleting') and plan.get('deletion_policy') == 'Retain'):
            result.update(planned, failed=True, msg=' '.join(plan['errors']))
            return result
        if not plan.get('deleting'):
            rendered = render(self, task_vars, 'frappe_site_plan', plan)
            planned['objects'] = rendered
            if mode == 'apply':
                stages = pending_stages(plan)
                planned['pending'] = apply_pending([o for o in rendered if o['stage'] in stages], objects,
                                                   attribute='object')
                planned['writes'] = site_writes_needed(plan, args['site'], planned['pending'], args.get('finalizer'))
                if not planned['writes'] and plan['job']['state'] != 'Failed':
                    # Nothing to write: the status is decided from the same read (a failed Job's pods are read
                    # first by status.yml, so that one is left to it).
                    planned['status'] = site_status(plan, args['site'])
                    planned['settled'] = site_settled(planned['status'])
        result.update(planned, changed=False, warnings=unshown(plan['warnings'], args.get('warnings_given')))
        return result
