# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many of each bench process run, who decides, and what a drain may take: spec.componentAutoscaling.

spec.componentAutoscaling is the Go frappe-operator's field (api/v1,
ComponentAutoscaling), keyed by component:

- gunicorn, nginx: static replicas, or an autoscaler that owns the count:
  provider hpa, a HorizontalPodAutoscaler (autoscaling/v2) on CPU or memory
  utilisation; provider keda, a ScaledObject with a cpu or memory trigger when
  KEDA is available (static replicas and a warning when it is not). Never
  fewer than one replica.
- socketio: one replica. Frappe v15's realtime server keeps its rooms in the
  process (no socket.io adapter) and its browser client long-polls before it
  upgrades, so a second replica needs sticky sessions end to end, which
  nothing here provides yet.
- scheduler: one replica; a second would enqueue every scheduled job twice.
- worker-short, worker-long, worker-default: another spelling of
  spec.workerAutoscalingConfig.<type> (autoscaling.py owns the model and its
  defaults); the block is translated and handed over, never merged with the
  other spelling of the same worker.

WEB_DEFAULTS holds the web tier's defaults (the Go operator's kubebuilder
defaults); the CRD states none, so a worker key is not given a web default.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput, refuse_unknown

FIELD = 'spec.componentAutoscaling'
AUTOSCALED = ('gunicorn', 'nginx')
SINGLE = ('socketio', 'scheduler')
WORKER_KEYS = {'worker-short': 'short', 'worker-long': 'long', 'worker-default': 'default'}
KEYS = AUTOSCALED + SINGLE + tuple(WORKER_KEYS)
PROVIDERS = ('hpa', 'keda')
METRICS = ('cpu', 'memory')

WEB_DEFAULTS = {
    'enabled': False,
    'staticReplicas': 1,
    'minReplicas': 1,
    'maxReplicas': 10,
    'cooldownPeriod': 60,
    'pollingInterval': 30,
    'provider': 'hpa',
    'keda': {'trigger': 'cpu', 'targetValue': '70'},
    'hpa': {'metric': 'cpu', 'targetUtilization': 70, 'scaleUpStabilization': 0, 'scaleDownStabilization': 300},
}
INT_FIELDS = {'staticReplicas': 0, 'minReplicas': 1, 'maxReplicas': 1, 'cooldownPeriod': 0, 'pollingInterval': 1}
HPA_INT_FIELDS = {'targetUtilization': (1, 100), 'scaleUpStabilization': (0, 3600),
                  'scaleDownStabilization': (0, 3600)}
BLOCK_FIELDS = frozenset(list(INT_FIELDS) + ['enabled', 'provider', 'keda', 'hpa'])
# A PodDisruptionBudget (maxUnavailable 1) guards a component from this many replicas on: below it a budget could
# only hold a drain up.
BUDGET_FROM = 2
_INT = re.compile(r'^\s*[0-9]+\s*$')


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _int(value, path, minimum, maximum=None):
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _INT.match(value))):
        raise InvalidInput('%s must be a whole number, got %r: write for example %d' % (path, value, max(minimum, 1)))
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise InvalidInput('%s (%d) must be %s: set it within that range'
                           % (path, value, ('>= %d' % minimum) if maximum is None else ('%d to %d' % (minimum, maximum))))
    return value


def _section(spec):
    section = _mapping(spec).get('componentAutoscaling')
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidInput('%s must be a mapping keyed by component (%s), got %r' % (FIELD, ', '.join(KEYS), section))
    refuse_unknown(FIELD, section, KEYS, 'component(s)')
    out = {}
    for key, block in section.items():
        if block is None:
            continue
        path = '%s.%s' % (FIELD, key)
        if not isinstance(block, dict):
            raise InvalidInput('%s must be a mapping of scaling fields, got %r' % (path, block))
        refuse_unknown(path, block, sorted(BLOCK_FIELDS))
        if 'enabled' in block and block['enabled'] is not None and not isinstance(block['enabled'], bool):
            raise InvalidInput('%s.enabled must be true or false, got %r' % (path, block['enabled']))
        out[key] = block
    return out


