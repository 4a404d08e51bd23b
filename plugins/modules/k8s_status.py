#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_status
short_description: Set fields and conditions in the status of a Kubernetes object
version_added: 0.1.0
description:
  - Updates the C(status) subresource of an object, typically a custom resource that an
    Ansible Operator SDK role reconciles (it replaces C(operator_sdk.util.k8s_status)).
  - O(status) is merged into the current status as a JSON merge patch (RFC 7386).
  - O(conditions) are merged into C(status.conditions) by C(type). Other conditions stay
    as they are, including the C(Running), C(Successful) and C(Failure) conditions the
    Ansible Operator SDK writes. C(lastTransitionTime) is set (RFC 3339, UTC) only when a
    condition is new or its C(status) changes; otherwise the old time is kept.
  - The object is read first; the status subresource is patched
    (C(application/merge-patch+json)) only when the new status differs, so a repeated run
    reports C(changed=false).
  - The patch carries the object's C(resourceVersion); when the object changed in between,
    the module reads it again and recomputes, a few times, before it fails.
author:
  - vyogotech maintainers (@vyogotech)
options:
  api_version:
    description:
      - C(apiVersion) of the object, for example V(vyogo.tech/v1alpha1).
      - V(v1) means the core group.
    type: str
    required: true
  kind:
    description:
      - Kind of the object, for example V(FrappeBench).
      - Resolved to the plural resource name through API discovery; the kind must have a
        C(status) subresource (C(subresources.status) in its CustomResourceDefinition).
    type: str
    required: true
  name:
    description: Name of the object.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the object. Required for namespaced kinds, ignored (with a warning)
        for cluster-scoped ones.
    type: str
  status:
    description:
      - Fields to merge into the status (JSON merge patch semantics).
      - Nested dictionaries are merged; lists and other values replace the old value;
        V(null) removes a key.
      - Must not contain C(conditions) when O(conditions) is given.
      - The fields must exist in the status schema of the CustomResourceDefinition (or the
        schema must preserve unknown fields); fields the API server prunes are reported
        in a warning.
      - Values are sent as given. Without Jinja2 native types a templated value inside the
        dictionary is a string (V("3"), not V(3)); template the whole dictionary in one
        expression to keep numbers and booleans (see the examples).
    type: dict
  conditions:
    description:
      - Conditions to set in C(status.conditions), merged by C(type).
      - Each item is a dictionary with the keys of a Kubernetes condition -
        C(type) (required, for example V(Ready)),
        C(status) (required, V(True), V(False) or V(Unknown); case does not matter and YAML
        booleans are accepted),
        C(reason) (a CamelCase machine-readable reason, for example V(MigrationsApplied)),
        C(message) (a human-readable message) and
        C(observedGeneration) (an integer, the C(metadata.generation) the condition was computed
        for; C(observed_generation) is accepted too).
        Other keys are rejected; C(lastTransitionTime) is computed and a given one is ignored.
      - A given condition replaces the old one of the same type completely (C(reason),
        C(message) and C(observedGeneration) that are not given are removed), except for
        C(lastTransitionTime).
      - New conditions are appended in the given order; existing ones keep their position.
      - A type may appear only once.
    type: list
    elements: dict
  replace_conditions:
    description:
      - Replace all conditions by O(conditions) instead of merging them. The
        C(lastTransitionTime) of a condition whose status did not change is still kept.
      - Only used together with O(conditions); V(conditions=[]) then removes all conditions.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Reads the object and reports the status it would write, without patching.
  diff_mode:
    support: full
    description: Shows the status before and after.
notes:
  - The account needs C(get) on the resource and C(patch) on its C(status) subresource,
    for example RBAC rules on C(frappebenches) and C(frappebenches/status).
  - Inside the Ansible Operator SDK, watches.yaml C(manageStatus) (default true) makes the
    operator write its own C(Running)/C(Successful)/C(Failure) conditions before and after
    each run. This module keeps those, and the operator keeps the conditions and status
    fields written here, but it rewrites every condition in its own shape - it drops
    C(observedGeneration) from conditions and writes an empty C(reason)/C(message) where
    none was set. An empty existing C(reason)/C(message) is therefore treated as unset, but
    a condition with C(observedGeneration) is written again on every run while
    C(manageStatus) is true; keep the generation in a status field instead (see the examples).
  - Through the Ansible Operator SDK's API proxy the object is read from the operator's cache,
    which may lag behind; the C(resourceVersion) in the patch turns a stale read into a
    conflict that the module retries (with a short back-off) instead of a lost update.
seealso:
  - module: vyogotech.frappe.k8s_multi_info
  - module: kubernetes.core.k8s
