# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is wrong with a FrappeBench before anything is written.

The limits and patterns here are the single source of truth; the FrappeBench
CRD repeats them as CEL rules and OpenAPI patterns (checked at admission), and
tests/unit/plugins/module_utils/frappe/test_bench_spec_errors.py keeps both in step. The
role runs the same checks, so render mode and clusters with an older CRD
refuse the same manifests before the first write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.quantity import k8s_quantity
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import component_resources, job_resources, pod_security
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import worker_name
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

# The longest name derived from a bench name: KEDA names the HPA of the default
# worker's ScaledObject keda-hpa-<bench>-worker-default and puts that name in
# the HPA's app.kubernetes.io/name label, whose value may hold 63 characters.
LONGEST_DERIVED_PREFIX = 'keda-hpa-'
LONGEST_DERIVED_SUFFIX = worker_name('', 'default')
MAX_BENCH_NAME_LENGTH = 63 - len(LONGEST_DERIVED_PREFIX) - len(LONGEST_DERIVED_SUFFIX)

# Services are named after the bench, and a Service name is a DNS-1035 label.
DNS1035_LABEL = r'^[a-z]([-a-z0-9]*[a-z0-9])?$'

# The image reference grammar of github.com/distribution/reference, as the
# kubelet applies it: [registry[:port]/]path[:tag][@digest].
_DOMAIN_COMPONENT = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_DOMAIN = r'(?:%s(?:\.%s)*(?::[0-9]+)?/)' % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT)
_PATH_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
_TAG = r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'
_DIGEST = r'[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}'
IMAGE_REPOSITORY_PATTERN = r'^%s?%s(?:/%s)*$' % (_DOMAIN, _PATH_COMPONENT, _PATH_COMPONENT)
# A tag, and the digest it was pushed as when it is pinned (tag@sha256:...; the digest wins at the kubelet).
IMAGE_TAG_PATTERN = r'^%s(?:@%s)?$' % (_TAG, _DIGEST)
IMAGE_REFERENCE_PATTERN = r'^%s?%s(?:/%s)*(?::%s)?(?:@%s)?$' % (
    _DOMAIN, _PATH_COMPONENT, _PATH_COMPONENT, _TAG, _DIGEST)

# Quantities that size something and so must be more than zero.
POSITIVE_QUANTITIES = ('storageSize', 'redisConfig.maxMemory', 'redisConfig.storageSize')
RESOURCE_OWNERS = tuple('componentResources.%s' % key for key in component_resources.COMPONENTS) + (
    'redisConfig.resources',) + tuple('jobResources.%s' % kind for kind in ('default',) + job_resources.KINDS)


# Whom nginx believes about the client's address (ngx_http_realip_module),
# the bench's spec.nginx; frappe/helm's nginx.environment.upstreamRealIPAddress,
# upstreamRealIPHeader and upstreamRealIPRecursive, which become frappe_docker's
# UPSTREAM_REAL_IP_* (default 127.0.0.1, X-Forwarded-For, off). The default here
# is right behind an ingress controller in the cluster: the private ranges pod
# networks use (RFC 1918, RFC 6598 shared space, IPv6 unique local) and
# loopback, searched recursively, so the first untrusted address from the right
# of X-Forwarded-For is the client.
REAL_IP_DEFAULTS = {
    'upstreamRealIPAddresses': ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7',
                                '127.0.0.1', '::1'],
    'upstreamRealIPHeader': 'X-Forwarded-For',
    'upstreamRealIPRecursive': True,
}
# A request header name (RFC 9110 token characters nginx accepts in real_ip_header).
HEADER_NAME = r'^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'
# What the CRD admits before the role's exact check (ipaddress): an IPv4 or IPv6
# address with an optional prefix length.
ADDRESS_PATTERN = r'^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$'


def bench_real_ip(spec):
    """spec.nginx's real-IP settings over REAL_IP_DEFAULTS (an empty list or an unset field takes the default)."""
    nginx = (spec or {}).get('nginx') or {}
    merged = dict(REAL_IP_DEFAULTS)
    for key in REAL_IP_DEFAULTS:
        if nginx.get(key) not in (None, '', []):
            merged[key] = nginx[key]
    return merged


def _real_ip_errors(spec, errors):
    nginx = spec.get('nginx')
    if nginx is None:
        return
    if not isinstance(nginx, dict):
        errors.append('spec.nginx must be an object, got %r' % (nginx,))
        return
    addresses = nginx.get('upstreamRealIPAddresses')
    if addresses is not None and not isinstance(addresses, list):
        errors.append('spec.nginx.upstreamRealIPAddresses must be a list of addresses or CIDR ranges, got %r'
                      % (addresses,))
        addresses = []
    for index, address in enumerate(addresses or []):
        path = 'spec.nginx.upstreamRealIPAddresses[%d]' % index
        try:
            if '/' in str(address):
                ipaddress.ip_network(str(address), strict=True)
            else:
                ipaddress.ip_address(str(address))
        except ValueError as exc:
            fix = ''
            try:
                fix = ' (did you mean %s?)' % ipaddress.ip_network(str(address), strict=False)
            except ValueError:
                pass
            errors.append('%s %r is not an IP address or CIDR range: %s%s; for example 10.0.0.0/8'
                          % (path, address, exc, fix))
    header = nginx.get('upstreamRealIPHeader')
    if header is not None and not re.match(HEADER_NAME, str(header)):
        errors.append('spec.nginx.upstreamRealIPHeader %r is not a header name (letters, digits, "-" and "_", at '
                      'most 64): for example X-Forwarded-For' % (header,))
    recursive = nginx.get('upstreamRealIPRecursive')
    if recursive is not None and not isinstance(recursive, bool):
        errors.append('spec.nginx.upstreamRealIPRecursive must be true or false, got %r' % (recursive,))


