#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: api_group_info
short_description: Tell whether the API server serves an API group, version and kind
version_added: 0.1.0
description:
  - Asks the Kubernetes API server's discovery endpoints whether an API group is served,
    which versions of it are served and, optionally, whether a version and a kind are served.
  - Meant for checks before a play touches optional APIs such as V(keda.sh),
    V(k8s.mariadb.com) or V(cert-manager.io). A group that is not installed is a normal
    answer (RV(served=false)), not an error.
  - Fails only when the API server cannot be reached or refuses the request
    (bad credentials, missing permission).
author:
  - vyogotech maintainers (@vyogotech)
options:
  group:
    description:
      - The API group, for example V(keda.sh).
      - V(core) or an empty string mean the core group (C(/api), version V(v1));
        V(v1) is accepted for it too.
    type: str
    required: true
  version:
    description:
      - A version of the group to check, for example V(v1alpha1).
      - When given, RV(served) is true only if this version is served.
    type: str
  kind:
    description:
      - A kind to look for, for example V(ScaledObject).
      - Matched exactly first, then case-insensitively against the kind, the plural and
        singular resource names and the short names.
      - Looked up in O(version) when given, otherwise in the preferred version first and
        then in the other served versions.
      - When given, RV(served) is true only if the kind is served.
    type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - vyogotech.frappe.read_only
notes:
  - Reads only discovery documents (C(/api), C(/apis/<group>), C(/apis/<group>/<version>)),
    which every authenticated account may read through the default C(system:discovery) role.
seealso:
  - module: kubernetes.core.k8s_cluster_info
  - module: vyogotech.frappe.k8s_status
'''

EXAMPLES = r'''
- name: Is KEDA installed?
  vyogotech.frappe.api_group_info:
    group: keda.sh
    version: v1alpha1
    kind: ScaledObject
  register: keda_api

- name: Create the worker ScaledObject only when KEDA serves it
  kubernetes.core.k8s:
    state: present
    definition: "{{ lookup('template', 'scaledobject.yaml.j2') | from_yaml }}"
  when: keda_api.served

- name: Require the MariaDB operator
  vyogotech.frappe.api_group_info:
    group: k8s.mariadb.com
    kind: MariaDB
  register: mariadb_api
  failed_when: not mariadb_api.served

- name: Which cert-manager versions are served?
  vyogotech.frappe.api_group_info:
    group: cert-manager.io
  register: cert_manager_api

- name: Show them
  ansible.builtin.debug:
    msg: "{{ cert_manager_api.versions }} (preferred {{ cert_manager_api.preferred_version }})"

- name: A core kind, with an explicit kubeconfig and context
  vyogotech.frappe.api_group_info:
    group: core
    kind: ConfigMap
    kubeconfig: ~/.kube/config
    context: kind-frappe
'''

RETURN = r'''
served:
  description:
    - True when the group is served and, if O(version) and O(kind) were given, the version
      and the kind are served too.
  returned: always
  type: bool
  sample: true
group:
  description: The group that was checked; V("") for the core group.
  returned: always
  type: str
  sample: keda.sh
group_served:
  description: True when the API server serves the group at all.
  returned: always
  type: bool
  sample: true
versions:
  description: The served versions of the group, in the API server's order of preference.
  returned: always
  type: list
  elements: str
  sample: [v1alpha1]
preferred_version:
  description: The group's preferred version, null when the group is not served.
  returned: always
  type: str
  sample: v1alpha1
version_served:
  description: Whether O(version) is served; null when O(version) was not given.
  returned: always
  type: bool
  sample: true
kind_served:
  description: Whether O(kind) is served; null when O(kind) was not given.
  returned: always
  type: bool
  sample: true
kind_api_version:
  description: The C(apiVersion) under which O(kind) was found; null when not found or not asked.
  returned: always
  type: str
  sample: keda.sh/v1alpha1
resource:
  description:
    - The discovery entry (APIResource) of O(kind), null when O(kind) was not given or is not served.
    - Holds at least C(name) (the plural), C(kind), C(namespaced) and C(verbs), plus whatever
      else the API server returns (C(singularName), C(shortNames), C(categories), ...).
  returned: always
  type: dict
  contains:
    name:
      description: The plural resource name used in URLs and RBAC rules.
      type: str
      sample: scaledobjects
    kind:
      description: The kind as the API server spells it.
      type: str
      sample: ScaledObject
    namespaced:
      description: Whether objects of this kind live in a namespace.
      type: bool
      sample: true
    verbs:
      description: The verbs the resource supports.
      type: list
      elements: str
      sample: [delete, deletecollection, get, list, patch, create, update, watch]
    subresources:
      description: The subresources of the resource, for example C(status) and C(scale).
      type: list
      elements: str
      sample: [status]
  sample:
    name: scaledobjects
    singularName: scaledobject
    kind: ScaledObject
    namespaced: true
    shortNames: [so]
    verbs: [delete, deletecollection, get, list, patch, create, update, watch]
    subresources: [status]
'''

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.vyogotech.frappe.plugins.module_utils.k8s_requests import (
    K8sClientError,
    discover_group,
    discover_resources,
    find_resource,
    api_client_of,
    preferred_version,
    served_versions,
    subresources_of,
)


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        group=dict(type='str', required=True),
        version=dict(type='str'),
        kind=dict(type='str'),
    )
    return spec


def normalize_group(group):
    """'core' (any case), 'v1' and '' mean the core group, returned as ''."""
    group = (group or '').strip()
    if group.lower() in ('core', 'v1'):
        return ''
    if '/' in group:
        raise ValueError('group must be a group name such as keda.sh, got %r; give the version with the version option'
                         % group)
    return group


def _api_version(group, version):
    return '%s/%s' % (group, version) if group else version


def lookup(api_client, group, version=None, kind=None):
    """The module's result (without 'changed') for group/version/kind."""
    result = dict(
        group=group,
        served=False,
        group_served=False,
        versions=[],
        preferred_version=None,
        version_served=None if version is None else False,
        kind_served=None if kind is None else False,
        kind_api_version=None,
        resource=None,
    )
    info = discover_group(api_client, group)
    if info is None:
        return result
    versions = served_versions(info)
    result['group_served'] = True
    result['versions'] = versions
    result['preferred_version'] = preferred_version(info) or (versions[0] if versions else None)
    served = True
    if version is not None:
        result['version_served'] = version in versions
        served = result['version_served']
    if kind is not None:
        if version is not None:
            candidates = [version] if version in versions else []
        else:
            candidates = [v for v in [result['preferred_version']] if v] + [
                v for v in versions if v != result['preferred_version']]
        for candidate in candidates:
            resources = discover_resources(api_client, group, candidate)
            found = find_resource(resources, kind)
            if found is not None:
                resource = copy.deepcopy(found)
                resource['subresources'] = subresources_of(resources, found['name'])
                result['resource'] = resource
                result['kind_served'] = True
                result['kind_api_version'] = _api_version(group, candidate)
                break
        served = served and result['kind_served']
    result['served'] = bool(served)
    return result


def main():
    module = AnsibleK8SModule(
        module_class=AnsibleModule,
        argument_spec=argument_spec(),
        supports_check_mode=True,
    )
    try:
        group = normalize_group(module.params['group'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    version = module.params['version']
    if version is not None:
        version = version.strip() or None
    kind = module.params['kind']
    if kind is not None:
        kind = kind.strip() or None

    api_client = api_client_of(module)
    try:
        result = lookup(api_client, group, version, kind)
    except K8sClientError as exc:
        module.fail_json(msg=str(exc), status=exc.status)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
