# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What moves while a bench or a site is on its way: the reads a pause between reconcile rounds watches.

playbooks/site.yml runs another round while a bench or a site moves on by
itself (bench_status and site_status: converging). Between two rounds it
reads these with k8s_multi_info's wait_until=changed, so the next round
starts as soon as one of them moves rather than after a fixed pause; it
compares with what the round itself read (progress_seen), so what moved
before the pause began counts too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.readiness import moved_state
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_migration import migration_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_reads

# Of the reads of a reconcile (bench_reads, site_reads, migration_reads), those of what moves on its own, each with
# what counts as its move (k8s_multi_info's moves_by, readiness.py's moved_state). Jobs, Deployments and StatefulSets
# by what a status decision takes from them (a Job ends, a rollout serves, settles or gives up): a Job that records
# its running pod, or a rollout with one more replica of three, ends no pause and starts no round that has nothing
# to do. The MariaDB Operator's objects and a migration's worker pods (which it waits to see gone) by any write.
# Pods that cannot run are not watched: the round after the pause (at most frappe_converge_pause_seconds) reports
# them, as the operator's requeue does.
MOVING = {
    'FrappeBench': {'jobs': 'readiness', 'deployments': 'readiness', 'statefulsets': 'readiness'},
    'FrappeSite': {'jobs': 'readiness', 'database': 'resource_version', 'user': 'resource_version',
                   'grant': 'resource_version'},
    'SiteMigration': {'jobs': 'readiness', 'worker_pods': 'resource_version'},
}
READS = {'FrappeBench': lambda obj: bench_reads(obj, {}), 'FrappeSite': site_reads, 'SiteMigration': migration_reads}


def progress_reads(waiting):
    """k8s_multi_info reads of what each {kind, namespace, name} of `waiting` waits for.

    A bench: its Jobs (configuration), Deployments and StatefulSets (rollouts);
    only those of its reads an item's `watch` names, when it names any. A site:
    its Jobs (site creation) and its Database, User and Grant, which the
    MariaDB Operator makes Ready. Each is read as the object's own reconcile
    reads it, under a key of its own.
    """
    reads = []
    for item in waiting or []:
        kind, namespace, name = item['kind'], item['namespace'], item['name']
        obj = {'kind': kind, 'metadata': {'name': name, 'namespace': namespace}, 'spec': {}}
        own = READS[kind](obj)
        reads += [dict(read, key=_progress_key(item, read['key']), moves_by=MOVING[kind][read['key']])
                  for read in own if read['key'] in _watched(item)]
    return reads


def progress_seen(item, objects):
    """What the bench or site `item` ({kind, namespace, name}) waits for, as its round read it (`objects`, by read key).

    k8s_multi_info's wait_since: the pause compares with this rather than with
    its own first read, so a Job that completed between the round's read and
    the pause (a fast cluster) ends the pause at once.
    """
    return [{'key': _progress_key(item, key), 'uid': (obj.get('metadata') or {}).get('uid') or '',
             'state': moved_state(obj, MOVING[item['kind']][key])}
            for key in _watched(item) for obj in (objects or {}).get(key) or []]


def _watched(item):
    """The read keys watched for `item`: those its `watch` names (bench_status's: the Jobs alone while its
    configuration Job runs), else all MOVING has for its kind."""
    return sorted(key for key in MOVING[item['kind']] if not item.get('watch') or key in item['watch'])


def _progress_key(item, key):
    return '%s %s/%s %s' % (item['kind'], item['namespace'], item['name'], key)