'''

EXAMPLES = r'''
- name: Report the bench as ready (inside an Ansible Operator SDK role)
  vyogotech.frappe.k8s_status:
    api_version: vyogo.tech/v1alpha1
    kind: FrappeBench
    name: "{{ ansible_operator_meta.name }}"
    namespace: "{{ ansible_operator_meta.namespace }}"
    # One expression for the whole dict keeps numbers numbers; "{{ ... }}" as a single
    # value inside a dict gives a string, which an integer field of the schema rejects.
    # observedGeneration is a status field here, not a condition key: manageStatus drops
    # it from conditions.
    status: "{{ bench_status | combine({'observedGeneration': _vyogo_tech_frappebench.metadata.generation}) }}"
    conditions:
      - type: Ready
        status: "True"
        reason: BenchReady
        message: All components are available
  vars:
    bench_status:
      phase: Ready
      workers:
        default: 0
        long: 1

- name: A condition with observedGeneration (outside the operator, or with manageStatus false)
  vyogotech.frappe.k8s_status:
    api_version: vyogo.tech/v1alpha1
    kind: FrappeSite
    name: shop
    namespace: frappe
    conditions:
      - type: Migrated
        status: "True"
        reason: MigrationsApplied
        message: bench migrate finished
        observedGeneration: 7

- name: Flag a degraded component, keep every other condition
  vyogotech.frappe.k8s_status:
    api_version: vyogo.tech/v1alpha1
    kind: FrappeBench
    name: erp
    namespace: frappe
    conditions:
      - type: WorkersAutoscaled
        status: "False"
        reason: KedaMissing
        message: keda.sh is not served; workers run at a fixed replica count

- name: Remove a status field
  vyogotech.frappe.k8s_status:
    api_version: vyogo.tech/v1alpha1
    kind: FrappeSite
    name: shop
    namespace: frappe
    status:
      lastError: null

- name: Keep exactly these conditions
  vyogotech.frappe.k8s_status:
    api_version: vyogo.tech/v1alpha1
    kind: FrappeSite
    name: shop
    namespace: frappe
    replace_conditions: true
    conditions:
      - type: Ready
        status: "Unknown"
        reason: Reconciling
'''

RETURN = r'''
result:
  description:
    - The object's status after the update, as the API server returned it.
    - In check mode, and when nothing changed, the status that would be (or is) stored.
  returned: success
  type: dict
  sample:
    phase: Ready
    conditions:
      - type: Running
        status: "True"
        reason: Running
        message: Running reconciliation
        lastTransitionTime: "2024-05-01T10:00:00Z"
      - type: Ready
        status: "True"
        reason: BenchReady
        message: All components are available
        observedGeneration: 3
        lastTransitionTime: "2024-05-01T10:02:13Z"
patch:
  description: The merge patch that was (or in check mode would be) sent for C(status); empty when unchanged.
  returned: success
  type: dict
  sample:
    phase: Ready
