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
    bench_rollout_pending, bench_settled, bench_status)
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
        facts = {'frappe_bench_plan': plan, 'frappe_bench_state': objects, 'frappe_bench_groups_served': groups}
        if plan['errors']:
            result.update(failed=True, msg=' '.join(plan['errors']), ansible_facts=facts)
            return result
        rendered = render(self, task_vars, 'frappe_bench_plan', plan)
        facts['frappe_bench_objects'] = rendered
        facts['frappe_bench_settled'] = False
        if mode == 'apply':
            facts.update(
                frappe_bench_pending=apply_pending(rendered, objects, attribute='object'),
                frappe_bench_password_missing=bool(plan['redis']['servers']) and not objects.get('redis_password'),
                frappe_bench_rolling=bool(bench_rollout_pending(objects)),
                # Noted by apply.yml when it changes something; reset here, since facts outlive one bench of a loop.
                frappe_bench_reread=False)
            if not (plan['delete'] or plan['owner_fixes'] or facts['frappe_bench_pending']
                    or facts['frappe_bench_password_missing'] or facts['frappe_bench_rolling']):
                # Nothing to change: the state read is the state now, and the status is decided from it here.
                status = bench_status(plan, objects, args['bench'], args['settings'])
                facts.update(frappe_bench_status=status, frappe_bench_settled=bench_settled(args['bench'], status))
            if facts['frappe_bench_settled']:
                # Only changes.yml, which a settled bench skips, reads these: not handed back (the read, the
                # rendered objects) to the playbook for nothing.
                facts.update(frappe_bench_state={}, frappe_bench_objects=[])
        else:
            # What a reconcile would publish, for what playbooks/render.yml gives the sites of the bench.
            facts['frappe_bench_status'] = bench_status(plan, {}, args['bench'], args['settings'])
        result.update(changed=False, ansible_facts=facts, warnings=unshown(plan['warnings'], args.get('warnings_given')))
        return result