def _web(key, block, legacy_replicas):
    """The resolved settings of gunicorn or nginx."""
    path = '%s.%s' % (FIELD, key)
    settings = copy.deepcopy(WEB_DEFAULTS)
    if block.get('enabled') is not None:
        settings['enabled'] = block['enabled']
    for field, minimum in INT_FIELDS.items():
        if block.get(field) is not None:
            settings[field] = _int(block[field], '%s.%s' % (path, field), minimum)
    if block.get('staticReplicas') is not None and legacy_replicas is not None \
            and settings['staticReplicas'] != legacy_replicas:
        raise InvalidInput('%s.staticReplicas (%d) and spec.componentReplicas.%s (%d) disagree: remove '
                           'spec.componentReplicas.%s, the older spelling'
                           % (path, settings['staticReplicas'], key, legacy_replicas, key))
    if block.get('staticReplicas') is None and legacy_replicas is not None:
        settings['staticReplicas'] = legacy_replicas
    provider = block.get('provider')
    if provider is not None:
        if provider not in PROVIDERS:
            raise InvalidInput('%s.provider must be hpa or keda, got %r' % (path, provider))
        settings['provider'] = provider
    keda, hpa = block.get('keda'), block.get('hpa')
    if keda is not None:
        if not isinstance(keda, dict):
            raise InvalidInput('%s.keda must be a mapping {trigger, targetValue}, got %r' % (path, keda))
        if keda.get('metadata'):
            raise InvalidInput('%s.keda.metadata is not taken for %s: its trigger is cpu or memory utilisation, '
                               'which needs none; remove it' % (path, key))
        refuse_unknown(path + '.keda', keda, ('trigger', 'targetValue', 'metadata'))
        if keda.get('trigger') is not None:
            if keda['trigger'] not in METRICS:
                raise InvalidInput('%s.keda.trigger must be cpu or memory for %s, got %r: a web process scales on '
                                   'its utilisation (the redis trigger is for workers)' % (path, key, keda['trigger']))
            settings['keda']['trigger'] = keda['trigger']
        if keda.get('targetValue') is not None:
            settings['keda']['targetValue'] = str(_int(keda['targetValue'], '%s.keda.targetValue' % path, 1, 100))
    if hpa is not None:
        if not isinstance(hpa, dict):
            raise InvalidInput('%s.hpa must be a mapping {metric, targetUtilization, ...}, got %r' % (path, hpa))
        refuse_unknown(path + '.hpa', hpa, ('metric',) + tuple(HPA_INT_FIELDS))
        if hpa.get('metric') is not None:
            if hpa['metric'] not in METRICS:
                raise InvalidInput('%s.hpa.metric must be cpu or memory, got %r' % (path, hpa['metric']))
            settings['hpa']['metric'] = hpa['metric']
        for field, (low, high) in HPA_INT_FIELDS.items():
            if hpa.get(field) is not None:
                settings['hpa'][field] = _int(hpa[field], '%s.hpa.%s' % (path, field), low, high)
    if settings['enabled'] and settings['minReplicas'] > settings['maxReplicas']:
        raise InvalidInput('%s.minReplicas (%d) must be <= maxReplicas (%d): lower minReplicas or raise maxReplicas'
                           % (path, settings['minReplicas'], settings['maxReplicas']))
    return settings


def _single(key, block, legacy_replicas):
    path = '%s.%s' % (FIELD, key)
    why = ("Frappe's realtime server keeps its rooms in the process and its client long-polls first, so a second "
           "replica needs sticky sessions end to end, which this collection does not set up"
           if key == 'socketio' else 'a second scheduler would enqueue every scheduled job twice')
    if block.get('enabled'):
        raise InvalidInput('%s.enabled cannot be true: %s runs one replica (%s). Remove %s.enabled'
                           % (path, key, why, path))
    for field in ('minReplicas', 'maxReplicas', 'provider', 'keda', 'hpa'):
        if block.get(field) is not None and not (field.endswith('Replicas') and str(block[field]).strip() == '1'):
            raise InvalidInput('%s.%s is not taken: %s runs one replica (%s). Remove it' % (path, field, key, why))
    replicas = legacy_replicas if legacy_replicas is not None else 1
    if block.get('staticReplicas') is not None:
        replicas = _int(block['staticReplicas'], '%s.staticReplicas' % path, 0)
    if replicas > 1:
        where = '%s.staticReplicas' % path if block.get('staticReplicas') is not None else 'spec.componentReplicas.%s' % key
        raise InvalidInput('%s (%d) must be 0 or 1: %s runs one replica (%s). Set it to 1' % (where, replicas, key, why))
    if key == 'scheduler' and replicas != 1:
        raise InvalidInput('%s.staticReplicas must be 1: every scheduled job of the bench\'s sites is enqueued by '
                           'the one scheduler. Set it to 1' % path)
    return {'staticReplicas': replicas}


