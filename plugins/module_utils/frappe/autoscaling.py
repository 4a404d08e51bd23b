# -*- coding: utf-8 -*-
# Copyright (c) vyogotech maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resolve the RQ worker scaling plan of a FrappeBench.

Per worker type (short, long, default) the settings come from
spec.workerAutoscalingConfig.<type>, or its Go-operator spelling
spec.componentAutoscaling.worker-<type> (never both), else the deprecated
spec.workerAutoscaling.<type>, else DEFAULTS; the legacy
spec.componentReplicas.worker<Type> sets only staticReplicas, and only when
neither block exists. A worker is scaled by KEDA only when its block is
enabled and KEDA is available; otherwise it runs staticReplicas and a warning
says why. Invalid input raises InvalidInput naming the field and the fix.

``DEFAULTS`` below is the single Python source of truth for the per-worker
defaults.  The FrappeBench CRD repeats them as OpenAPI ``default:`` values
(the API server applies them); a unit test keeps both in step, together
with ``MINIMUMS`` and the schema's ``minimum:`` values.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.component_scaling import (
    FIELD as COMPONENT_FIELD, WORKER_KEYS as COMPONENT_KEYS, worker_blocks)

WORKER_TYPES = ('short', 'long', 'default')

# Per worker type defaults.  Keys are the fields of a worker block in
# spec.workerAutoscalingConfig.<type> (and the deprecated
# spec.workerAutoscaling.<type>), except ``queues`` whose default is
# ``[<type>]`` (see DEFAULT_QUEUES).
DEFAULTS = {
    'short': {
        'enabled': True,
        'minReplicas': 0,
        'maxReplicas': 10,
        'queueLength': 5,
        'cooldownPeriod': 60,
        'pollingInterval': 30,
        'staticReplicas': 1,
    },
    'long': {
        'enabled': True,
        'minReplicas': 0,
        'maxReplicas': 5,
        'queueLength': 2,
        'cooldownPeriod': 300,
        'pollingInterval': 30,
        'staticReplicas': 1,
    },
    'default': {
        'enabled': False,
        'minReplicas': 0,
        'maxReplicas': 10,
        'queueLength': 5,
        'cooldownPeriod': 60,
        'pollingInterval': 30,
        'staticReplicas': 1,
    },
}

# Smallest accepted value of every integer field of a worker block.
MINIMUMS = {
    'minReplicas': 0,
    'maxReplicas': 1,
    'queueLength': 1,
    'cooldownPeriod': 0,
    'pollingInterval': 1,
    'staticReplicas': 0,
    # No static default: it follows the worker's queues (see GRACE_PERIOD_MARGIN).
    'terminationGracePeriodSeconds': 0,
}

INT_FIELDS = tuple(MINIMUMS)
BOOL_FIELDS = ('enabled',)
ALLOWED_BLOCK_KEYS = frozenset(INT_FIELDS + BOOL_FIELDS + ('queues',))

# Queues a worker consumes when the block does not list any.
DEFAULT_QUEUES = {worker_type: [worker_type] for worker_type in WORKER_TYPES}

# Frappe's default RQ job timeouts (seconds) per queue name, and the timeout
# of a queue declared under ``workers`` in common_site_config.json without
# one (frappe/utils/background_jobs.py, get_queues_timeout, version-15).
JOB_TIMEOUTS = {'short': 300, 'default': 300, 'long': 1500}
DEFAULT_QUEUE_TIMEOUT = 300

# spec.queues: the queues the bench declares to Frappe, name -> {timeout}.
# The configuration Job writes them as the ``workers`` key of
# common_site_config.json: Frappe's validate_queue accepts no other queue
# than short, default, long and those keys (on enqueue and for
# ``bench worker --queue``).
QUEUES_FIELD = 'queues'

# Seconds added to the job timeout for terminationGracePeriodSeconds, so a
# worker told to stop (RQ warm shutdown on SIGTERM) can finish its job.
GRACE_PERIOD_MARGIN = 60

# Legacy per-worker replica fields in spec.componentReplicas.
LEGACY_REPLICA_FIELDS = {
    'short': 'workerShort',
    'long': 'workerLong',
    'default': 'workerDefault',
}

