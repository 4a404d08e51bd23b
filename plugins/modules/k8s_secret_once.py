#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_secret_once
short_description: Create a Secret with generated passwords, once, and never change it
version_added: 0.1.0
description:
  - Creates the Secret with a random value for each key of O(generate) and the given O(data), with one create
    request. A Secret of that name that exists already is left exactly as it is (C(changed=false)), whatever it
    holds, so a generated password is never regenerated, not even when a stale read made the caller believe it was
    missing (C(kubernetes.core.k8s) with C(state=present) would patch an existing one).
  - The generated values are made in the module and never returned, logged or passed as arguments.
  - The Secret keeps exactly the O(owner_references) given. Under the Ansible Operator SDK the API proxy appends a
    reference to the reconciled object to whatever is created; when the created Secret comes back with other
    references than asked for, the module sets them back with a merge patch in the same run, so a Secret meant to
    outlive its owner (none given) is not deleted with it.
author:
  - vyogotech maintainers (@vyogotech)
options:
  name:
    description: Name of the Secret.
    type: str
    required: true
  namespace:
    description: Namespace of the Secret.
    type: str
    required: true
  generate:
    description: Keys that get a random value of O(length) letters and digits.
    type: list
    elements: str
    default: [password]
  length:
    description: Length of each generated value.
    type: int
    default: 32
  data:
    description: Further keys with the given (non-secret) values, for example the user name.
    type: dict
    default: {}
  labels:
    description: Labels of the Secret.
    type: dict
    default: {}
  owner_references:
    description: Owner references of the Secret (none, and it outlives every other object).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: In check mode nothing is created; C(changed) says whether it would be (unknown, so true).
  diff_mode:
    support: none
    description: The values are secret; there is no diff.
'''

EXAMPLES = r'''
- name: Create the database password of the site, once
  vyogotech.frappe.k8s_secret_once:
    name: erp-db-credentials
    namespace: shop
    generate: [password]
    data:
      username: _0123456789abcdef
'''

RETURN = r'''
created:
  description: Whether this run created the Secret (false when it existed).
  returned: always
  type: bool
name:
  description: Name of the Secret.
  returned: always
  type: str
'''

import base64
import copy
import secrets
import string

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_api import (
    K8sClientError,
    call,
    client_of,
    resource_of,
)
from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import owner_fix

ALPHABET = string.ascii_letters + string.digits


def generated(length):
    return ''.join(secrets.choice(ALPHABET) for _position in range(length))


def secret_body(params):
    values = dict((k, str(v)) for k, v in (params['data'] or {}).items())
    for key in params['generate']:
        values[key] = generated(params['length'])
    return {
        'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
        'metadata': {'name': params['name'], 'namespace': params['namespace'], 'labels': params['labels'] or {},
                     'ownerReferences': params['owner_references'] or []},
        'data': dict((k, base64.b64encode(v.encode('utf-8')).decode('ascii')) for k, v in values.items()),
    }


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type='str', required=True),
        namespace=dict(type='str', required=True),
        generate=dict(type='list', elements='str', default=['password'], no_log=False),
        length=dict(type='int', default=32),
        data=dict(type='dict', default={}),
        labels=dict(type='dict', default={}),
        owner_references=dict(type='list', elements='dict', default=[]),
    )
    return spec


def main(module_class=AnsibleModule):
    # module_class: plugins/plugin_utils/in_process.py runs this in the worker with its own.
    module = AnsibleK8SModule(module_class=module_class, argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params['length'] < 16:
        module.fail_json(msg='length must be at least 16, got %d' % params['length'])
    result = dict(changed=True, created=False, name=params['name'])
    if module.check_mode:
        module.exit_json(**result)
    client = client_of(module)
    namespace = params['namespace']
    try:
        secrets_resource = resource_of(client, 'v1', 'Secret')
        created = call(client, 'POST', secrets_resource.path(namespace=namespace),
                       'create on secrets (core API group) in namespace %s' % namespace,
                       client.client.create, secrets_resource, body=secret_body(params), namespace=namespace)
        result['created'] = True
    except K8sClientError as exc:
        if exc.status != 409:
            module.fail_json(msg=str(exc), status=exc.status)
        # AlreadyExists: it keeps what it holds.
        result['changed'] = False
        module.exit_json(**result)
    # Only the owner references are sent back: the data stays as created.
    fix = owner_fix(created or {}, params['owner_references'])
    if fix:
        try:
            call(client, 'PATCH', secrets_resource.path(name=params['name'], namespace=namespace),
                 'patch on secrets (core API group) in namespace %s' % namespace,
                 client.client.patch, secrets_resource, body={'metadata': fix['metadata']}, name=params['name'],
                 namespace=namespace, content_type='application/merge-patch+json')
        except K8sClientError as exc:
            module.fail_json(msg='Secret %s/%s was created, but its owner references could not be set to those asked '
                             'for: %s' % (params['namespace'], params['name'], exc), status=exc.status, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
