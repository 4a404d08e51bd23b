# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What moves while a bench or a site is on its way: the reads a pause between reconcile rounds watches.

playbooks/site.yml runs another round while a bench or a site moves on by
itself (bench_status and site_status: converging). Between two rounds it
reads these with k8s_multi_info's wait_until=changed, so the next round
starts as soon as one of them moves rather than after a fixed pause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import bench_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import site_reads

# Of the reads of a reconcile (bench_reads, site_reads), those of what moves on its own.
MOVING = {'FrappeBench': ('jobs', 'deployments', 'statefulsets'), 'FrappeSite': ('jobs', 'database', 'user', 'grant')}


def progress_reads(waiting):
    """k8s_multi_info reads of what each {kind, namespace, name} of `waiting` waits for.

    A bench: its Jobs (configuration), Deployments and StatefulSets (rollouts).
    A site: its Jobs (site creation) and its Database, User and Grant, which
    the MariaDB Operator makes Ready. Each is read as the object's own
    reconcile reads it, under a key of its own.
    """
    reads = []
    for item in waiting or []:
        kind, namespace, name = item['kind'], item['namespace'], item['name']
        obj = {'kind': kind, 'metadata': {'name': name, 'namespace': namespace}, 'spec': {}}
        own = bench_reads(obj, {}) if kind == 'FrappeBench' else site_reads(obj)
        reads += [dict(read, key='%s %s/%s %s' % (kind, namespace, name, read['key']))
                  for read in own if read['key'] in MOVING[kind]]
    return reads
