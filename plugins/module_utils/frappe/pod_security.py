# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The security contexts of every pod of a bench: PodSecurity "restricted", with spec.security on top.

spec.security is the Go frappe-operator's SecurityConfig (api/v1/shared_types.go):
podSecurityContext and securityContext, a Kubernetes PodSecurityContext and
SecurityContext. Their fields go over the collection's own (restricted_pod,
restricted_container: non-root, the image's frappe uid, RuntimeDefault seccomp,
no privilege escalation, every capability dropped), for every pod of the bench
and the Jobs its sites run. A field that would take a pod out of the
"restricted" Pod Security Standard is refused with the reason: a namespace
that enforces it would refuse the pod, and one that does not would run it with
more than it needs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput, refuse_unknown

FIELD = 'spec.security'
POD_FIELDS = ('runAsUser', 'runAsGroup', 'runAsNonRoot', 'fsGroup', 'fsGroupChangePolicy', 'supplementalGroups',
              'seccompProfile', 'seLinuxOptions', 'sysctls', 'appArmorProfile', 'supplementalGroupsPolicy')
CONTAINER_FIELDS = ('runAsUser', 'runAsGroup', 'runAsNonRoot', 'allowPrivilegeEscalation', 'capabilities',
                    'privileged', 'readOnlyRootFilesystem', 'seccompProfile', 'seLinuxOptions', 'procMount',
                    'appArmorProfile')
# The sysctls the Pod Security Standards call safe (baseline and restricted allow these only).
SAFE_SYSCTLS = ('kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start',
                'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports',
                'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl',
                'net.ipv4.tcp_keepalive_probes')
SELINUX_TYPES = ('', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t')
RESTRICTED = 'PodSecurity "restricted" refuses it'


def _mapping(value):
    return value if isinstance(value, dict) else {}


def restricted_pod(uid):
    """The collection's pod security context: non-root with the image's uid, the volume writable by its group."""
    return {'runAsNonRoot': True, 'runAsUser': uid, 'fsGroup': uid, 'fsGroupChangePolicy': 'OnRootMismatch',
            'seccompProfile': {'type': 'RuntimeDefault'}}


def restricted_container():
    return {'allowPrivilegeEscalation': False, 'capabilities': {'drop': ['ALL']}}


def _block(value, path, fields):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput('%s must be a mapping, got %r' % (path, value))
    refuse_unknown(path, value, fields)
    return dict((k, v) for k, v in value.items() if v is not None)


def _common_errors(block, path):
    errors = []
    if block.get('runAsNonRoot') is False:
        errors.append('%s.runAsNonRoot: false: %s (containers must not run as root). Remove it' % (path, RESTRICTED))
    if block.get('runAsUser') == 0:
        errors.append('%s.runAsUser: 0 runs as root: %s. Use the image\'s frappe uid (1000) or another non-zero '
                      'uid' % (path, RESTRICTED))
    seccomp = _mapping(block.get('seccompProfile')).get('type')
    if seccomp not in (None, 'RuntimeDefault', 'Localhost'):
        errors.append('%s.seccompProfile.type %s: %s (RuntimeDefault or Localhost only)' % (path, seccomp, RESTRICTED))
    apparmor = _mapping(block.get('appArmorProfile')).get('type')
    if apparmor == 'Unconfined':
        errors.append('%s.appArmorProfile.type Unconfined: %s' % (path, RESTRICTED))
    selinux = _mapping(block.get('seLinuxOptions'))
    if selinux.get('user') or selinux.get('role'):
        errors.append('%s.seLinuxOptions.user and .role: %s; set only type and level' % (path, RESTRICTED))
    if selinux.get('type', '') not in SELINUX_TYPES:
        errors.append('%s.seLinuxOptions.type %s: %s (one of %s)'
                      % (path, selinux['type'], RESTRICTED, ', '.join(t for t in SELINUX_TYPES if t)))
    return errors


def security_errors(spec):
    """What in spec.security would take a pod out of PodSecurity restricted, or break Frappe, as messages."""
    security = _mapping(spec).get('security')
    if security is None:
        return []
    if not isinstance(security, dict):
        return ['%s must be a mapping {podSecurityContext, securityContext}, got %r' % (FIELD, security)]
    try:
        pod = _block(security.get('podSecurityContext'), FIELD + '.podSecurityContext', POD_FIELDS)
        container = _block(security.get('securityContext'), FIELD + '.securityContext', CONTAINER_FIELDS)
        refuse_unknown(FIELD, security, ('podSecurityContext', 'securityContext'))
    except InvalidInput as exc:
        return [str(exc)]
    errors = _common_errors(pod, FIELD + '.podSecurityContext') + _common_errors(container, FIELD + '.securityContext')
    for sysctl in pod.get('sysctls') or []:
        if _mapping(sysctl).get('name') not in SAFE_SYSCTLS:
            errors.append('%s.podSecurityContext.sysctls %s: %s (only the safe sysctls: %s)'
                          % (FIELD, _mapping(sysctl).get('name'), RESTRICTED, ', '.join(SAFE_SYSCTLS)))
    path = FIELD + '.securityContext'
    if container.get('privileged'):
        errors.append('%s.privileged: true: %s. Remove it' % (path, RESTRICTED))
    if container.get('allowPrivilegeEscalation'):
        errors.append('%s.allowPrivilegeEscalation: true: %s. Remove it' % (path, RESTRICTED))
    added = [c for c in _mapping(container.get('capabilities')).get('add') or [] if c != 'NET_BIND_SERVICE']
    if added:
        errors.append('%s.capabilities.add %s: %s (NET_BIND_SERVICE only)' % (path, ', '.join(added), RESTRICTED))
    if container.get('procMount') not in (None, 'Default'):
        errors.append('%s.procMount %s: %s' % (path, container['procMount'], RESTRICTED))
    if container.get('readOnlyRootFilesystem'):
        errors.append('%s.readOnlyRootFilesystem: true would stop the bench: Frappe writes its logs under '
                      '/home/frappe/frappe-bench/logs and the image\'s entrypoint links the assets into sites/ '
                      'on the image\'s own filesystem. Remove it' % path)
    return errors


def security_contexts(spec, uid):
    """{'pod': ..., 'container': ...}: the restricted contexts for the image's `uid` with spec.security's fields on
    top (validated by security_errors first). Capabilities always drop ALL, whatever else is dropped or added."""
    security = _mapping(_mapping(spec).get('security'))
    pod = restricted_pod(uid)
    pod.update(copy.deepcopy(_mapping(security.get('podSecurityContext'))))
    container = restricted_container()
    own = copy.deepcopy(_mapping(security.get('securityContext')))
    capabilities = _mapping(own.pop('capabilities', None))
    container.update(own)
    container['capabilities'] = dict(capabilities, drop=sorted(set(['ALL'] + list(capabilities.get('drop') or []))))
    return {'pod': pod, 'container': container}
