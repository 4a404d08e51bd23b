# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """Show messages as Ansible warnings, on the controller, changing nothing."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('msg',))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        msg = self._task.args.get('msg')
        if isinstance(msg, string_types):
            messages = [msg]
        elif isinstance(msg, (list, tuple)) and all(isinstance(m, string_types) for m in msg):
            messages = list(msg)
        else:
            raise AnsibleActionFail('msg must be a string or a list of strings, got %s' % type(msg).__name__)
        messages = [to_text(m) for m in messages if m]
        result.update(changed=False, warnings=messages, messages=messages)
        return result
