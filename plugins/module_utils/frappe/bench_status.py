# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status of a FrappeBench from its plan and the live objects; docs in bench_status.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.scaling_activity import worker_scaling_activity
from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness
from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import compute_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.progress import progress_seen
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.upgrade import replacing
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.component_scaling import component_scaling_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_placement import SITES_NODE_LABEL
from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import applied_objects
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import PRUNABLE

# The key of the read (bench_plan.bench_reads) that holds each kind a reconcile applies: those it may prune, read
# by its label, and its sites claim, read by name.
APPLIED_KEYS = dict([(kind, key) for key, dummy, kind in PRUNABLE], PersistentVolumeClaim='sites_claim')


def _by_name(objects):
    return dict((o['metadata']['name'], o) for o in objects or [])


def _worker_message(worker, plan, settings):
    if worker['mode'] == 'fallback':
        return ('KEDA cannot read its queue (%s), so it holds at least %s static replica(s) that run its jobs; KEDA '
                'scales it again once it reads the queue (kubectl logs of the KEDA operator say why it cannot).'
                % (worker['scalerError'], worker['staticReplicas']))
    if worker['kedaManaged']:
        return ('KEDA scales it from %s to %s replicas on queue(s) %s, one per %s waiting jobs and never below the '
                'running ones.' % (worker['minReplicas'], worker['maxReplicas'], ', '.join(worker['queues']),
                                   worker['queueLength']))
    if not worker['enabled']:
        why = 'autoscaling is disabled for it.'
    elif plan['keda'] and plan['keda_operator_alive'] is False:
        why = ('the KEDA operator is not running (its Lease %s/%s was not renewed in time); KEDA gets it back when it '
               'is.' % (settings['keda_namespace'], settings['keda_lease']))
    else:
        why = 'KEDA is not available (the API group keda.sh is not served).'
    return '%s static replica(s): %s' % (worker['staticReplicas'], why)


def _worker_scaling(plan, state, settings):
    deployments, scaledobjects, hpas = (_by_name(state.get(k)) for k in ('deployments', 'scaledobjects', 'hpas'))
    out = {}
    for worker_type, worker in plan['workers'].items():
        name = plan['names']['worker'][worker_type]
        deployment = deployments.get(name) or {}
        keda = {}
        if worker['kedaManaged']:
            so = scaledobjects.get(name) or {}
            keda = worker_scaling_activity(so, hpas.get(((so.get('status') or {}).get('hpaName')) or ''))
        out[worker_type] = {
            'activeTriggers': keda.get('activeTriggers', []),
            'backlog': keda.get('backlog'),
            'kedaReady': keda.get('ready'),
            'kedaMessage': keda.get('message', ''),
            'mode': worker['mode'],
            'kedaManaged': worker['kedaManaged'],
            'desiredReplicas': int((deployment.get('spec') or {}).get('replicas') or 0),
            'currentReplicas': int((deployment.get('status') or {}).get('replicas') or 0),
            'message': _worker_message(worker, plan, settings),
        }
    return out


def _workloads(plan, state):
    """(unavailable, waking): names (without the bench prefix) of Deployments not serving, and KEDA workers starting."""
    deployments = _by_name(state.get('deployments'))
    unavailable, waking = [], []
    wanted = [(c['name'], plan['names']['component'][c['name']], None) for c in plan['components']]
    wanted += [('worker-' + t, plan['names']['worker'][t], w) for t, w in plan['workers'].items()]
    for short, name, worker in wanted:
        deployment = deployments.get(name)
        keda_managed = bool(worker and worker['kedaManaged'])
        if keda_managed and deployment and not readiness.deployment_available(deployment):
            waking.append(short)
        if readiness.deployment_serving(deployment):
            continue
        # A worker KEDA is waking from zero is starting, not unavailable; one
        # whose rollout gave up (ProgressDeadlineExceeded) is.
        if keda_managed and deployment and not readiness.deployment_stuck(deployment):
            continue
        unavailable.append(short)
    return unavailable, waking


