# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the roles' plan actions share: their files, their share of a shared read, and one render of their templates.

A reconcile's plan, render and pending decision used to be four tasks of a
role. Each task costs a worker process, the compile of its templates and a
walk of every variable it names (Ansible templates a variable's value each
time it is named), so those tasks were most of a reconcile that changes
nothing. The actions (plugins/action/*_reconcile_plan.py) do the same work in
one task with these helpers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import stat
import tempfile

import yaml
from jinja2 import FileSystemBytecodeCache

from ansible import __version__ as ansible_version
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.common.text.converters import to_text
from ansible.template import AnsibleEnvironment
from ansible.utils.unsafe_proxy import AnsibleUnsafe, wrap_var

from ansible_collections.vyogotech.frappe.plugins.filter.rendered_objects import rendered_objects
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.shared_read import shared_read_of

try:
    from yaml import CSafeLoader as SafeLoader  # libyaml: the rendered objects parse several times faster
except ImportError:  # pragma: no cover
    from yaml import SafeLoader


def bytecode_cache():
    """Jinja's cache of compiled templates in a directory of this user only, or None where there is none.

    Every reconcile is a new process, which compiles the role's templates
    again; the cache keeps the compiled code between runs, keyed by each
    template's source (a changed template is compiled again), here also by the
    Ansible version that compiled it.
    """
    name = '.'.join(('vyogotech.frappe.templates', str(os.getuid()), ansible_version))
    directory = os.path.join(tempfile.gettempdir(), name)
    try:
        os.makedirs(directory, mode=0o700)
    except OSError:
        pass
    try:
        info = os.lstat(directory)
    except OSError:
        return None
    # Code is loaded from it: only a directory of this user that nobody else may write.
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not stat.S_ISDIR(info.st_mode):
        return None
    return FileSystemBytecodeCache(directory)


class Data(dict, AnsibleUnsafe):
    """Data, never a template: a plan carries the user's input and the role's scripts.

    Ansible templates a variable each time a template names it, walking all
    of it, unless the value is marked unsafe, as its own wrap_var marks
    strings: a plan, named a hundred times by a role's templates, is handed
    over whole and marked, its strings wrapped too.
    """

    @classmethod
    def of(cls, value):
        return DataList(wrap_var(value)) if isinstance(value, list) else cls(wrap_var(value))


class DataList(list, AnsibleUnsafe):
    """A list as Data."""


def role_file(action, name):
    """A file of the role's files/ as ansible.builtin.file reads it (rstrip): a script is an input of a Job's name."""
    with open(action._find_needle('files', name), 'rb') as handle:
        return to_text(handle.read()).rstrip()


def render(action, task_vars, plan_var, plan):
    """The role's objects.yaml.j2 for the plan's steps (each step's template included from it), checked against
    the steps: [{'stage', 'object'}] (rendered_objects)."""
    path = action._find_needle('templates', 'objects.yaml.j2')
    with open(path, 'rb') as handle:
        text = to_text(handle.read())
    templar = action._templar.copy_with_new_env(environment_class=AnsibleEnvironment)
    cache = bytecode_cache()
    if cache is not None:
        templar.environment.bytecode_cache = cache
    variables = dict(task_vars)
    variables.update({plan_var: Data.of(plan), 'steps': Data.of(plan['render'])})
    with templar.set_temporary_context(available_variables=variables, searchpath=[os.path.dirname(path)]):
        text = templar.template(text, preserve_trailing_newlines=True, convert_data=False, escape_backslashes=False)
    # Bytes of the text: libyaml takes no subclass of str, which the rendered text is.
    return rendered_objects(list(yaml.load_all(io.BytesIO(text.encode('utf-8')), Loader=SafeLoader)), plan['render'])


def share_of(task_vars, shared, obj):
    """{objects, api_groups_served} of `obj` from the read the variable shared['var'] holds (a k8s_multi_info run
    of shared_reads), taken from the variable itself: a read for many objects is large, and templating it would
    walk all of it."""
    answer = (task_vars or {}).get(shared.get('var') or '')
    if not isinstance(answer, Mapping) or 'objects' not in answer:
        raise AnsibleActionFail('shared_read.var %r names no k8s_multi_info read' % (shared.get('var'),))
    return shared_read_of(answer, obj, shared.get('settings') or None)


def plan_inputs(action, task_vars, obj, render_state, scripts):
    """What a plan action plans from: (mode, objects read, API groups served, the role's scripts by argument).

    In apply mode the objects are the task's `live` read, or the object's
    share of the read `shared_read` names; in render mode `render_state`.
    """
    args = action._task.args
    mode = args.get('mode') or 'apply'
    if mode == 'apply':
        given = share_of(task_vars, args['shared_read'], obj) if args.get('shared_read') else args.get('live') or {}
        objects, groups = dict(given.get('objects') or {}), dict(given.get('api_groups_served') or {})
    else:
        objects, groups = render_state, {}
    return mode, objects, groups, dict((key, role_file(action, name)) for key, name in scripts.items())


def unshown(warnings, given):
    """The plan's warnings a caller has not shown yet in this run (given: those it has)."""
    return [warning for warning in warnings if warning not in (given or [])]