CONFIG_FIELD = 'workerAutoscalingConfig'
DEPRECATED_FIELD = 'workerAutoscaling'

NAME_PATTERN = r'^[A-Za-z0-9_.-]+$'
_NAME_RE = re.compile(NAME_PATTERN)
_INT_STRING_RE = re.compile(r'^\s*[-+]?[0-9]+\s*$')


def _type_name(value):
    return type(value).__name__


def _as_int(value, path):
    """Return ``value`` as an int.

    Booleans are rejected (``True`` is an int in Python but never a replica
    count).  Strings holding a whole number, as extra vars and AWX surveys
    sometimes deliver them, are converted.
    """
    if isinstance(value, bool):
        raise InvalidInput(
            '%s must be an integer, got boolean %r: write a whole number such as 1'
            % (path, value))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_STRING_RE.match(value):
        return int(value.strip())
    raise InvalidInput(
        '%s must be an integer, got %s %r: write a whole number such as 1'
        % (path, _type_name(value), value))


def _check_minimum(value, minimum, path):
    if value < minimum:
        raise InvalidInput(
            '%s (%d) must be >= %d: set it to %d or more'
            % (path, value, minimum, minimum))


def _as_queues(value, path):
    if not isinstance(value, list) or not value:
        raise InvalidInput(
            '%s must be a non-empty list of queue names, got %s %r: '
            'list at least one queue, or remove the field to use the default'
            % (path, _type_name(value), value))
    seen = set()
    queues = []
    for index, queue in enumerate(value):
        item_path = '%s[%d]' % (path, index)
        if not isinstance(queue, str) or not queue:
            raise InvalidInput(
                '%s must be a non-empty string, got %s %r: write a queue name such as short'
                % (item_path, _type_name(queue), queue))
        if not _NAME_RE.match(queue):
            raise InvalidInput(
                '%s (%r) must match %s: use letters, digits, "_", "." or "-" only'
                % (item_path, queue, NAME_PATTERN))
        if queue in seen:
            raise InvalidInput(
                '%s (%r) is listed twice: remove the duplicate' % (item_path, queue))
        seen.add(queue)
        queues.append(queue)
    return queues


def _get_section(spec, field):
    """Return spec.<field> as a dict keyed by worker type ({} when absent)."""
    path = 'spec.%s' % field
    section = spec.get(field)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidInput(
            '%s must be a mapping with keys short, long and/or default, got %s %r'
            % (path, _type_name(section), section))
    unknown = sorted(str(key) for key in section if key not in WORKER_TYPES)
    if unknown:
        raise InvalidInput(
            '%s has unknown worker type(s) %s: use short, long and/or default'
            % (path, ', '.join(unknown)))
    blocks = {}
    for worker_type in WORKER_TYPES:
        block = section.get(worker_type)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise InvalidInput(
                '%s.%s must be a mapping of scaling fields, got %s %r'
                % (path, worker_type, _type_name(block), block))
        blocks[worker_type] = block
    return blocks


def _resolve_block(worker_type, block, path):
    """Merge a worker block over DEFAULTS and validate every field."""
    unknown = sorted(str(key) for key in block if key not in ALLOWED_BLOCK_KEYS)
    if unknown:
        raise InvalidInput(
            '%s has unknown field(s) %s: allowed fields are %s'
            % (path, ', '.join(unknown), ', '.join(sorted(ALLOWED_BLOCK_KEYS))))

    settings = copy.deepcopy(DEFAULTS[worker_type])
    for field in BOOL_FIELDS:
        if field in block and block[field] is not None:
            value = block[field]
            if not isinstance(value, bool):
                raise InvalidInput(
                    '%s.%s must be a boolean, got %s %r: write true or false (unquoted)'
                    % (path, field, _type_name(value), value))
            settings[field] = value
    for field in INT_FIELDS:
        if field in block and block[field] is not None:
            value = _as_int(block[field], '%s.%s' % (path, field))
            _check_minimum(value, MINIMUMS[field], '%s.%s' % (path, field))
            settings[field] = value
    queues = block.get('queues')
    if queues is None:
        settings['queues'] = list(DEFAULT_QUEUES[worker_type])
    else:
        settings['queues'] = _as_queues(queues, '%s.queues' % path)
    return settings