def worker_blocks(spec):
    """{worker type: block of spec.workerAutoscalingConfig's shape} for the workers spelled
    spec.componentAutoscaling.worker-<type>, with only the fields the block sets (autoscaling.py merges its
    defaults and validates the values)."""
    blocks = {}
    for key, block in _section(spec).items():
        if key not in WORKER_KEYS:
            continue
        worker_type, path = WORKER_KEYS[key], '%s.%s' % (FIELD, key)
        if block.get('provider') not in (None, 'keda'):
            raise InvalidInput('%s.provider must be keda (or left out): a worker scales on its queue with KEDA, '
                               'not on CPU. Remove %s.provider' % (path, path))
        if block.get('hpa') is not None:
            raise InvalidInput('%s.hpa is not taken: a worker scales on its queue with KEDA. Remove it' % path)
        translated = dict((field, block[field]) for field in ('enabled',) + tuple(INT_FIELDS)
                          if block.get(field) is not None)
        keda = _mapping(block.get('keda'))
        if keda.get('trigger') not in (None, 'redis'):
            raise InvalidInput('%s.keda.trigger must be redis for a worker, got %r: it scales on the jobs waiting '
                               'in its queues' % (path, keda['trigger']))
        if keda.get('metadata'):
            raise InvalidInput('%s.keda.metadata is not taken: the Redis list of each queue is derived from the '
                               'bench (rq:queue:<benchId>:<queue>). Remove it; set the queues in '
                               'spec.workerAutoscalingConfig.%s.queues' % (path, worker_type))
        if keda.get('targetValue') is not None:
            # KEDA's listLength: the waiting jobs per replica.
            translated['queueLength'] = _int(keda['targetValue'], '%s.keda.targetValue' % path, 1)
        blocks[worker_type] = translated
    return blocks


def web_scaling(spec, keda_available):
    """{component: settings} of gunicorn, nginx, socketio and scheduler from a bench spec.

    Each: staticReplicas, enabled, provider, mode (autoscaled or static), providerManaged, replicas (what a new
    Deployment starts with), minReplicas, maxReplicas, the provider's block, budget (a PodDisruptionBudget is
    wanted) and warnings.
    """
    section = _section(spec)
    legacy = _mapping(_mapping(spec).get('componentReplicas'))
    out = {}
    for key in AUTOSCALED:
        legacy_replicas = None
        if legacy.get(key) is not None:
            legacy_replicas = _int(legacy[key], 'spec.componentReplicas.%s' % key, 0)
        settings = _web(key, _mapping(section.get(key)), legacy_replicas)
        warnings = []
        managed = settings['enabled'] and (settings['provider'] == 'hpa' or keda_available)
        if settings['enabled'] and not managed:
            warnings.append('KEDA is not available: %s runs %d static replica(s) instead of scaling %d-%d on %s; '
                            'install KEDA or set %s.%s.provider: hpa'
                            % (key, settings['staticReplicas'], settings['minReplicas'], settings['maxReplicas'],
                               settings['keda']['trigger'], FIELD, key))
        if not managed and settings['staticReplicas'] == 0:
            warnings.append('%s has 0 static replicas: the bench serves no request' % key)
        lowest = settings['minReplicas'] if managed else settings['staticReplicas']
        settings.update({
            'mode': 'autoscaled' if managed else 'static',
            'providerManaged': managed,
            'provider': settings['provider'] if managed else '',
            'replicas': settings['minReplicas'] if managed else settings['staticReplicas'],
            'budget': lowest >= BUDGET_FROM,
            'warnings': warnings,
        })
        out[key] = settings
    for key in SINGLE:
        legacy_replicas = None
        if key in legacy and legacy[key] is not None:
            legacy_replicas = _int(legacy[key], 'spec.componentReplicas.%s' % key, 0)
        settings = _single(key, _mapping(section.get(key)), legacy_replicas)
        settings.update({'enabled': False, 'mode': 'static', 'providerManaged': False, 'provider': '',
                         'replicas': settings['staticReplicas'], 'budget': False, 'warnings': []})
        out[key] = settings
    return out


def worker_budget(worker):
    """Whether a worker of the worker_autoscaling plan gets a PodDisruptionBudget: its lowest count is 2 or more."""
    lowest = worker['minReplicas'] if worker['mode'] == 'autoscaled' else worker['staticReplicas']
    return lowest >= BUDGET_FROM


def component_scaling_status(components, workers, deployments, names):
    """status.componentScaling (the Go operator's ComponentScalingStatus), keyed as spec.componentAutoscaling:
    mode, provider, currentReplicas (pods of the Deployment), desiredReplicas (what it is told to run: the
    autoscaler's count when one owns it) and providerManaged."""
    by_name = dict((d['metadata']['name'], d) for d in deployments or [])

    def counts(name):
        deployment = by_name.get(name) or {}
        return (int((deployment.get('status') or {}).get('replicas') or 0),
                int((deployment.get('spec') or {}).get('replicas') or 0))

    out = {}
    for key, settings in components.items():
        current, desired = counts(names['component'][key])
        out[key] = {'mode': settings['mode'], 'provider': settings['provider'], 'currentReplicas': current,
                    'desiredReplicas': desired, 'providerManaged': settings['providerManaged']}
    for key, worker_type in WORKER_KEYS.items():
        worker = workers[worker_type]
        current, desired = counts(names['worker'][worker_type])
        out[key] = {'mode': 'autoscaled' if worker['mode'] == 'autoscaled' else 'static',
                    'provider': 'keda' if worker['kedaManaged'] else '', 'currentReplicas': current,
                    'desiredReplicas': desired, 'providerManaged': worker['kedaManaged']}
    return out
