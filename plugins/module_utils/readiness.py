# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness of Kubernetes objects as the roles judge it, one predicate per kind.

Pure functions of one object as read from the API server (a dict). They are
used both to decide when a reconcile stops waiting and to write the status
conditions, so the two never disagree. Like kubernetes.core's waiter, a
workload whose controller has not yet seen its latest spec
(status.observedGeneration < metadata.generation) is never ready.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _status(obj):
    return (obj or {}).get('status') or {}


def _condition(obj, kind):
    for condition in _status(obj).get('conditions') or []:
        if condition.get('type') == kind:
            return condition
    return None


def _int(value):
    return int(value or 0)


def observed(obj):
    """The controller has seen the object's latest spec."""
    return _int(_status(obj).get('observedGeneration')) >= _int((obj or {}).get('metadata', {}).get('generation'))


def wanted_replicas(obj, default=1):
    replicas = ((obj or {}).get('spec') or {}).get('replicas')
    return default if replicas is None else int(replicas)


def deployment_stuck(obj):
    """The rollout gave up (Progressing=False, e.g. ProgressDeadlineExceeded)."""
    progressing = _condition(obj, 'Progressing') or {}
    return progressing.get('status') == 'False'


def deployment_available(obj):
    """At least the wanted replicas are available (the rollout may still be running)."""
    return bool(obj) and _int(_status(obj).get('availableReplicas')) >= wanted_replicas(obj)


def deployment_settled(obj):
    """As `kubectl rollout status` means it: latest spec seen, every replica updated and available, none left over."""
    status, want = _status(obj), wanted_replicas(obj)
    return (bool(obj) and observed(obj) and _int(status.get('updatedReplicas')) == want
            and _int(status.get('replicas')) == want and _int(status.get('availableReplicas')) >= want)


def deployment_serving(obj):
    """Serving: a replica available (none when none is wanted), and the rollout has not given up.

    A rolling update or a scale-up of a Deployment that serves keeps it
    serving; a rollout that gave up (ProgressDeadlineExceeded) does not.
    """
    return (bool(obj) and not deployment_stuck(obj)
            and _int(_status(obj).get('availableReplicas')) >= min(1, wanted_replicas(obj)))


def statefulset_serving(obj):
    """Serving: a replica ready (none when none is wanted). A single-replica Redis that restarts is not, meanwhile."""
    return bool(obj) and _int(_status(obj).get('readyReplicas')) >= min(1, wanted_replicas(obj))


def statefulset_settled(obj):
    status, want = _status(obj), wanted_replicas(obj)
    return (bool(obj) and observed(obj) and _int(status.get('updatedReplicas')) == want
            and _int(status.get('replicas')) == want and _int(status.get('readyReplicas')) >= want
            and (status.get('currentRevision') or '') == (status.get('updateRevision') or ''))


def job_finished(obj):
    """'Complete', 'Failed', or None while it runs."""
    for kind in ('Complete', 'Failed'):
        if (_condition(obj, kind) or {}).get('status') == 'True':
            return kind
    return None


def claim_bound(obj):
    return _status(obj).get('phase') == 'Bound'


SETTLED = {'Deployment': deployment_settled, 'StatefulSet': statefulset_settled}


def rolling(objects):
    """Names of the Deployments and StatefulSets among `objects` whose rollout has not settled."""
    return [o['metadata']['name'] for o in objects or [] if o.get('kind') in SETTLED and not SETTLED[o['kind']](o)]


# The end of a failed container's log a status keeps (the kubelet keeps at
# most 80 lines / 2048 bytes of it as the termination message).
FAILURE_TAIL_LINES = 15
FAILURE_TAIL_CHARS = 1500


def job_failure(pods):
    """Why a Job's pods failed: the newest container that exited non-zero, its exit and the end of its message.

    The kubelet writes a container's /dev/termination-log into its terminated
    state's message, or with terminationMessagePolicy FallbackToLogsOnError
    the end of its log when it failed without one; restartPolicy Never keeps
    the failed pods. Init containers count as well: a failed one is why the
    main container never ran. '' when no container failed.
    """
    said = []
    for pod in pods or []:
        meta, status = pod.get('metadata') or {}, pod.get('status') or {}
        for kind in ('initContainerStatuses', 'containerStatuses'):
            for container in status.get(kind) or []:
                for state in (container.get('state') or {}, container.get('lastState') or {}):
                    ended = state.get('terminated')
                    if ended and ended.get('exitCode'):
                        said.append((ended.get('finishedAt') or meta.get('creationTimestamp') or '',
                                     meta.get('name', ''), container.get('name', ''), ended))
                        break
    if not said:
        return ''
    _when, pod_name, container_name, ended = max(said, key=lambda s: s[0])
    lines = [line for line in (ended.get('message') or '').strip().splitlines() if line.strip()]
    tail = '\n'.join(lines[-FAILURE_TAIL_LINES:])[-FAILURE_TAIL_CHARS:]
    return 'container %s of pod %s exited %s (%s)%s' % (
        container_name, pod_name, ended.get('exitCode'), ended.get('reason') or 'Error',
        '; its log ends with:\n%s' % tail if tail else '')