def _check_bench_id(bench_id, path):
    if not isinstance(bench_id, str) or not bench_id:
        raise InvalidInput(
            '%s must be a non-empty string, got %s %r: pass the bench id '
            '(spec.benchId, else the bench metadata.name)'
            % (path, _type_name(bench_id), bench_id))
    if not _NAME_RE.match(bench_id):
        raise InvalidInput(
            '%s (%r) must match %s: use letters, digits, "_", "." or "-" only'
            % (path, bench_id, NAME_PATTERN))
    return bench_id


def declared_queues(spec):
    """spec.queues validated: {name: {'timeout': seconds}}, Frappe's ``workers`` entry of common_site_config.json.

    The bench owns that key: the configuration Job writes exactly this (``{}``
    when nothing is declared), so a queue taken out of spec.queues is taken
    out of Frappe's too.
    """
    path = 'spec.%s' % QUEUES_FIELD
    section = spec.get(QUEUES_FIELD)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidInput(
            '%s must be a mapping of queue name to {timeout: <seconds>}, got %s %r: '
            'write for example queues: {reports: {timeout: 5000}}' % (path, _type_name(section), section))
    workers = {}
    for name in sorted(section, key=str):
        item_path = '%s.%s' % (path, name)
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise InvalidInput(
                '%s: the queue name %r must match %s: use letters, digits, "_", "." or "-" only'
                % (path, name, NAME_PATTERN))
        block = section[name]
        if block is None:
            block = {}
        if not isinstance(block, dict):
            raise InvalidInput(
                '%s must be a mapping such as {timeout: 1500}, got %s %r' % (item_path, _type_name(block), block))
        unknown = sorted(str(key) for key in block if key != 'timeout')
        if unknown:
            raise InvalidInput(
                '%s has unknown field(s) %s: the only field is timeout' % (item_path, ', '.join(unknown)))
        timeout = DEFAULT_QUEUE_TIMEOUT
        if block.get('timeout') is not None:
            timeout = _as_int(block['timeout'], '%s.timeout' % item_path)
            _check_minimum(timeout, 1, '%s.timeout' % item_path)
        workers[name] = {'timeout': timeout}
    return workers


def queue_timeouts(spec):
    """Every queue Frappe accepts on this bench and its job timeout, as get_queues_timeout computes it."""
    timeouts = dict(JOB_TIMEOUTS)
    timeouts.update((name, entry['timeout']) for name, entry in declared_queues(spec).items())
    return timeouts


def _check_declared(queues, timeouts, path):
    for index, queue in enumerate(queues):
        if queue not in timeouts:
            raise InvalidInput(
                '%s[%d] (%r) is neither a Frappe queue (short, default, long) nor declared in spec.%s: Frappe '
                'refuses it ("Queue should be one of %s") and the worker would not start. Declare it with its job '
                'timeout, for example spec.%s: {%s: {timeout: 1500}}'
                % (path, index, queue, QUEUES_FIELD, ', '.join(timeouts), QUEUES_FIELD, queue))