def _get(spec, dotted):
    value = spec
    for part in dotted.split('.'):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    return value


def _quantity(value, path, errors):
    try:
        return k8s_quantity(value, path)
    except InvalidInput as exc:
        errors.append(str(exc))
        return None


def bench_spec_errors(bench):
    """Every problem of a FrappeBench object that would make an apply fail halfway or a pod never start."""
    if not isinstance(bench, dict):
        return ['the FrappeBench must be an object with metadata and spec, got %s' % type(bench).__name__]
    errors = []
    name = (bench.get('metadata') or {}).get('name') or ''
    if len(name) > MAX_BENCH_NAME_LENGTH:
        errors.append(
            'metadata.name %r has %d characters, at most %d fit: KEDA names the default worker\'s '
            'HorizontalPodAutoscaler %s<name>%s and uses that as a 63-character label value; choose a shorter name'
            % (name, len(name), MAX_BENCH_NAME_LENGTH, LONGEST_DERIVED_PREFIX, LONGEST_DERIVED_SUFFIX))
    if not re.match(DNS1035_LABEL, name):
        errors.append(
            'metadata.name %r must be a DNS-1035 label (lower-case letters, digits and "-", starting with a '
            'letter and not ending with "-"): the bench\'s Services are named after it' % name)

    spec = bench.get('spec') or {}
    image = spec.get('imageConfig') or {}
    repository = image.get('repository')
    if repository is not None and not re.match(IMAGE_REPOSITORY_PATTERN, str(repository)):
        errors.append(
            'spec.imageConfig.repository %r is not an image repository a kubelet accepts '
            '(lower-case path components, an optional registry host[:port]/, no tag): for example '
            'docker.io/frappe/erpnext' % (repository,))
    tag = image.get('tag')
    if tag not in (None, ''):
        if not re.match(IMAGE_TAG_PATTERN, str(tag)):
            errors.append(
                'spec.imageConfig.tag %r is not an image tag (letters, digits, "_", "." and "-", '
                'at most 128, not starting with "." or "-"; optionally @ and its digest): for example v15.45.0 or '
                'v15.45.0@sha256:<64 hex digits>' % (tag,))
    elif not re.match(IMAGE_TAG_PATTERN, str(spec.get('frappeVersion', ''))):
        errors.append(
            'spec.frappeVersion %r is used as the image tag because spec.imageConfig.tag is not set, but it is '
            'not an image tag: set spec.imageConfig.tag (for example v15.45.0)' % (spec.get('frappeVersion'),))
    redis_image = _get(spec, 'redisConfig.image')
    if redis_image is not None and not re.match(IMAGE_REFERENCE_PATTERN, str(redis_image)):
        errors.append(
            'spec.redisConfig.image %r is not an image reference a kubelet accepts: for example '
            'docker.io/library/redis:7.4.2-alpine' % (redis_image,))

    for path in POSITIVE_QUANTITIES:
        value = _get(spec, path)
        if value is not None:
            number = _quantity(value, 'spec.' + path, errors)
            if number is not None and number <= 0:
                errors.append('spec.%s must be more than 0, got %r' % (path, value))
    for owner in RESOURCE_OWNERS:
        resources = _get(spec, owner) or {}
        for kind in ('requests', 'limits'):
            for resource, value in sorted((resources.get(kind) or {}).items()):
                path = 'spec.%s.%s.%s' % (owner, kind, resource)
                if value is None:
                    continue
                text = str(value).strip()
                if text.startswith('-'):
                    errors.append('%s must not be negative, got %r' % (path, value))
                else:
                    _quantity(value, path, errors)
    errors.extend(component_resources.component_resources_errors(spec))
    errors.extend(pod_security.security_errors(spec))
    errors.extend(job_resources.job_resources_errors(spec))
    _real_ip_errors(spec, errors)
    return errors


def require_bench_object(bench):
    """Raise InvalidInput unless `bench` is a FrappeBench with metadata.name, metadata.namespace and
    spec.frappeVersion: what a reconcile needs before it reads or plans anything (the role's
    _vyogo_tech_frappebench)."""
    bench = bench if isinstance(bench, dict) else {}
    meta = bench.get('metadata') if isinstance(bench.get('metadata'), dict) else {}
    spec = bench.get('spec') if isinstance(bench.get('spec'), dict) else None
    # spec.version: the Go operator's older spelling (go_operator_fields.py).
    version = (spec or {}).get('frappeVersion') or (spec or {}).get('version')
    if (bench.get('kind') != 'FrappeBench' or not meta.get('name') or not meta.get('namespace') or spec is None
            or version is None or not str(version)):
        raise InvalidInput(
            '_vyogo_tech_frappebench must be a FrappeBench object with metadata.name, metadata.namespace and '
            'spec.frappeVersion (or its older spelling spec.version) set; got kind %s.' % (bench.get('kind') or '(none)'))
