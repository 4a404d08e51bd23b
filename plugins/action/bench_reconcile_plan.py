# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan, render and decide the reconcile of one FrappeBench in one task on the controller.

Docs in plugins/modules/bench_reconcile_plan.py. The decisions are the
library's (plugins/module_utils/frappe/bench_plan.py, bench_status.py and
plugins/filter/apply_pending.py); why one task: plugins/plugin_utils/role_plan.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.vyogotech.frappe.plugins.filter.apply_pending import apply_pending
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_plan
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_status import (
    bench_rollout_pending, bench_settled, bench_status, status_reads_again)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import require_bench_object
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.plugin_utils.role_plan import plan_inputs, render, unshown

# The role's scripts the plan carries into its ConfigMaps (roles/frappe_bench/files).
SCRIPTS = {'config_script': 'configure-bench.sh', 'volume_check_script': 'check-sites-volume.sh',
           'assets_script': 'prepare-assets.sh', 'migrate_script': 'migrate-site.sh',
           'finish_script': 'finish-upgrade.sh', 'check_script': 'check-image.sh',
           'rollback_script': 'rollback-site.sh'}


class ActionModule(ActionBase):
    """One bench's plan, its rendered objects and what an apply would change (render mode: its status)."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('bench', 'live', 'shared_read', 'settings', 'mode', 'render_sites', 'render_upgrade',
                             'warnings_given'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        try:
            require_bench_object(args['bench'])
            mode, objects, groups, scripts = plan_inputs(
                self, task_vars, args['bench'], {'sites': list(args.get('render_sites') or []),
                                                 'render_upgrade': args.get('render_upgrade') or {}}, SCRIPTS)
            plan = bench_plan(args['bench'], live=dict(objects, api_groups=groups), settings=args['settings'],
                              mode=mode, **scripts)
        except InvalidInput as exc:
            raise AnsibleActionFail(str(exc))
        # All of it is the task's result, registered as frappe_bench_reconcile, not facts: Ansible keeps the facts of
        # an action other than set_fact in the host's fact cache, and copies that whole for every later task.
        planned = {'plan': plan, 'state': objects, 'groups_served': groups, 'objects': [], 'pending': [],
                   'settled': False, 'password_missing': False, 'rolling': False, 'applies': False, 'reread': False,
                   'status': {}}
        if plan['errors']:
            result.update(planned, failed=True, msg=' '.join(plan['errors']))
            return result
        rendered = render(self, task_vars, 'frappe_bench_plan', plan)
        planned['objects'] = rendered
        if mode == 'apply':
            planned.update(
                pending=apply_pending(rendered, objects, attribute='object'),
                password_missing=bool(plan['redis']['servers']) and not objects.get('redis_password'),
                rolling=bool(bench_rollout_pending(objects)))
            # Something to delete, apply, create or patch: apply.yml runs.
            planned['applies'] = bool(plan['delete'] or plan['owner_fixes'] or planned['pending']
                                      or planned['password_missing'])
            planned['reread'] = status_reads_again(plan, planned['pending'], planned['applies'], planned['rolling'])
            if not (planned['applies'] or planned['rolling']):
                # Nothing to change: the state read is the state now, and the status is decided from it here.
                planned['status'] = bench_status(plan, objects, args['bench'], args['settings'])
                planned['settled'] = bench_settled(args['bench'], planned['status'])
            if planned['settled']:
                # Only changes.yml, which a settled bench skips, reads these: not handed back (the read, the
                # rendered objects) to the playbook for nothing.
                planned.update(state={}, objects=[])
        else:
            # What a reconcile would publish, for what playbooks/render.yml gives the sites of the bench.
            planned['status'] = bench_status(plan, {}, args['bench'], args['settings'])
        result.update(planned, changed=False, warnings=unshown(plan['warnings'], args.get('warnings_given')))
        return result
