#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_apply
short_description: Apply objects with kubernetes.core's own apply, as kubernetes.core.k8s does with apply=true
version_added: 0.1.0
description:
  - Applies each object of O(definition) with the runner of M(kubernetes.core.k8s) (C(run_module) of
    kubernetes.core's C(plugins/module_utils/k8s/runner.py)), as that module does with C(state=present) and
    C(apply=true) - a client-side apply that records the C(kubectl.kubernetes.io/last-applied-configuration)
    annotation and creates what does not exist. The requests, the objects and the answer are that module's.
  - On a local connection its action runs it in the task's worker (C(plugins/plugin_utils/in_process.py)), which
    inherits the kubernetes client imported once; a module process would import it first, about 0.35 s.
author:
  - vyogotech maintainers (@vyogotech)
options:
  definition:
    description:
      - The objects to apply, each a mapping with C(apiVersion), C(kind) and C(metadata); or one such mapping.
    type: raw
    required: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: A server-side dry run, as M(kubernetes.core.k8s) makes it.
  diff_mode:
    support: full
    description: As M(kubernetes.core.k8s).
'''

EXAMPLES = r'''
- name: Apply the rendered objects of the bench
  vyogotech.frappe.k8s_apply:
    definition:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: erp-nginx, namespace: shop}
        data: {default.conf: "..."}
  register: applied
'''

RETURN = r'''
result:
  description:
    - One object applied - the object as the API server returned it. Several - C(results), one per object, each
      with its own C(result), C(changed) and C(method), as M(kubernetes.core.k8s) returns them.
  returned: success
  type: dict
method:
  description: With one object, C(apply).
  returned: with one object
  type: str
'''

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.runner import run_module


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec['definition'] = dict(type='raw', required=True)
    return spec


def main(module_class=AnsibleModule):
    # module_class: plugins/plugin_utils/in_process.py runs this in the worker with its own.
    module = AnsibleK8SModule(module_class=module_class, argument_spec=argument_spec(), supports_check_mode=True)
    # kubernetes.core.k8s's options of an apply; the runner reads every other one as unset.
    module.params.update(state='present', apply=True, resource_definition=module.params['definition'])
    try:
        run_module(module)
    except CoreException as exc:
        module.fail_from_exception(exc)


if __name__ == '__main__':
    main()