# The labels the Job controller puts on a Job's pods (the first since Kubernetes 1.27).
JOB_NAME_LABELS = ('batch.kubernetes.io/job-name', 'job-name')


def pods_of_job(pods, job):
    """The pods among `pods` that the Job `job` made (by the Job controller's label)."""
    return [pod for pod in pods or []
            if job in [((pod.get('metadata') or {}).get('labels') or {}).get(label) for label in JOB_NAME_LABELS]]


def succeeded_container(pods, job, container):
    """The state `terminated` of `container` in the succeeded pod of the Job `job` (exit 0), or None."""
    for pod in pods_of_job(pods, job):
        status = pod.get('status') or {}
        if status.get('phase') != 'Succeeded':
            continue
        for found in status.get('containerStatuses') or []:
            terminated = (found.get('state') or {}).get('terminated') or {}
            if found.get('name') == container and terminated.get('exitCode') == 0:
                return dict(terminated, imageID=found.get('imageID') or '')
    return None


# The kubelet's reasons for a container it cannot start because of its image:
# they do not go away by waiting, so a status says so at once.
IMAGE_PROBLEMS = ('ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull')


def pod_blocked(pod):
    """Why a pod cannot run, in the scheduler's or the kubelet's own words, or None.

    (reason, message): PodScheduled False (reason Unschedulable: no node fits,
    a claim not bound...), or a container (init containers first) waiting
    because its image cannot be pulled. A pod that is only starting is not
    blocked; a finished one neither.
    """
    status = _status(pod)
    if status.get('phase') in ('Succeeded', 'Failed'):
        return None
    scheduled = _condition(pod, 'PodScheduled') or {}
    if scheduled.get('status') == 'False':
        return scheduled.get('reason') or 'Unschedulable', scheduled.get('message') or ''
    for kind in ('initContainerStatuses', 'containerStatuses'):
        for container in status.get(kind) or []:
            waiting = (container.get('state') or {}).get('waiting') or {}
            if waiting.get('reason') in IMAGE_PROBLEMS:
                return waiting['reason'], 'container %s: %s' % (container.get('name', ''), waiting.get('message') or '')
    return None


# How a pause between two reconcile rounds tells that an object moved
# (k8s_multi_info's reads[].moves_by): any write of it, or only a change of
# what a status decision takes from it (progress_state).
MOVES_BY = ('resource_version', 'readiness')


def progress_state(obj):
    """What a status decision takes from `obj`, as one string.

    A Job: whether it finished (job_finished). A Deployment: whether it
    serves, whether its rollout settled, whether it gave up. A StatefulSet:
    whether it serves and settled. Any other kind: its resourceVersion. A Job
    that records its running pod, or a rollout with one more replica ready of
    three, is not a move: nothing a status says of it changes until it ends.
    """
    kind = (obj or {}).get('kind')
    if kind == 'Job':
        return 'finished=%s' % (job_finished(obj) or '')
    if kind == 'Deployment':
        return 'serving=%d settled=%d stuck=%d' % (
            deployment_serving(obj), deployment_settled(obj), deployment_stuck(obj))
    if kind == 'StatefulSet':
        return 'serving=%d settled=%d' % (statefulset_serving(obj), statefulset_settled(obj))
    return ((obj or {}).get('metadata') or {}).get('resourceVersion') or ''


def moved_state(obj, moves_by):
    """What a pause compares of `obj`: its resourceVersion, or with moves_by 'readiness' its progress_state."""
    if moves_by == 'readiness':
        return progress_state(obj)
    return ((obj or {}).get('metadata') or {}).get('resourceVersion') or ''


def pods_blocked(pods):
    """[(pod name, reason, message)] of the pods among `pods` that cannot run (pod_blocked), by name."""
    out = []
    for pod in sorted(pods or [], key=lambda p: (p.get('metadata') or {}).get('name', '')):
        blocked = pod_blocked(pod)
        if blocked:
            out.append(((pod.get('metadata') or {}).get('name', ''),) + blocked)
    return out