def _progress(plan, state):
    """(config condition, blocked): the configuration Job judged by its name, and the bench's pods that cannot run.

    A reconcile does not wait for the Job or a rollout: it reports where they
    are and comes back. The Job is found by the name the plan gives it, so its
    progress needs no state of its own; a pod the scheduler cannot place or
    whose image cannot be pulled is named with the scheduler's or kubelet's
    own words, at once.
    """
    job_name = plan['config']['job']
    blocked = ['pod %s: %s: %s' % (pod, reason, message)
               for pod, reason, message in readiness.pods_blocked(state.get('pods'))]
    reasons = [reason for _pod, reason, _message in readiness.pods_blocked(state.get('pods'))]
    job = _by_name(state.get('jobs')).get(job_name)
    if readiness.job_finished(job) == 'Failed':
        config = {'type': 'ConfigReady', 'status': 'False', 'reason': 'JobFailed',
                  'message': 'Job %s failed; see kubectl logs job/%s.' % (job_name, job_name)}
    elif plan['config']['done']:
        config = {'type': 'ConfigReady', 'status': 'True', 'reason': 'Configured',
                  'message': 'Job %s wrote common_site_config.json.' % job_name}
    elif readiness.job_finished(job) == 'Complete':
        # Completed after this reconcile planned: its processes were not applied yet.
        config = {'type': 'ConfigReady', 'status': 'False', 'reason': 'JobCompleted',
                  'message': 'Job %s wrote common_site_config.json; the next reconcile updates the bench processes.'
                  % job_name}
    else:
        job_pods = [p for p in state.get('pods') or []
                    if ((p.get('metadata') or {}).get('labels') or {}).get('batch.kubernetes.io/job-name') == job_name]
        job_blocked = readiness.pods_blocked(job_pods)
        config = {'type': 'ConfigReady', 'status': 'False',
                  'reason': job_blocked[0][1] if job_blocked else 'JobRunning',
                  'message': 'Job %s cannot run: %s' % (job_name, '; '.join(
                      'pod %s: %s' % (pod, message) for pod, _reason, message in job_blocked)) if job_blocked else
                  'Job %s is writing common_site_config.json; the bench processes are updated once it completes.'
                  % job_name}
    return config, blocked, reasons, readiness.job_finished(job)


def state_after_apply(state, applied, namespace):
    """`state` with each object of `namespace` an apply returned (`applied`, the registered result of k8s_apply, which
    answers as kubernetes.core.k8s) in place of the one read before it, or beside those: what the API server holds
    right after the apply."""
    state = dict(state or {})
    for obj in applied_objects(applied):
        meta = obj.get('metadata') or {}
        key = APPLIED_KEYS.get(obj.get('kind'))
        if key and meta.get('name') and meta.get('namespace') == namespace:
            state[key] = [o for o in state.get(key) or [] if (o.get('metadata') or {}).get('name') != meta['name']]
            state[key].append(obj)
    return state


def status_reads_again(plan, pending, applies, rolling):
    """Whether a reconcile reads the workloads again for its status, after its apply: after a change, while the
    configuration Job has not completed, while a rollout moves. Not after the apply that creates the configuration
    Job: no process runs before it completes, and the apply's answer (state_after_apply) is what a read right after
    would find."""
    creates_config_job = not plan['config']['done'] and any(
        item['object']['kind'] == 'Job' and item['object']['metadata']['name'] == plan['config']['job']
        for item in pending)
    return bool(rolling or (not creates_config_job and (applies or not plan['config']['done'])))


