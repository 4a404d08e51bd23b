# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible.builtin.linear, with this collection's controller plugins loaded once, before any worker forks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: linear
short_description: The linear strategy, with this collection's controller plugins loaded once per run
version_added: 0.1.0
description:
  - Runs a play exactly as M(ansible.builtin.linear) does.
  - Before the first task it loads this collection's filters and action plugins (and so the library under
    C(plugins/module_utils/frappe/) they import, and the kubernetes client of the actions that run this
    collection's Kubernetes modules in the worker, C(plugins/plugin_utils/in_process.py)) and the action plugins
    of the M(kubernetes.core.k8s) tasks into the controller process.
  - Ansible runs every task in a worker process forked from the controller. Without this, each worker loads
    and compiles those plugins anew (the collection loader keeps no bytecode, and the first filter of a
    collection a template names loads every filter file of that collection); with it, each worker inherits
    them loaded. A reconcile of C(playbooks/site.yml) with nothing to change runs about 0.1 s faster.
author:
  - vyogotech maintainers (@vyogotech)
'''

import pkgutil

from ansible.plugins.loader import action_loader, filter_loader
from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule
from ansible.utils.display import Display

COLLECTION = 'vyogotech.frappe'
# The other collections' action plugins the playbooks' tasks run.
OTHER_ACTIONS = ('kubernetes.core.k8s', 'kubernetes.core.k8s_info')

display = Display()


def collection_actions():
    """The FQCNs of this collection's action plugins (plugins/action/*.py)."""
    from ansible_collections.vyogotech.frappe.plugins import action
    return ['%s.%s' % (COLLECTION, name) for dummy, name, ispkg in pkgutil.iter_modules(action.__path__)
            if not ispkg]


def preload():
    """Load the plugins the workers would each load again; what cannot be loaded is left to the task that needs it."""
    try:
        # One collection filter loads every filter file of its collection.
        filter_loader.get('%s.current_objects' % COLLECTION)
        for name in collection_actions() + list(OTHER_ACTIONS):
            action_loader.get(name, class_only=True)
    except Exception as exc:  # pylint: disable=broad-except
        display.vvv('vyogotech.frappe.linear: plugins not loaded before the first task: %s' % exc)


class StrategyModule(LinearStrategyModule):
    """ansible.builtin.linear, after preload()."""

    def run(self, iterator, play_context):
        preload()
        return super(StrategyModule, self).run(iterator, play_context)
