#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_multi_info
short_description: Read several kinds and objects from the Kubernetes API in one module run
version_added: 0.1.0
description:
  - Lists objects of several kinds (by label selector) and reads single objects by name, in one run of one
    Python process with one API client. A reconcile that needs a dozen reads then costs one module start instead
    of a dozen, which is most of the time of a reconcile that has nothing to change.
  - A kind whose API group or version the API server does not serve is a normal answer (RV(unserved) names its
    key, its list is empty), not an error, so optional APIs such as V(keda.sh) are read without asking first.
  - O(api_groups) asks the API server, in the same run, whether it serves optional API groups (KEDA, the MariaDB
    Operator, cert-manager), from one discovery request (C(GET /apis)); RV(api_groups_served) is the answer.
  - Secrets come back without their values; each key of C(data) maps to an empty string, so a caller can see
    which keys exist and the C(resourceVersion), never a password.
  - C(metadata.managedFields) is left out of every object, and every object carries its C(kind) and C(apiVersion)
    (items of a list have none of their own).
author:
  - vyogotech maintainers (@vyogotech)
options:
  reads:
    description:
      - What to read. Each entry names a O(reads[].key) under which its objects are returned.
    type: list
    elements: dict
    required: true
    suboptions: &read_suboptions
      key:
        description: The key of RV(objects) that holds what this entry read. Unique.
        type: str
        required: true
      api_version:
        description: The C(apiVersion) of the kind, for example V(apps/v1) or V(keda.sh/v1alpha1).
        type: str
        required: true
      kind:
        description: The kind, for example V(Deployment).
        type: str
        required: true
      namespace:
        description: The namespace, for namespaced kinds.
        type: str
      name:
        description: Read this one object; its list holds it, or nothing when it does not exist.
        type: str
      label_selectors:
        description: Without O(reads[].name), list the objects that match all of these selectors.
        type: list
        elements: str
        default: []
      optional:
        description:
          - A read the API server forbids (403, the caller's RBAC does not allow it) finds nothing and its key is
            listed in RV(unserved), instead of failing the module. For reads a caller can do without, such as the
            objects a domain is detected from.
        type: bool
        default: false
      secret_values:
        description:
          - For a Secret, the keys of C(data) whose values come back (base64, as the API gives them); every other
            key still maps to an empty string. Only for keys that hold no password, such as a database's host or
            name, which a plan must know.
        type: list
        elements: str
        default: []
      moves_by:
        description:
          - With O(wait_until=changed), what of this read's objects counts as a move.
          - V(resource_version) is any write of an object (another C(resourceVersion)).
          - V(readiness) is only a change of what a status decision takes from it
            (C(plugins/module_utils/readiness.py) C(progress_state)) - whether a Job finished, whether a Deployment
            or StatefulSet serves, settled or gave up - and the C(resourceVersion) of any other kind. A Job that
            records its running pod then ends no pause.
          - An object created or deleted moves under either.
        type: str
        choices: [resource_version, readiness]
        default: resource_version
  api_groups:
    description:
      - API groups to ask about, each a group (V(keda.sh)) or a group and version (V(keda.sh/v1alpha1)).
      - Answered from one fresh discovery request (C(GET /apis)), not from a cached discovery document, so a group
        installed or removed since the last run is seen at once. Every account may read it (C(system:discovery)).
    type: list
    elements: str
    default: []
  read_one_by_name:
    description:
      - After each list that returned an object with owner references, read the first such object again by name
        (the answer is not returned).
      - Under the Ansible Operator SDK's proxy (owner reference injection on), a by-name read of an object owned by
        the reconciled kind is what starts the watch on its kind again after the operator restarted; a list does not.
        A reconcile that then has nothing to apply still brings the watches back. One request per kind; outside the
        SDK it only costs that request.
    type: bool
    default: false
  wait_until:
    description:
      - Read again, in the same run, until what was read meets this, or O(wait_timeout) passes. One module run
        waits with one client, where a task retried with C(until) would start a Python process per read.
      - V(changed) means any object read differs from O(wait_since), or without it from the first read - moved as
        its read's O(reads[].moves_by) says, one more or one fewer - a pause that ends as soon as something it
        watches moves (a Job finishes, a rollout serves, the MariaDB Operator marks a Database Ready).
        C(playbooks/site.yml) pauses so between reconcile rounds.
      - A timeout is not an error; RV(wait_timed_out) says so, and RV(objects) is the last read (with
        O(wait_reads), the read of O(reads) after it).
      - A read that fails while waiting (the API server restarting) is tried again until the timeout; the error of
        the last one fails the module.
    type: str
    choices: [changed]
  wait_reads:
    description:
      - With O(wait_until), what the wait watches, in place of O(reads) (the same suboptions); once the wait ends,
        O(reads) are read once and returned. A pause and the read after it (C(playbooks/site.yml) between two rounds)
        are then one module run. O(wait_since) names the keys of these reads.
    type: list
    elements: dict
    suboptions: *read_suboptions
  wait_since:
    description:
      - With O(wait_until=changed), the objects to compare with, as the caller read them earlier - one entry per
        object, under the O(reads[].key) it was read by - rather than this run's first read. What moved between
        that earlier read and this run (a Job that completed meanwhile) then ends the wait at once.
    type: list
    elements: dict
    suboptions:
      key:
        description: The O(reads[].key) the object was read by.
        type: str
        required: true
      uid:
        description: The object's C(metadata.uid).
        type: str
        required: true
      state:
        description:
          - What the wait compares of the object, as its read's O(reads[].moves_by) gives it - its
            C(metadata.resourceVersion), or its readiness state (C(plugins/module_utils/readiness.py)
            C(moved_state)).
        type: str
        required: true
  wait_timeout:
    description: With O(wait_until), the longest wait, in seconds.
    type: int
    default: 60
  wait_sleep:
    description: With O(wait_until), the pause between two reads, in seconds.
    type: float
    default: 0.5
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - vyogotech.frappe.read_only
notes:
  - Built on the API client of C(kubernetes.core) (its connection options and environment variables apply).
  - Under the Ansible Operator SDK's proxy, a list does not register a watch on what it returns; single-object
    reads of owned objects do.
seealso:
  - module: kubernetes.core.k8s_info
'''

EXAMPLES = r'''
- name: Read what a bench owns, the KEDA operator's Lease and the storage classes
  vyogotech.frappe.k8s_multi_info:
    reads:
      - {key: deployments, api_version: apps/v1, kind: Deployment, namespace: erp, label_selectors: [vyogo.tech/bench=erp]}
      - {key: scaledobjects, api_version: keda.sh/v1alpha1, kind: ScaledObject, namespace: erp,
         label_selectors: [vyogo.tech/bench=erp]}
      - {key: keda_lease, api_version: coordination.k8s.io/v1, kind: Lease, namespace: keda, name: operator.keda.sh}
      - {key: storage_classes, api_version: storage.k8s.io/v1, kind: StorageClass}
  register: bench_state

- name: Pause until a Job of the bench is written to or a Deployment of it serves, settles or gives up, for at most ten seconds
  vyogotech.frappe.k8s_multi_info:
    reads:
      - {key: jobs, api_version: batch/v1, kind: Job, namespace: erp, label_selectors: [vyogo.tech/bench=erp]}
      - {key: deployments, api_version: apps/v1, kind: Deployment, namespace: erp, label_selectors: [vyogo.tech/bench=erp],
         moves_by: readiness}
    wait_until: changed
    wait_timeout: 10
    wait_sleep: 1
    # As an earlier task read them: a Job that completed since then ends the pause at once.
    wait_since:
      - {key: jobs, uid: 5e0c2f8a-1d2b-4c3d-9e4f-0a1b2c3d4e5f, state: "4711"}
  register: moved

- name: Ask, in the same run, whether KEDA and cert-manager are served
  vyogotech.frappe.k8s_multi_info:
    reads: []
    api_groups: [keda.sh/v1alpha1, cert-manager.io]
  register: served

- name: Is KEDA there?
  ansible.builtin.debug:
    msg: "{{ served.api_groups_served['keda.sh/v1alpha1'] }}"
'''

RETURN = r'''
objects:
  description: For each O(reads[].key), the list of objects read (empty when none, or when the kind is not served).
  returned: success
  type: dict
  sample: {deployments: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: erp-gunicorn}}], keda_lease: []}
