# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU and memory of the long-running containers of a bench: the one place they come from.

A FrappeBench sets them in spec.componentResources, shaped like the Go
frappe-operator's ComponentResources (api/v1/shared_types.go): an entry per
component, each {requests, limits}; Redis takes spec.redisConfig.resources.
An entry replaces the built-in sizing below whole, as spec.jobResources does
(job_resources.py), so what it leaves out Kubernetes defaults (a limit without
a request is also the request). Without an entry every container still has
requests: the scheduler places it where that much is free, and a node under
pressure evicts the containers above their requests first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.autoscaling import LEGACY_REPLICA_FIELDS
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.quantity import requests_above_limits

FIELD = 'spec.componentResources'
# The componentResources key of each worker type (the Go operator's field names), those of componentReplicas.
WORKER_KEYS = LEGACY_REPLICA_FIELDS
COMPONENTS = ('gunicorn', 'nginx', 'socketio', 'scheduler') + tuple(WORKER_KEYS.values())

# Built-in sizing: the Go operator's DefaultComponentResources (small to
# medium sites), except the workers' memory limits. docs/FRAPPEBENCH.md
# ("Resources") says how to size for more.
DEFAULTS = {
    # frappe_docker's gunicorn: 2 processes of 4 threads with Frappe and the
    # apps preloaded, a few hundred MiB each once warm.
    'gunicorn': {'requests': {'cpu': '100m', 'memory': '256Mi'},
                 'limits': {'cpu': '1', 'memory': '1Gi'}},
    'nginx': {'requests': {'cpu': '50m', 'memory': '64Mi'},
              'limits': {'cpu': '200m', 'memory': '256Mi'}},
    # Node's realtime server: one process, one connection per open desk tab.
    'socketio': {'requests': {'cpu': '50m', 'memory': '64Mi'},
                 'limits': {'cpu': '200m', 'memory': '256Mi'}},
    # bench schedule only enqueues; the workers run the jobs.
    'scheduler': {'requests': {'cpu': '50m', 'memory': '128Mi'},
                  'limits': {'cpu': '500m', 'memory': '512Mi'}},
    # An RQ worker forks a work horse per job that imports what the job needs:
    # a data import or a report of ERPNext grows far past the Go operator's
    # 256Mi/512Mi, so every worker may use 1Gi.
    'workerShort': {'requests': {'cpu': '50m', 'memory': '128Mi'},
                    'limits': {'cpu': '500m', 'memory': '1Gi'}},
    'workerDefault': {'requests': {'cpu': '100m', 'memory': '256Mi'},
                      'limits': {'cpu': '500m', 'memory': '1Gi'}},
    'workerLong': {'requests': {'cpu': '100m', 'memory': '256Mi'},
                   'limits': {'cpu': '1', 'memory': '1Gi'}},
}

# The in-cluster Redis: requests only. The cache is bounded by its maxmemory
# (spec.redisConfig.maxMemory) and the queue by its jobs, so a fixed memory
# limit would kill one that was configured larger.
REDIS_FIELD = 'spec.redisConfig.resources'
REDIS_DEFAULT = {'requests': {'cpu': '50m', 'memory': '64Mi'}}


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _sized(entry, default):
    if isinstance(entry, dict) and (entry.get('requests') or entry.get('limits')):
        return dict((part, dict(entry[part])) for part in ('requests', 'limits') if entry.get(part))
    return copy.deepcopy(default)


def component_resources(spec):
    """{component key: {requests, limits}} for every key of COMPONENTS and 'redis', from a bench spec."""
    configured = _mapping(_mapping(spec).get('componentResources'))
    sized = dict((key, _sized(configured.get(key), DEFAULTS[key])) for key in COMPONENTS)
    sized['redis'] = _sized(_mapping(_mapping(spec).get('redisConfig')).get('resources'), REDIS_DEFAULT)
    return sized


def component_resources_errors(spec):
    """A request above its limit in spec.componentResources or spec.redisConfig.resources: Kubernetes refuses the
    pod, so the Deployment would never roll. Quantities that do not parse are left to bench_spec_errors."""
    spec = _mapping(spec)
    entries = [('%s.%s' % (FIELD, key), _mapping(_mapping(spec.get('componentResources')).get(key)))
               for key in COMPONENTS]
    entries.append((REDIS_FIELD, _mapping(_mapping(spec.get('redisConfig')).get('resources'))))
    return [error for path, entry in entries for error in requests_above_limits(path, entry, 'it')]