def bench_status(plan, state, bench, settings, applied=None):
    """The status patch, conditions, scaling-mode changes and whether anything changes; see bench_status.yml.

    With `applied` (the registered result of the reconcile's apply), the objects it returned replace those of `state`.
    """
    namespace = plan['namespace']
    if applied:
        state = state_after_apply(state, applied, namespace)
    current = (bench or {}).get('status') or {}
    redis_secret = plan['redis']['secret']
    in_memory = plan['redis']['queue_in_memory']
    keda_namespace = settings['keda_namespace']

    config, blocked, blocked_reasons, config_job = _progress(plan, state)
    worker_scaling = _worker_scaling(plan, state, settings)
    unavailable, waking = _workloads(plan, state)
    unavailable_workers = [u for u in unavailable if u.startswith('worker-')]
    scaler_failing = ['worker-' + t for t, w in plan['workers'].items() if w['mode'] == 'fallback']
    statefulsets = _by_name(state.get('statefulsets'))
    redis_unready = [n for n in (plan['names']['redis_' + s['role']] for s in plan['redis']['servers'])
                     if not readiness.statefulset_serving(statefulsets.get(n))]
    claim = (state.get('sites_claim') or [None])[0]
    sites_phase = ((claim or {}).get('status') or {}).get('phase') or 'Missing'
    bound = sites_phase == 'Bound'
    # A bench whose processes serve stays Ready while a configuration Job of
    # new inputs (another image, apps, Redis) runs: the processes it had keep
    # serving until the next reconcile updates them (ConfigReady says where that
    # is). Before the first configuration there are no processes to serve.
    components_ready = bound and not redis_unready and not unavailable and config['reason'] != 'JobFailed'
    ready = components_ready and not scaler_failing
    sites = plan['names']['sites']

    def flag(value):
        return 'True' if value else 'False'

    conditions = [
        {'type': 'StorageReady', 'status': flag(bound), 'reason': 'Bound' if bound else 'VolumeNotBound',
         'message': ('The sites volume %s is bound.' % sites
                     + (' It is ReadWriteOnce, so every bench pod runs on the node it is attached to (pod affinity on '
                        '%s).' % SITES_NODE_LABEL if plan['sites']['access_mode'] == 'ReadWriteOnce' else ''))
         if bound else
         'The sites volume %s is %s: check its StorageClass and kubectl describe pvc %s.' % (sites, sites_phase, sites)},
        {'type': 'RedisReady', 'status': flag(not redis_unready),
         'reason': 'External' if redis_secret else ('Ready' if not redis_unready else 'NotReady'),
         'message': 'External Redis from Secret %s.' % redis_secret if redis_secret else
         (('The cache and queue Redis are ready' if not redis_unready else
           'Waiting for %s to become ready' % ', '.join(redis_unready))
          + '; their NetworkPolicies admit only the pods of the bench (and namespace %s to the queue), which isolates '
            'them only where the network plugin enforces NetworkPolicy.' % keda_namespace)},
        {'type': 'QueuePersistent', 'status': flag(not in_memory),
         'reason': 'External' if redis_secret else ('InMemory' if in_memory else 'AppendOnlyFile'),
         'message': 'The queue is the external Redis.' if redis_secret else
         ('The queue Redis %s predates persistent queues: it keeps its jobs in memory and has no password, and is left '
          'as it is so that they are not lost. When no job is queued or running (redis-cli KEYS "rq:queue:*" and '
          '"rq:wip:*" are empty), run kubectl delete statefulset -n %s %s; the next reconcile recreates it with a '
          'volume and a password.' % (plan['names']['redis_queue'], namespace, plan['names']['redis_queue'])
          if in_memory else 'The queue Redis keeps its jobs in an append-only file on its volume.')},
        config,
        {'type': 'WorkersReady', 'status': flag(not unavailable_workers and not scaler_failing),
         'reason': 'WorkersUnavailable' if unavailable_workers else
         ('ScalerFailing' if scaler_failing else 'WorkersAvailable'),
         'message': ('Every worker Deployment serves (a replica available, or none wanted).' if not unavailable_workers else
                     'Waiting for available replicas of %s.' % ', '.join(unavailable_workers))
         + (' Starting for KEDA (for example woken from zero): %s.' % ', '.join(waking) if waking else '')
         + (' KEDA cannot read the queue of %s, which run(s) static replicas until it can (see status.workerScaling).'
            % ', '.join(scaler_failing) if scaler_failing else '')},
        {'type': 'Ready', 'status': flag(ready),
         'reason': 'Ready' if ready else ('ScalerFailing' if components_ready else
                                          (blocked_reasons[0] if blocked_reasons else 'ComponentsNotReady')),
         'message': 'Every component of the bench is available.%s' % (
             '' if config['status'] == 'True' else ' ' + config['message']) if ready else
         (('Not available yet: %s.' % ', '.join(
             unavailable + redis_unready + ([] if bound else ['sites volume'])
             + ([] if config['status'] == 'True' else ['configuration Job %s' % plan['config']['job']]))
           if not components_ready else '')
          + (' Cannot run: %s.' % '; '.join(blocked) if blocked else '')
          + (' KEDA cannot read the queue of %s.' % ', '.join(scaler_failing) if scaler_failing else ''))},
    ]
    upgrade = plan['upgrade']
    if upgrade['record']:
        record = upgrade['record']
        conditions.append({'type': 'Upgraded', 'status': flag(record['phase'] == 'Succeeded'), 'reason': record['phase'],
                           'message': record['message']})
    phase = 'Ready' if ready else ('Degraded' if current.get('phase') in ('Ready', 'Degraded') else 'Provisioning')
    endpoints = plan['redis']['endpoints']
    patch = {'phase': phase, 'benchId': plan['id'],
             'observedGeneration': int((bench or {}).get('metadata', {}).get('generation') or 0),
             'workerScaling': worker_scaling,
             'componentScaling': component_scaling_status(
                 dict((c['name'], c['scaling']) for c in plan['components']), plan['workers'], state.get('deployments'),
                 plan['names']),
             # What the sites of the bench need, so a site role reads it instead of recomputing it:
             # the image at the digest its configuration Job ran on, once known (image_probe.py).
             'image': plan['run_image'],
             # That digest and the apps' versions the Job reported; none (removed) until it has.
             'imageProbe': plan['image_probe'],
             # The versions the processes' image (status.image) carries: what an upgrade starts from (upgrade.py).
             'appVersions': replacing(current.get('appVersions'), upgrade['app_versions']),
             'sitesClaim': plan['names']['sites'],
             # A site Job on a ReadWriteOnce volume joins the node of the bench pods.
             'sitesAccessMode': plan['sites']['access_mode'],
             # Where a site's Ingress sends its requests (nginx routes them by Host to the site).
             # The domains nginx maps to another site name, so a site knows its route is in place.
             # A merge patch keeps keys it does not name: a route no longer wanted is named with null.
             'routes': dict(dict((d, None) for d in (current.get('routes') or {}) if d not in plan['routes']['map']),
                            **plan['routes']['map']),
             # The hosts the socket.io pods resolve to nginx (their hostAliases), so a
             # new site sees when its realtime callback can reach the bench.
             'realtimeHosts': [h for a in plan['nginx']['host_aliases'] for h in a['hostnames']],
             # The suffix detected for sites that set no domain (site_plan.resolve_domain reads it).
             'domainDetection': plan['domain_detection'],
             'frontend': {'service': plan['names']['component']['nginx'],
                          'port': [c['port'] for c in plan['components'] if c['name'] == 'nginx'][0]},
             'redis': {
                 'cache': '%s:%s' % (endpoints['cache']['host'], endpoints['cache']['port']) if endpoints else '',
                 'queue': '%s:%s' % (endpoints['queue']['host'], endpoints['queue']['port']) if endpoints else '',
                 'passwordSecret': '' if redis_secret else plan['redis']['password_secret'],
                 'connectionSecret': redis_secret}}
    if upgrade['record']:
        # A merge patch keeps keys it does not name: the sites and apps of an earlier upgrade are named with null.
        patch['upgrade'] = replacing(current.get('upgrade'), upgrade['record'])
    previous = dict((t, (s or {}).get('mode')) for t, s in (current.get('workerScaling') or {}).items())
    mode_changes = [
        {'worker': t, 'mode': s['mode'], 'previous': previous[t], 'message': s['message']}
        for t, s in worker_scaling.items() if t in previous and previous[t] != s['mode']]
    # What the status writer would store: equal to the stored status means no write is needed.
    unchanged = compute_status(current, patch, conditions, now='unchanged') == current
    # While the configuration Job of these inputs runs, the next reconcile can do nothing before it ends (it then
    # applies the processes): a pause watches the Jobs alone, and a Redis that turns ready meanwhile starts no round.
    watch = ['jobs'] if config['reason'] not in CONFIG_SETTLED and not upgrade['moving'] else None
    return {'status': patch, 'conditions': conditions, 'phase': phase, 'mode_changes': mode_changes,
            'unchanged': unchanged,
            # What changed in an upgrade (upgrade.py), for Events on the bench.
            'events': upgrade['events'],
            # 'Complete', 'Failed' or None (running, or not created yet): a failed Job fails the reconcile.
            'config_job': config_job,
            'converging': upgrade['moving'] or (not ready or config['reason'] not in CONFIG_SETTLED) and _converging(
                config, blocked_reasons, state, [plan['names']['worker'][w[len('worker-'):]] for w in waking]),
            # The configuration Job completed after the plan: the next reconcile applies the
            # processes, with nothing to wait for first (a caller that loops does not pause).
            'next_round_due': config['reason'] == 'JobCompleted',
            # What a caller's pause watches (None: all progress.py watches of a bench) and what of it this
            # status saw: where the pause starts from.
            'watch': watch,
            'seen': progress_seen({'kind': 'FrappeBench', 'namespace': plan['namespace'], 'name': plan['name'],
                                   'watch': watch}, state)}


