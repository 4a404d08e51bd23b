# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

# Go's time.ParseDuration, as the Ansible Operator SDK parses the period.
DURATION = re.compile(r'^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$')


class ActionModule(ActionBase):
    """Ask the Ansible Operator SDK to reconcile this object again after a period; nothing else."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('period',))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        period = self._task.args.get('period')
        if not isinstance(period, string_types) or not DURATION.match(period):
            raise AnsibleActionFail('period must be a duration such as 15s, 1m or 1m30s, got %r' % (period,))
        # The SDK reads res.period of a task whose action is requeue_after.
        result.update(changed=False, period=period)
        return result
