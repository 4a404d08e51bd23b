# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the pods of a bench may run: spec.podConfig, the sites volume's node, and spread across nodes and zones.

spec.podConfig is the Go frappe-operator's PodConfig (api/v1/shared_types.go):
labels, nodeSelector, affinity, tolerations and geoTag ({region, zone}, the
well-known topology labels of a node). It applies to every pod of the bench:
its Deployments, the Redis StatefulSets and every Job run on it (the site,
backup, restore and migration Jobs read it from the bench).

A ReadWriteOnce sites volume attaches to one node, so every pod that mounts it
must go to the node of the others: a required podAffinity term joins the
user's affinity. Gunicorn, nginx and the workers spread across nodes and zones
(soft constraints: a node or zone without room still takes the pod, and nodes
without the zone label are left out of that count) when the volume is
ReadWriteMany; on a ReadWriteOnce volume they share one node anyway.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput, refuse_unknown
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_security import (
    security_contexts, security_errors)

FIELD = 'spec.podConfig'
# The label of every pod that mounts a ReadWriteOnce sites volume, valued with the claim's name: the required pod
# affinity to it keeps them on the node the volume is attached to.
SITES_NODE_LABEL = 'vyogo.tech/sites-volume'
HOSTNAME = 'kubernetes.io/hostname'
ZONE = 'topology.kubernetes.io/zone'
REGION = 'topology.kubernetes.io/region'
GEO_LABELS = {'region': REGION, 'zone': ZONE}
# The bench processes spread over nodes and zones; the others are one replica each.
SPREAD = ('gunicorn', 'nginx')
AFFINITY_KINDS = ('nodeAffinity', 'podAffinity', 'podAntiAffinity')
TOLERATION_FIELDS = ('key', 'operator', 'value', 'effect', 'tolerationSeconds')
TOLERATION_OPERATORS = ('Exists', 'Equal')
TOLERATION_EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')
# apimachinery's qualified name and label value.
_NAME = r'([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]'
LABEL_KEY = re.compile(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?%s$' % _NAME)
LABEL_VALUE = re.compile(r'^(%s)?$' % _NAME)


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _labels(value, path, reserved=()):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput('%s must be a mapping of label name to value, got %r' % (path, value))
    for key, item in value.items():
        if not isinstance(key, str) or len(key.rpartition('/')[0]) > 253 or not LABEL_KEY.match(key):
            raise InvalidInput('%s: %r is not a label name (an optional DNS prefix and "/", then at most 63 letters, '
                               'digits, "-", "_" or ".")' % (path, key))
        if not isinstance(item, str) or not LABEL_VALUE.match(item):
            raise InvalidInput('%s.%s must be a label value (a string of at most 63 letters, digits, "-", "_" or '
                               '"."; quote numbers and booleans), got %r' % (path, key, item))
        if key in reserved:
            raise InvalidInput('%s.%s is set by the collection on every pod of the bench (it selects them): remove '
                               'it from %s' % (path, key, path))
    return dict(value)


def _tolerations(value, path):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput('%s must be a list of tolerations, got %r' % (path, value))
    for index, item in enumerate(value):
        where = '%s[%d]' % (path, index)
        if not isinstance(item, dict):
            raise InvalidInput('%s must be a mapping {key, operator, value, effect}, got %r' % (where, item))
        refuse_unknown(where, item, TOLERATION_FIELDS)
        if item.get('operator') not in (None,) + TOLERATION_OPERATORS:
            raise InvalidInput('%s.operator must be Exists or Equal, got %r' % (where, item['operator']))
        if item.get('effect') not in (None, '') + TOLERATION_EFFECTS:
            raise InvalidInput('%s.effect must be one of %s (or left out for all), got %r'
                               % (where, ', '.join(TOLERATION_EFFECTS), item['effect']))
        if item.get('operator') == 'Exists' and item.get('value'):
            raise InvalidInput('%s.value must be empty with operator Exists: remove it or use operator Equal' % where)
        if item.get('tolerationSeconds') is not None and item.get('effect') != 'NoExecute':
            raise InvalidInput('%s.tolerationSeconds only applies to effect NoExecute' % where)
    return copy.deepcopy(value)


def _affinity(value, path):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput('%s must be a mapping with nodeAffinity, podAffinity and/or podAntiAffinity, got %r'
                           % (path, value))
    refuse_unknown(path, value, AFFINITY_KINDS)
    for kind, block in value.items():
        if block is not None and not isinstance(block, dict):
            raise InvalidInput('%s.%s must be a mapping, got %r' % (path, kind, block))
    return copy.deepcopy(dict((k, v) for k, v in value.items() if v))


def pod_config(spec, reserved_labels=()):
    """spec.podConfig validated: {labels, nodeSelector, affinity, tolerations}, geoTag folded into nodeSelector.

    reserved_labels: the labels the collection selects the bench's pods by, which podConfig may not set."""
    config = _mapping(spec).get('podConfig')
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise InvalidInput('%s must be a mapping {labels, nodeSelector, affinity, tolerations, geoTag}, got %r'
                           % (FIELD, config))
    refuse_unknown(FIELD, config, ('labels', 'nodeSelector', 'affinity', 'tolerations', 'geoTag'))
    node_selector = _labels(config.get('nodeSelector'), FIELD + '.nodeSelector')
    geo = config.get('geoTag')
    if geo is not None:
        if not isinstance(geo, dict) or any(k not in GEO_LABELS for k in geo):
            raise InvalidInput('%s.geoTag must be a mapping {region, zone}, got %r' % (FIELD, geo))
        for key, label in GEO_LABELS.items():
            if geo.get(key):
                _labels({label: geo[key]}, '%s.geoTag' % FIELD)
                if node_selector.get(label, geo[key]) != geo[key]:
                    raise InvalidInput('%s.geoTag.%s (%s) and %s.nodeSelector["%s"] (%s) disagree: keep one'
                                       % (FIELD, key, geo[key], FIELD, label, node_selector[label]))
                node_selector[label] = geo[key]
    return {
        'labels': _labels(config.get('labels'), FIELD + '.labels', reserved_labels),
        'nodeSelector': node_selector,
        'affinity': _affinity(config.get('affinity'), FIELD + '.affinity'),
        'tolerations': _tolerations(config.get('tolerations'), FIELD + '.tolerations'),
    }


def with_volume_node(affinity, node_label, claim):
    """`affinity` with the required podAffinity term that puts a pod mounting a ReadWriteOnce volume on the node of
    the other pods that mount it (the first one matches itself)."""
    merged = copy.deepcopy(affinity or {})
    pod_affinity = merged.setdefault('podAffinity', {})
    terms = pod_affinity.setdefault('requiredDuringSchedulingIgnoredDuringExecution', [])
    terms.append({'labelSelector': {'matchLabels': {node_label: claim}}, 'topologyKey': HOSTNAME})
    return merged


def spread_constraints(selector):
    """Soft spread of the pods `selector` matches over nodes, then zones."""
    return [{'maxSkew': 1, 'topologyKey': key, 'whenUnsatisfiable': 'ScheduleAnyway',
             'labelSelector': {'matchLabels': dict(selector)}} for key in (HOSTNAME, ZONE)]


def placement(config, affinity):
    """The pod spec fields of a placement: nodeSelector, affinity and tolerations, those that are set."""
    fields = {'nodeSelector': config['nodeSelector'], 'affinity': affinity, 'tolerations': config['tolerations']}
    return dict((k, v) for k, v in fields.items() if v)


def site_job_pods(bench, uid, site=None):
    """{labels, placement, security} of a Job a site runs on the sites volume of `bench` (the FrappeBench object,
    with the access mode its reconcile published) as the image's `uid`: the site's spec.podConfig, else the bench's
    (the Go operator's site podConfig is for the site's Jobs), the volume's node on a ReadWriteOnce volume, and the
    security contexts of the bench's pods (pod_security.py). A podConfig or security refused where it is written
    (the status says why) adds nothing."""
    bench = _mapping(bench)
    spec = _mapping(bench.get('spec'))
    own = _mapping(_mapping(site).get('spec')).get('podConfig')
    try:
        config = pod_config({'podConfig': own} if own else spec)
    except InvalidInput:
        config = {'labels': {}, 'nodeSelector': {}, 'affinity': {}, 'tolerations': []}
    security = security_contexts({} if security_errors(spec) else spec, int(uid))
    status = _mapping(bench.get('status'))
    affinity = config['affinity']
    labels = dict(config['labels'])
    if status.get('sitesAccessMode') == 'ReadWriteOnce' and status.get('sitesClaim'):
        affinity = with_volume_node(affinity, SITES_NODE_LABEL, status['sitesClaim'])
        labels[SITES_NODE_LABEL] = status['sitesClaim']
    return {'labels': labels, 'placement': placement(config, affinity), 'security': security}
