# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is wrong with a FrappeBench before anything is written; docs in bench_spec_errors.yml.

The limits and patterns here are the single source of truth; the FrappeBench
CRD repeats them as CEL rules and OpenAPI patterns (checked at admission), and
tests/unit/plugins/filter/test_bench_spec_errors.py keeps both in step. The
role runs the same checks, so render mode and clusters with an older CRD
refuse the same manifests before the first write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.vyogotech.frappe.plugins.filter.k8s_quantity import k8s_quantity
from ansible_collections.vyogotech.frappe.plugins.plugin_utils import job_resources
from ansible.errors import AnsibleFilterError

# The longest name derived from a bench name: KEDA names the HPA of the default
# worker's ScaledObject keda-hpa-<bench>-worker-default and puts that name in
# the HPA's app.kubernetes.io/name label, whose value may hold 63 characters.
LONGEST_DERIVED_PREFIX = 'keda-hpa-'
LONGEST_DERIVED_SUFFIX = '-worker-default'
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
IMAGE_TAG_PATTERN = r'^%s$' % _TAG
IMAGE_REFERENCE_PATTERN = r'^%s?%s(?:/%s)*(?::%s)?(?:@%s)?$' % (
    _DOMAIN, _PATH_COMPONENT, _PATH_COMPONENT, _TAG, _DIGEST)

# Quantities that size something and so must be more than zero.
POSITIVE_QUANTITIES = ('storageSize', 'redisConfig.maxMemory', 'redisConfig.storageSize')
RESOURCE_OWNERS = ('componentResources.gunicorn', 'componentResources.nginx', 'componentResources.scheduler',
                   'componentResources.socketio', 'componentResources.workerDefault',
                   'componentResources.workerLong', 'componentResources.workerShort', 'redisConfig.resources') + tuple(
    'jobResources.%s' % kind for kind in ('default',) + job_resources.KINDS)


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
    except AnsibleFilterError as exc:
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
                'at most 128, not starting with "." or "-"): for example v15.45.0' % (tag,))
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
    errors.extend(job_resources.job_resources_errors(spec))
    return errors


class FilterModule(object):
    def filters(self):
        return {'bench_spec_errors': bench_spec_errors}
