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

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import site_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import MARIADB_API


def progress_reads(waiting):
    """k8s_multi_info reads of what each {kind, namespace, name} of `waiting` waits for.

    A bench: its Jobs (configuration), Deployments and StatefulSets (rollouts),
    by the label every object of it carries. A site: its Jobs (site creation)
    and its Database, User and Grant, which the MariaDB Operator makes Ready.
    """
    reads = []
    for item in waiting or []:
        kind, namespace, name = item['kind'], item['namespace'], item['name']

        def read(what, api_version, read_kind, **how):
            reads.append(dict({'key': '%s %s/%s %s' % (kind, namespace, name, what), 'api_version': api_version,
                               'kind': read_kind, 'namespace': namespace}, **how))
        if kind == 'FrappeBench':
            owned = ['vyogo.tech/bench=%s' % name]
            read('jobs', 'batch/v1', 'Job', label_selectors=owned)
            read('deployments', 'apps/v1', 'Deployment', label_selectors=owned)
            read('statefulsets', 'apps/v1', 'StatefulSet', label_selectors=owned)
        elif kind == 'FrappeSite':
            names = site_names(name)
            read('jobs', 'batch/v1', 'Job', label_selectors=['vyogo.tech/site=%s' % name])
            for what, read_kind in (('database', 'Database'), ('user', 'User'), ('grant', 'Grant')):
                read(what, MARIADB_API, read_kind, name=names[what])
    return reads