def worker_autoscaling(spec, keda_available=False, bench_id=None, scaler_errors=None):
    """Return the resolved scaling plan of the short, long and default workers.

    `spec` is the FrappeBench spec; `keda_available` whether ScaledObjects can
    be used; `bench_id` the id in RQ's queue names (else spec.benchId);
    `scaler_errors` maps a worker type to KEDA's message when KEDA cannot read
    its queue (keda_scaler_errors), which puts it in mode fallback.

    One entry per worker type with: the merged block (enabled, minReplicas,
    maxReplicas, queueLength, cooldownPeriod, pollingInterval, staticReplicas,
    queues); type; source (componentAutoscaling, workerAutoscalingConfig,
    workerAutoscaling, componentReplicas or defaults); deprecatedFields; kedaManaged (a
    ScaledObject exists exactly then); mode (autoscaled, static or fallback);
    scalerError; replicas (what the Deployment is created with); rqQueues
    (<bench_id>:<queue>); redisKeys (per queue the waiting list
    rq:queue:<bench_id>:<queue> and the started registry rq:wip:...);
    jobTimeout (the longest of its queues); terminationGracePeriodSeconds (the
    block's, else jobTimeout + 60); warnings.
    """
    if not isinstance(spec, dict):
        raise InvalidInput(
            'worker_autoscaling expects the FrappeBench spec (a mapping) as input, got %s: '
            'pass the object\'s .spec' % _type_name(spec))
    if not isinstance(keda_available, bool):
        raise InvalidInput(
            'keda_available must be a boolean, got %s %r: pass true or false '
            '(for example the result of a ScaledObject API discovery)'
            % (_type_name(keda_available), keda_available))
    if bench_id is None:
        if spec.get('benchId') is None:
            raise InvalidInput(
                'bench_id is required: pass bench_id=<spec.benchId or the bench metadata.name>')
        bench_id = _check_bench_id(spec.get('benchId'), 'spec.benchId')
    else:
        bench_id = _check_bench_id(bench_id, 'bench_id')

    if scaler_errors is None:
        scaler_errors = {}
    if not isinstance(scaler_errors, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in scaler_errors.items()):
        raise InvalidInput(
            'scaler_errors must map worker types to KEDA\'s message, got %r' % (scaler_errors,))

    timeouts = queue_timeouts(spec)
    config_blocks = _get_section(spec, CONFIG_FIELD)
    deprecated_blocks = _get_section(spec, DEPRECATED_FIELD)
    component_blocks = worker_blocks(spec)
    component_paths = dict((t, '%s.%s' % (COMPONENT_FIELD, key)) for key, t in COMPONENT_KEYS.items())
    for worker_type in component_blocks:
        for field, blocks in ((CONFIG_FIELD, config_blocks), (DEPRECATED_FIELD, deprecated_blocks)):
            if worker_type in blocks:
                raise InvalidInput(
                    '%s and spec.%s.%s both set the %s worker: keep one of them (they are two spellings of the same '
                    'settings)' % (component_paths[worker_type], field, worker_type, worker_type))

    legacy = spec.get('componentReplicas')
    if legacy is None:
        legacy = {}
    elif not isinstance(legacy, dict):
        raise InvalidInput(
            'spec.componentReplicas must be a mapping, got %s %r'
            % (_type_name(legacy), legacy))

    plan = {}
    for worker_type in WORKER_TYPES:
        warnings = []
        deprecated_fields = []
        config_path = 'spec.%s.%s' % (CONFIG_FIELD, worker_type)
        deprecated_path = 'spec.%s.%s' % (DEPRECATED_FIELD, worker_type)
        legacy_field = LEGACY_REPLICA_FIELDS[worker_type]
        legacy_path = 'spec.componentReplicas.%s' % legacy_field

        legacy_replicas = None
        if legacy.get(legacy_field) is not None:
            legacy_replicas = _as_int(legacy[legacy_field], legacy_path)
            _check_minimum(legacy_replicas, 0, legacy_path)
            deprecated_fields.append(legacy_path)

        if worker_type in deprecated_blocks:
            deprecated_fields.insert(0, deprecated_path)
            # Validate the deprecated block even when it is shadowed, so a
            # typo there does not go unnoticed.
            deprecated_settings = _resolve_block(
                worker_type, deprecated_blocks[worker_type], deprecated_path)

        if worker_type in component_blocks:
            source = 'componentAutoscaling'
            chosen_path = component_paths[worker_type]
            settings = _resolve_block(worker_type, component_blocks[worker_type], chosen_path)
        elif worker_type in config_blocks:
            source = CONFIG_FIELD
            settings = _resolve_block(worker_type, config_blocks[worker_type], config_path)
            if worker_type in deprecated_blocks:
                warnings.append(
                    '%s is ignored because %s is set: remove the deprecated block'
                    % (deprecated_path, config_path))
            chosen_path = config_path
        elif worker_type in deprecated_blocks:
            source = DEPRECATED_FIELD
            settings = deprecated_settings
            warnings.append(
                '%s is deprecated: rename it to %s' % (deprecated_path, config_path))
            chosen_path = deprecated_path
        else:
            settings = _resolve_block(worker_type, {}, config_path)
            chosen_path = None
            if legacy_replicas is not None:
                source = 'componentReplicas'
                settings['staticReplicas'] = legacy_replicas
            else:
                source = 'defaults'

        if chosen_path is not None and legacy_replicas is not None:
            warnings.append(
                '%s (%d) is ignored because %s is set: use %s.staticReplicas instead'
                % (legacy_path, legacy_replicas, chosen_path, config_path))

        _check_declared(settings['queues'], timeouts, '%s.queues' % (chosen_path or config_path))
        if settings['minReplicas'] > settings['maxReplicas']:
            field_path = chosen_path or config_path
            raise InvalidInput(
                '%s.minReplicas (%d) must be <= maxReplicas (%d): '
                'lower minReplicas or raise maxReplicas'
                % (field_path, settings['minReplicas'], settings['maxReplicas']))

        keda_managed = settings['enabled'] and keda_available
        # KEDA cannot read this worker's queue: its scaler neither wakes it nor
        # (at zero replicas) engages KEDA's own fallback, so the worker holds
        # at least its static replicas while the ScaledObject stays for KEDA
        # to take back once it reads the queue again.
        scaler_error = scaler_errors.get(worker_type, '') if keda_managed else ''
        if scaler_error:
            mode = 'fallback'
        else:
            mode = 'autoscaled' if keda_managed else 'static'
        replicas = settings['staticReplicas'] if mode != 'autoscaled' else settings['minReplicas']
        queues = settings['queues']

        if settings['enabled'] and not keda_available:
            warnings.append(
                'KEDA is not available: worker %s runs with %d static replica(s) '
                'instead of scaling %d-%d'
                % (worker_type, settings['staticReplicas'],
                   settings['minReplicas'], settings['maxReplicas']))
        if source == 'componentReplicas':
            if keda_managed:
                warnings.append(
                    '%s (%d) only applies while worker %s is not autoscaled: '
                    'it scales %d-%d with KEDA; set %s.staticReplicas instead'
                    % (legacy_path, legacy_replicas, worker_type,
                       settings['minReplicas'], settings['maxReplicas'], config_path))
            else:
                warnings.append(
                    '%s is deprecated: use %s.staticReplicas instead'
                    % (legacy_path, config_path))
        if scaler_error:
            warnings.append(
                'KEDA cannot read the queue of worker %s (%s): it runs at least %d static replica(s) '
                'until KEDA reads it again' % (worker_type, scaler_error, settings['staticReplicas']))
        if mode != 'autoscaled' and replicas == 0:
            warnings.append(
                'worker %s has 0 static replicas: jobs on queue(s) %s will not run'
                % (worker_type, ', '.join(queues)))
        job_timeout = max(timeouts[queue] for queue in queues)
        entry = dict(settings)
        entry.update({
            'type': worker_type,
            'queues': list(queues),
            'source': source,
            'deprecatedFields': deprecated_fields,
            'kedaManaged': keda_managed,
            'mode': mode,
            'scalerError': scaler_error,
            'replicas': replicas,
            'rqQueues': ['%s:%s' % (bench_id, queue) for queue in queues],
            'redisKeys': [
                {
                    'queue': queue,
                    'waiting': 'rq:queue:%s:%s' % (bench_id, queue),
                    'started': 'rq:wip:%s:%s' % (bench_id, queue),
                }
                for queue in queues
            ],
            'jobTimeout': job_timeout,
            # A job enqueued with its own timeout= may outlast its queue's default:
            # the block can say how long a stopping worker gets.
            'terminationGracePeriodSeconds': settings.get(
                'terminationGracePeriodSeconds', job_timeout + GRACE_PERIOD_MARGIN),
            'warnings': warnings,
        })
        plan[worker_type] = entry

    # A queue consumed by two worker types is legal for RQ but makes two
    # ScaledObjects react to the same backlog.
    owners = {}
    for worker_type in WORKER_TYPES:
        for queue in plan[worker_type]['queues']:
            owners.setdefault(queue, []).append(worker_type)
    for queue, types in owners.items():
        if len(types) > 1:
            for worker_type in types:
                plan[worker_type]['warnings'].append(
                    'queue %s is consumed by workers %s: both scale on the same backlog'
                    % (queue, ' and '.join(types)))
    return plan