unserved:
  description: The keys whose kind the API server does not serve, and those of O(reads[].optional) reads it forbids.
  returned: success
  type: list
  elements: str
  sample: [scaledobjects]
api_groups_served:
  description:
    - For each entry of O(api_groups), whether the API server serves that group (and, for V(group/version), that
      version of it).
  returned: success
  type: dict
  sample: {keda.sh/v1alpha1: true, cert-manager.io: false}
waited:
  description: The seconds spent waiting.
  returned: when O(wait_until) is set
  type: float
  sample: 1.5
wait_timed_out:
  description: Whether the wait ended on O(wait_timeout) rather than on the condition.
  returned: when O(wait_until) is set
  type: bool
  sample: false
'''

import copy
import time

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.vyogotech.frappe.plugins.module_utils.readiness import MOVES_BY, moved_state

try:
    from kubernetes.dynamic.exceptions import (ForbiddenError, NotFoundError, ResourceNotFoundError,
                                               ResourceNotUniqueError)
except ImportError:
    # AnsibleK8SModule reports the missing library.
    pass


READ_SPEC = dict(
    key=dict(type='str', required=True, no_log=False),
    api_version=dict(type='str', required=True),
    kind=dict(type='str', required=True),
    namespace=dict(type='str'),
    name=dict(type='str'),
    label_selectors=dict(type='list', elements='str', default=[]),
    optional=dict(type='bool', default=False),
    secret_values=dict(type='list', elements='str', default=[], no_log=False),
    moves_by=dict(type='str', choices=list(MOVES_BY), default='resource_version'),
)


def _argspec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec['reads'] = dict(type='list', elements='dict', required=True, options=READ_SPEC)
    spec['api_groups'] = dict(type='list', elements='str', default=[])
    spec['read_one_by_name'] = dict(type='bool', default=False)
    spec['wait_until'] = dict(type='str', choices=['changed'])
    spec['wait_reads'] = dict(type='list', elements='dict', options=READ_SPEC)
    spec['wait_since'] = dict(type='list', elements='dict', options=dict(
        key=dict(type='str', required=True, no_log=False), uid=dict(type='str', required=True),
        state=dict(type='str', required=True)))
    spec['wait_timeout'] = dict(type='int', default=60)
    spec['wait_sleep'] = dict(type='float', default=0.5)
    return spec


def _clean(obj, resource, secret_values=()):
    """The object as a plain dict with its kind, without managedFields and without Secret values (but those of
    the keys `secret_values` names)."""
    obj = obj.to_dict() if hasattr(obj, 'to_dict') else dict(obj)
    # Items of a list carry no kind of their own.
    obj.setdefault('kind', resource.kind)
    obj.setdefault('apiVersion', resource.group_version)
    obj.get('metadata', {}).pop('managedFields', None)
    if obj.get('kind') == 'Secret':
        obj['data'] = dict((key, value if key in secret_values else '') for key, value in (obj.get('data') or {}).items())
        obj.pop('stringData', None)
    return obj


def _read_by_name(client, resource, meta):
    try:
        client.get(resource, name=meta['name'], namespace=meta.get('namespace'))
    except NotFoundError:
        pass  # gone since the list: nothing to watch for it


def read_all(client, reads, read_one_by_name=False, served=None):
    """({key: [objects]}, [keys of kinds not served]) for the reads, with one client.

    served, when given, is what the API server serves now (served_versions): a
    read of a group version it does not serve is answered from it, without
    asking the client's discovery, which on every miss drops its whole cache
    and fetches every group again (a dozen requests and as many rewrites of
    the cache file, in each run that reads an optional API that is absent).
    """
    objects, unserved = {}, []
    for read in reads:
        key = read['key']
        if served is not None and not is_served(served, read['api_version']):
            objects[key] = []
            unserved.append(key)
            continue
        try:
            resource = client.resource(read['kind'], read['api_version'])
        except (ResourceNotFoundError, ResourceNotUniqueError):
            objects[key] = []
            unserved.append(key)
            continue
        params = {}
        if read.get('namespace') and resource.namespaced:
            params['namespace'] = read['namespace']
        try:
            if read.get('name'):
                objects[key] = [_clean(client.get(resource, name=read['name'], **params), resource,
                                       read.get('secret_values') or ())]
            else:
                if read.get('label_selectors'):
                    params['label_selector'] = ','.join(read['label_selectors'])
                objects[key] = [_clean(item, resource, read.get('secret_values') or ())
                                for item in client.get(resource, **params).items]
                owned = [o for o in objects[key] if o.get('metadata', {}).get('ownerReferences')]
                if read_one_by_name and owned:
                    _read_by_name(client, resource, owned[0]['metadata'])
        except NotFoundError:
            # A missing object; or a kind whose CRD went away after discovery was cached.
            objects[key] = []
            if not read.get('name'):
                unserved.append(key)
        except ForbiddenError:
            if not read.get('optional'):
                raise
            objects[key] = []
            unserved.append(key)
    return objects, unserved


def served_versions(client):
    """{group: set of versions} the API server serves, from one discovery request.

    Asked of the API server (GET /apis), not of the discovery cache: a group
    installed or removed since it was written is seen at once.
    """
    served = {}
    for group in client.client.request('GET', '/apis').groups or []:
        served[group['name']] = set(version['version'] for version in group['versions'] or [])
    return served


def is_served(served, api_version):
    """Whether 'group/version' (or a group alone) is in served; the core group ('v1') always is."""
    group, _sep, version = api_version.partition('/')
    if not _sep:
        return True if group == 'v1' else group in served
    return group in served and version in served[group]


def api_groups_served(served, wanted):
    """{entry: served} for each 'group' or 'group/version' of wanted, from served_versions."""
    return dict((entry, is_served(served, entry)) for entry in wanted)


def versions(objects, moves_by=None):
    """What tells two reads apart: each object's read key, uid and state (readiness.moved_state, by its key's
    moves_by: {key: 'resource_version' or 'readiness'}, resource_version when not given)."""
    moves_by = moves_by or {}
    return sorted((key, (obj.get('metadata') or {}).get('uid') or '', moved_state(obj, moves_by.get(key)))
                  for key in objects for obj in objects[key])


def read_until(client, params, clock=time.monotonic, sleep=time.sleep, served=None):
    """read_all, again every wait_sleep seconds until wait_until holds or wait_timeout passes.

    What a read is compared with is wait_since when given, else the first read.
    With wait_reads, those are what is read again, and the reads are read once after.

    While waiting, a read that fails (the API server restarting) is tried again
    until the timeout, as a task retried with `until` would; the last error is
    raised when the time is up.
    """
    if not params.get('wait_until'):
        objects, unserved = read_all(client, params['reads'], params['read_one_by_name'], served)
        return objects, unserved, {}
    start, first = clock(), None
    if params.get('wait_since') is not None:
        first = sorted((entry['key'], entry['uid'], entry['state']) for entry in params['wait_since'])
    # What the wait watches: wait_reads, and then the reads once; else the reads themselves.
    watched = params['reads'] if params.get('wait_reads') is None else params['wait_reads']
    moves_by = dict((read['key'], read.get('moves_by')) for read in watched)
    while True:
        error = None
        try:
            objects, unserved = read_all(client, watched, params['read_one_by_name'], served)
        except Exception as exc:  # pylint: disable=broad-except
            error = exc
        if error is None and first is None:
            first, met = versions(objects, moves_by), False
        else:
            met = error is None and versions(objects, moves_by) != first
        waited = clock() - start
        if met or waited + params['wait_sleep'] > params['wait_timeout']:
            if error is not None:
                raise error
            wait = {'waited': round(waited, 2), 'wait_timed_out': not met}
            if params.get('wait_reads') is not None:
                objects, unserved = read_all(client, params['reads'], params['read_one_by_name'], served)
            return objects, unserved, wait
        sleep(params['wait_sleep'])


def main(module_class=AnsibleModule):
    # module_class: plugins/plugin_utils/in_process.py runs this in the worker with its own.
    module = AnsibleK8SModule(module_class=module_class, argument_spec=_argspec(), supports_check_mode=True)
    for option in ('reads', 'wait_reads'):
        keys = [read['key'] for read in module.params[option] or []]
        duplicates = sorted(set(key for key in keys if keys.count(key) > 1))
        if duplicates:
            module.fail_json(msg='%s: each key must be unique; repeated: %s' % (option, ', '.join(duplicates)))
        asked = sorted(set(r['key'] for r in module.params[option] or []
                           if any('password' in k.lower() for k in r.get('secret_values') or [])))
        if asked:
            module.fail_json(msg='%s: secret_values never returns a password; leave keys naming a password out of: %s'
                             % (option, ', '.join(asked)))
    try:
        client = get_api_client(module)
        served = served_versions(client)
        groups = api_groups_served(served, module.params['api_groups'])
        objects, unserved, wait = read_until(client, module.params, served=served)
    except CoreException as exc:
        module.fail_from_exception(exc)
    except Exception as exc:  # pylint: disable=broad-except
        # With the API server's answer (a Status) in it, for the caller to quote.
        module.fail_json(msg='Failed to read from the Kubernetes API: %s' % exc, status=getattr(exc, 'status', None))
    module.exit_json(changed=False, objects=objects, unserved=unserved, api_groups_served=groups, **wait)


if __name__ == '__main__':
    main()