def bench_settled(bench, status):
    """Whether a reconcile that has nothing to apply has nothing else to do either, from bench_status's answer.

    A Ready bench whose stored status is this one, with no Job or rollout on
    its way, no failed configuration Job and no worker whose scaling mode
    changed (an Event to record): the role then leaves out the rest of the
    reconcile, the status step included.
    """
    return (status['unchanged'] and status['phase'] == 'Ready' and not status['converging']
            and not status['mode_changes'] and not status.get('events') and status['config_job'] != 'Failed'
            and bool(((bench or {}).get('status') or {}).get('phase')))


# ConfigReady reasons after which the configuration is where it stays: done,
# or failed (the reconcile fails with the Job's message).
CONFIG_SETTLED = ('Configured', 'JobFailed')


def _converging(config, blocked_reasons, state, waking):
    """Whether reconciling this bench (not Ready) again soon can move it on, for a caller that loops (site.yml).

    True while the configuration Job runs or completed after the plan (the next
    reconcile applies the processes, perhaps with the image that fixes a pod
    of the old ones), or a Deployment or StatefulSet rollout still moves, a
    pod the scheduler cannot place yet included (a claim may bind). False once
    settled, and when the configuration Job's pod or a process's pod cannot
    start because of its image, or a rollout gave up (ProgressDeadlineExceeded):
    waiting does not fix those, a change does. A worker KEDA is waking (named
    in `waking`) is KEDA's doing, which no reconcile waits for; a Ready bench
    converges only while a configuration Job of new inputs is on its way, whose
    end the next reconcile turns into the processes' update (bench_status).
    """
    if config['reason'] in readiness.IMAGE_PROBLEMS:
        return False
    if config['reason'] not in CONFIG_SETTLED:
        return True
    if any(reason in readiness.IMAGE_PROBLEMS for reason in blocked_reasons):
        return False
    stuck = [d['metadata']['name'] for d in state.get('deployments') or [] if readiness.deployment_stuck(d)]
    return any(name not in stuck + waking for name in bench_rollout_pending(state))


def bench_rollout_pending(state):
    """Names of the bench's Deployments and StatefulSets whose rollout has not settled."""
    return readiness.rolling((state or {}).get('deployments', []) + (state or {}).get('statefulsets', []))