'''

import copy
import time

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import (
    compute_status,
    create_merge_patch,
    missing_paths,
    normalize_conditions,
    utc_now,
)
from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_api import (
    K8sClientError,
    K8sNotFoundError,
    call,
    client_of,
    resource_of,
)

CONFLICT_RETRIES = 5
# Seconds before the n-th re-read after a 409: the Ansible Operator SDK's proxy
# answers GETs from its informer cache, which may lag the write that caused it.
CONFLICT_BACKOFF = 0.2


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        api_version=dict(type='str', required=True),
        kind=dict(type='str', required=True),
        name=dict(type='str', required=True),
        namespace=dict(type='str'),
        status=dict(type='dict'),
        conditions=dict(type='list', elements='dict'),
        replace_conditions=dict(type='bool', default=False),
    )
    return spec


def _rbac(verb, resource, group, namespace):
    """How a 403 reads: 'patch on frappebenches/status (API group vyogo.tech) in namespace x'."""
    if group:
        text = '%s on %s (API group %s)' % (verb, resource, group)
    else:
        text = '%s on %s (core API group)' % (verb, resource)
    if namespace:
        text += ' in namespace %s' % namespace
    return text


def split_api_version(api_version):
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    api_version = (api_version or '').strip()
    if not api_version or api_version.count('/') > 1:
        raise ValueError('api_version must look like <group>/<version> or v1, got %r' % api_version)
    if '/' in api_version:
        group, version = api_version.split('/', 1)
        if not group or not version:
            raise ValueError('api_version must look like <group>/<version> or v1, got %r' % api_version)
        return group, version
    return '', api_version


class StatusUpdater(object):
    """Resolve the resource, read the object, compute and write the status (kubernetes.core's client)."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        params = module.params
        self.group, self.version = split_api_version(params['api_version'])
        self.api_version = params['api_version'].strip()
        self.kind = params['kind']
        self.name = params['name']
        self.namespace = params['namespace']
        self.status_patch = params['status']
        self.conditions = params['conditions']
        self.replace_conditions = params['replace_conditions']
        self.resource = None

    def resolve(self):
        resource = resource_of(self.client, self.api_version, self.kind)
        if 'status' not in (resource.subresources or {}):
            raise K8sClientError('%s (%s) has no status subresource: enable subresources.status in its '
                                 'CustomResourceDefinition' % (resource.kind, self.api_version))
        self.resource = resource
        if resource.namespaced:
            if not self.namespace:
                raise K8sClientError('namespace is required: %s is namespaced' % resource.kind)
        else:
            if self.namespace:
                self.module.warn('%s is cluster-scoped; namespace %s is ignored' % (resource.kind, self.namespace))
            self.namespace = None

    def _where(self):
        if self.namespace:
            return '%s %s/%s' % (self.resource.kind, self.namespace, self.name)
        return '%s %s' % (self.resource.kind, self.name)

    def read(self):
        try:
            return call(self.client, 'GET', self.resource.path(name=self.name, namespace=self.namespace),
                        _rbac('get', self.resource.name, self.group, self.namespace),
                        self.client.client.get, self.resource, name=self.name, namespace=self.namespace)
        except K8sNotFoundError:
            raise K8sClientError('%s (%s) not found' % (self._where(), self.api_version), status=404)

    def write(self, resource_version, patch):
        body = {'status': patch}
        if resource_version:
            body['metadata'] = {'resourceVersion': resource_version}
        status = self.resource.subresources['status']
        try:
            return call(self.client, 'PATCH', status.path(name=self.name, namespace=self.namespace),
                        _rbac('patch', self.resource.name + '/status', self.group, self.namespace),
                        self.client.client.patch, status, body=body, name=self.name, namespace=self.namespace,
                        content_type='application/merge-patch+json')
        except K8sNotFoundError:
            raise K8sClientError('%s (%s) not found (deleted while its status was being updated?)'
                                 % (self._where(), self.api_version), status=404)

    def run(self):
        self.resolve()
        attempt = 0
        while True:
            attempt += 1
            obj = self.read() or {}
            current = obj.get('status') if isinstance(obj.get('status'), dict) else {}
            new = compute_status(current, self.status_patch, self.conditions, utc_now(), self.replace_conditions)
            patch = create_merge_patch(current, new)
            result = dict(changed=False, result=new, patch=patch)
            if self.module._diff:
                result['diff'] = dict(before=dict(status=copy.deepcopy(current)), after=dict(status=copy.deepcopy(new)))
            if not patch:
                result['result'] = current
                return result
            result['changed'] = True
            if self.module.check_mode:
                return result
            resource_version = (obj.get('metadata') or {}).get('resourceVersion')
            try:
                patched = self.write(resource_version, patch) or {}
            except K8sClientError as exc:
                if exc.status != 409:
                    raise
                if attempt >= CONFLICT_RETRIES:
                    raise K8sClientError(
                        '%s kept changing while its status was being updated (409 Conflict %d times in a row): %s'
                        % (self._where(), CONFLICT_RETRIES, exc), status=409)
                time.sleep(CONFLICT_BACKOFF * (2 ** (attempt - 1)))
                continue
            stored = patched.get('status') if isinstance(patched.get('status'), dict) else {}
            result['result'] = stored
            dropped = missing_paths(patch, stored)
            dropped = [p for p in dropped if _still_set(patch, p)]
            if dropped:
                self.module.warn(
                    'the API server did not store status field(s) %s of %s: the status schema of the '
                    'CustomResourceDefinition probably prunes them (declare them, or set '
                    'x-kubernetes-preserve-unknown-fields)' % (', '.join(sorted(dropped)), self._where()))
            return result


def _still_set(patch, path):
    """False for paths the patch deletes (null): their absence is expected."""
    node = patch
    for part in path.split('.'):
        if not isinstance(node, dict) or part not in node:
            return True
        node = node[part]
    return node is not None


def main(module_class=AnsibleModule):
    # module_class: plugins/plugin_utils/in_process.py runs this in the worker with its own.
    module = AnsibleK8SModule(
        module_class=module_class,
        argument_spec=argument_spec(),
        required_one_of=[('status', 'conditions')],
        supports_check_mode=True,
    )
    params = module.params
    try:
        split_api_version(params['api_version'])
        if params['conditions'] is not None:
            if params['status'] and 'conditions' in params['status']:
                raise ValueError('give conditions either in status or with the conditions option, not both')
            params['conditions'] = normalize_conditions(params['conditions'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    client = client_of(module)
    try:
        result = StatusUpdater(module, client).run()
    except K8sClientError as exc:
        module.fail_json(msg=str(exc), status=exc.status)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
