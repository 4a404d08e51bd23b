# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What code a bench runs: the digest its image resolved to and the versions of its apps.

A tag such as version-15 moves, so an image string is not a version. The
configuration Job runs on every new image (its name hashes the image) and is
the probe: files/configure-bench.sh ends with `bench version --format json`
(frappe/commands/utils.py `get_version`) as the container's termination
message, and the kubelet records in the pod's status the digest the tag
resolved to (the container's imageID). The bench's processes and its sites'
Jobs then run on that digest, so a pod restarted after the tag moved runs the
code the rest of the bench runs. A tag moves without the image string
changing: every spec.upgrade.checkInterval a Job pulls the image again
(files/check-image.sh, check_due) and reports the same way; what it finds is
an upgrade (upgrade.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import re
import time

from ansible_collections.vyogotech.frappe.plugins.module_utils.readiness import succeeded_container

# A repository digest as the container runtimes report it in imageID:
# containerd 'docker.io/frappe/erpnext@sha256:<hex>', Docker
# 'docker-pullable://frappe/erpnext@sha256:<hex>'. An imageID without '@' (an
# image built on the node, 'docker://sha256:<hex>') names a local image
# configuration, which no registry serves: nothing to pin to.
_REPO_DIGEST = re.compile(r'@(sha256:[0-9a-f]{64})$')


def repository_digest(image_id):
    """'sha256:<hex>' of a container's imageID when it names a repository digest, else ''."""
    found = _REPO_DIGEST.search(image_id or '')
    return found.group(1) if found else ''


def pinned_reference(image, digest):
    """`image` at `digest`: its name without tag or digest, '@', the digest; `image` itself without a digest."""
    if not digest:
        return image
    name = image.split('@', 1)[0]
    # A tag follows the last ':' after the last '/' (a registry's port comes before it).
    if name.rfind(':') > name.rfind('/'):
        name = name[:name.rfind(':')]
    return '%s@%s' % (name, digest)


def app_versions(message):
    """{app: version} from the output of `bench version --format json`, or {} when it is not that."""
    try:
        return versions_of(json.loads(message or ''))
    except ValueError:
        return {}


def versions_of(listed):
    """{app: version} from the list `bench version --format json` prints (parsed), or {} for anything else."""
    if not isinstance(listed, list):
        return {}
    return dict((str(entry['app']), str(entry.get('version') or '')) for entry in listed
                if isinstance(entry, dict) and entry.get('app'))


def probe_of(pods, job, image, container='config'):
    """What the Job `job` found `image` to be, from its succeeded pod, or None.

    {'reference': image, 'digest': 'sha256:<hex>' or '', 'versions': {app:
    version}, 'job': job, 'checkedAt': when the container ended}. A pod that
    did not succeed says nothing: a failed configuration is the bench
    status's ConfigReady, not a probe.
    """
    terminated = succeeded_container(pods, job, container)
    if terminated is None:
        return None
    return {'reference': image, 'digest': repository_digest(terminated['imageID']),
            'versions': app_versions(terminated.get('message')), 'job': job,
            'checkedAt': terminated.get('finishedAt') or ''}


def bench_image(image, job, pods, stored, check_job=None):
    """(the probe of `image`, the reference the bench's processes and site Jobs run).

    The newest of: the configuration Job's (`job`) when its pod says, the
    one stored in the status (status.imageProbe) for the same image (the
    Job's pod may be gone, a later Job of other inputs on the same image has
    not reported yet, or a periodic check found more), and the periodic
    check's (`check_job`, check_due), which counts only when it saw a
    digest: otherwise it only says when the image was last looked at.
    Without a digest the processes run `image` as it is written.
    """
    found = []
    if isinstance(stored, dict) and stored.get('reference') == image:
        found.append((stored.get('checkedAt') or '', 0, stored))
    config = probe_of(pods, job, image)
    if config is not None:
        found.append((config['checkedAt'], 1, config))
    check = probe_of(pods, check_job, image, 'probe') if check_job else None
    if check is not None and check['digest']:
        found.append((check['checkedAt'], 2, check))
    probe = max(found, key=lambda f: f[:2])[2] if found else None
    if probe is not None and check is not None and not check['digest'] and check['checkedAt'] > (
            probe.get('checkedAt') or ''):
        probe = dict(probe, checkedAt=check['checkedAt'])
    return probe, pinned_reference(image, (probe or {}).get('digest') or '')


def check_due(probe, interval, now):
    """Whether the image of `probe` is to be looked at again: `interval` seconds (0: never) after its checkedAt
    (an RFC 3339 UTC time), `now` in seconds since the epoch. A probe recorded before checkedAt was is due once."""
    if not probe or not interval:
        return False
    checked = probe.get('checkedAt') or ''
    if not checked:
        return True
    try:
        then = calendar.timegm(time.strptime(checked, '%Y-%m-%dT%H:%M:%SZ'))
    except ValueError:
        return True
    return now - then >= interval


def check_token(probe, interval, now):
    """What names the periodic look at `probe`'s image: another once a look has reported, or once per `interval`
    while none does (a look that failed, the registry away, is tried again the next time)."""
    return '%s@%s@%d' % (probe.get('reference') or '', probe.get('checkedAt') or '', int(now // interval))
