# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why the pods of a failed Job failed, from their termination messages; docs in pod_termination_message.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _terminated(status):
    state = (status.get('state') or {}).get('terminated') or (status.get('lastState') or {}).get('terminated')
    return state if state and state.get('exitCode') not in (None, 0) else None


def pod_termination_message(pods):
    """The termination message of the newest failed container among `pods` ('' when none says anything).

    The kubelet writes the container's /dev/termination-log there, or with
    terminationMessagePolicy FallbackToLogsOnError the end of its log when it
    failed without one. An init container that failed comes first: the main
    container of that pod never ran.
    """
    found = []
    for pod in pods or []:
        status = pod.get('status') or {}
        created = (pod.get('metadata') or {}).get('creationTimestamp') or ''
        for kind in ('initContainerStatuses', 'containerStatuses'):
            for container in status.get(kind) or []:
                state = _terminated(container)
                if state and (state.get('message') or '').strip():
                    found.append((created, state.get('finishedAt') or '', '%s: %s' % (
                        container.get('name'), state['message'].strip())))
    if not found:
        return ''
    return sorted(found)[-1][2]


class FilterModule(object):
    def filters(self):
        return {'pod_termination_message': pod_termination_message}
