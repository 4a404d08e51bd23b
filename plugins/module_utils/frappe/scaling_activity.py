# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a KEDA-managed worker has the replicas it has.

worker_scaling_activity reads a worker's ScaledObject (its Ready and Active
conditions, status.triggersActivity) and the HorizontalPodAutoscaler KEDA made
for it (the backlog KEDA last saw, per replica times the replicas);
keda_scaler_errors names the workers whose ScaledObject is Ready=False
(TriggerError, ScaledObjectCheckFailed), which then run static replicas.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.quantity import quantity_decimal

# KEDA names the external metric of trigger i "s<i>-<scaler metric name>".
_METRIC_INDEX = re.compile(r'^s(\d+)-')


def _condition(obj, kind):
    for condition in ((obj or {}).get('status') or {}).get('conditions') or []:
        if condition.get('type') == kind:
            return condition
    return None


def _trigger_names(scaledobject):
    """{external metric name: trigger name} of a ScaledObject."""
    triggers = (scaledobject.get('spec') or {}).get('triggers') or []
    names = {}
    for metric in (scaledobject.get('status') or {}).get('externalMetricNames') or []:
        match = _METRIC_INDEX.match(metric)
        index = int(match.group(1)) if match else -1
        names[metric] = triggers[index].get('name') or metric if 0 <= index < len(triggers) else metric
    return names


def _metric_total(hpa, metric):
    """What KEDA last reported for `metric` across the HPA's replicas; None when it holds none."""
    status = (hpa or {}).get('status') or {}
    replicas = int(status.get('currentReplicas') or 0)
    for current in status.get('currentMetrics') or []:
        external = current.get('external') or {}
        if (external.get('metric') or {}).get('name') != metric:
            continue
        value = external.get('current') or {}
        if value.get('value') is not None:
            return int(round(quantity_decimal(value['value'])))
        if value.get('averageValue') is not None and replicas:
            # KEDA's Redis triggers use AverageValue: the HPA holds the backlog per replica.
            return int(round(quantity_decimal(value['averageValue']) * replicas))
    return None


def worker_scaling_activity(scaledobject, hpa=None):
    """KEDA's view of one worker: ready, active, the active triggers and the waiting backlog."""
    if not scaledobject:
        return {'ready': None, 'active': None, 'reason': 'NoScaledObject', 'message': '',
                'activeTriggers': [], 'backlog': None}
    ready = _condition(scaledobject, 'Ready') or {}
    active = _condition(scaledobject, 'Active') or {}
    names = _trigger_names(scaledobject)
    activity = (scaledobject.get('status') or {}).get('triggersActivity') or {}
    active_triggers = sorted(names.get(metric, metric) for metric, state in activity.items()
                             if (state or {}).get('isActive'))
    backlog = None
    for metric, trigger in names.items():
        if trigger.endswith('-waiting'):
            total = _metric_total(hpa, metric)
            if total is not None:
                backlog = (backlog or 0) + total

    def state(condition):
        return {'True': True, 'False': False}.get(condition.get('status'))
    return {
        'ready': state(ready),
        'active': state(active),
        'reason': ready.get('reason') or '',
        'message': ready.get('message') or '' if state(ready) is False else '',
        'activeTriggers': active_triggers,
        'backlog': backlog,
    }


def keda_scaler_errors(scaledobjects):
    """{worker type: "<reason>: <message>"} for each worker ScaledObject KEDA reports not Ready."""
    errors = {}
    for scaledobject in scaledobjects or []:
        component = (((scaledobject or {}).get('metadata') or {}).get('labels') or {}).get('app.kubernetes.io/component', '')
        if not component.startswith('worker-'):
            continue
        activity = worker_scaling_activity(scaledobject)
        if activity['ready'] is False:
            reason = activity['reason'] or 'NotReady'
            errors[component[len('worker-'):]] = '%s: %s' % (reason, activity['message'] or 'no message')
    return errors
