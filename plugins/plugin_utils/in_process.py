# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one of this collection's Kubernetes modules inside the task's worker instead of as a module process.

A module task starts a Python interpreter that imports the kubernetes
client (about 0.35 s on a 2-core host) before its first request; a
reconcile runs up to ten of them. The playbooks run on the controller
(connection local), so the action of the same name runs the module's own
code (its main, given ControllerModule as the module class of
kubernetes.core's AnsibleK8SModule) in the worker, which inherits the
client already imported by the vyogotech.frappe.linear strategy. kubernetes.core's
k8s lookup talks to the API server from the controller the same way.

Anything else runs the module as usual: another connection, a task with an
`environment` (the module process would see it, this process does not), an
async task, or a controller without the kubernetes library.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

try:
    import kubernetes  # noqa: F401 pylint: disable=unused-import
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False


class ModuleExit(Exception):
    """What exit_json or fail_json ended the module's code with."""

    def __init__(self, result):
        super(ModuleExit, self).__init__(result.get('msg', ''))
        self.result = result


class ControllerModule:
    """The part of AnsibleModule this collection's modules use, over a task's arguments, in this process.

    Validation is AnsibleModule's own (ArgumentSpecValidator: types, choices,
    defaults, environment fallbacks, required options); no_log values are
    removed from what it returns, as AnsibleModule removes them.
    """

    def __init__(self, argument_spec, task_args, name, check_mode=False, diff=False, supports_check_mode=False,
                 mutually_exclusive=None, required_together=None, required_one_of=None, required_if=None,
                 required_by=None, **kwargs):
        if kwargs:
            raise TypeError('ControllerModule: unsupported AnsibleModule arguments: %s' % ', '.join(sorted(kwargs)))
        self._name = name
        self._diff = diff
        self._warnings = []
        self._deprecations = []
        self.check_mode = check_mode
        validator = ArgumentSpecValidator(argument_spec, mutually_exclusive=mutually_exclusive,
                                          required_together=required_together, required_one_of=required_one_of,
                                          required_if=required_if, required_by=required_by)
        validated = validator.validate(task_args)
        self._no_log_values = validated._no_log_values
        self.params = validated.validated_parameters
        if check_mode and not supports_check_mode:
            self.exit_json(skipped=True, msg='remote module (%s) does not support check mode' % name)
        if validated.error_messages:
            self.fail_json(msg=validated.errors.msg)

    def warn(self, warning):
        self._warnings.append(warning)

    def deprecate(self, msg, version=None, date=None, collection_name=None):
        self._deprecations.append(dict(msg=msg, version=version, date=date, collection_name=collection_name))

    def debug(self, msg):
        pass

    def _result(self, result):
        # As AnsibleModule: the warnings given to warn(), then those passed in the result.
        given = result.get('warnings') or []
        warnings = self._warnings + (list(given) if isinstance(given, list) else [given])
        if warnings:
            result['warnings'] = warnings
        if self._deprecations:
            result['deprecations'] = self._deprecations
        result['invocation'] = {'module_args': self.params}
        return remove_values(result, self._no_log_values)

    def exit_json(self, **kwargs):
        kwargs.setdefault('changed', False)
        raise ModuleExit(self._result(kwargs))

    def fail_json(self, msg, **kwargs):
        kwargs.update(failed=True, msg=msg)
        raise ModuleExit(self._result(kwargs))


class InProcessModuleAction(ActionBase):
    """An action that runs the module MODULE (its FQCN) with main(module_class) in the worker, when it may."""

    TRANSFERS_FILES = False
    MODULE = None

    @staticmethod
    def module_main(module_class):
        raise NotImplementedError

    def runs_in_process(self):
        # The task's environment is a list of mappings ([{}] when none is set); an async task is the module's to run.
        return (HAS_KUBERNETES and self._connection.transport == 'local' and not any(self._task.environment or [])
                and not self._task.async_val)

    def run(self, tmp=None, task_vars=None):
        result = super(InProcessModuleAction, self).run(tmp, task_vars)
        if not self.runs_in_process():
            result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                               task_vars=task_vars))
        else:
            result.update(run_in_process(self.module_main, self._task.args, self.MODULE,
                                         check_mode=bool(self._task.check_mode), diff=bool(self._task.diff)))
        return result


def run_in_process(main, task_args, name, check_mode=False, diff=False):
    """The result of a module's main(module_class) run over task_args in this process, as its module run returns it."""
    def module_class(**kwargs):
        return ControllerModule(task_args=dict(task_args), name=name, check_mode=check_mode, diff=diff, **kwargs)
    try:
        main(module_class)
    except ModuleExit as done:
        return done.result
    except Exception as exc:  # pylint: disable=broad-except
        # What a module process that raised would report.
        return dict(failed=True, msg='%s failed: %s' % (name, to_text(exc)), exception=traceback.format_exc())
    return dict(failed=True, msg='%s ended without a result' % name)
