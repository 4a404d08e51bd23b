# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read for the reconciles of several FrappeBenches or FrappeSites, and each one's share of it.

Under the Ansible Operator SDK each reconcile reads for its own object
(bench_reads, site_reads). playbooks/site.yml reconciles many in a round: it
reads for all its benches in one k8s_multi_info run, and for all its sites in
another, and gives each role its share, so a run with nothing to change makes
as many module runs with ten sites as with one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_plan import KEDA_API, bench_reads
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.manifest import API_VERSION
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import (
    CERT_MANAGER_API, MARIADB_API, site_reads)

# The optional API groups each kind's plan asks about (its role's api_groups).
API_GROUPS = {'FrappeBench': [KEDA_API], 'FrappeSite': [MARIADB_API, CERT_MANAGER_API]}


def _identity(read):
    """One string per distinct read: two objects that read the same thing share it."""
    # A read that is given some of a Secret's values differs from one that is not.
    return '%s %s %s/%s %s%s' % (read['api_version'], read['kind'], read.get('namespace') or '', read.get('name') or '',
                                 ','.join(read.get('label_selectors') or []),
                                 ''.join(' ' + key for key in read.get('secret_values') or []))


def _reads_of(obj, bench_settings):
    kind = obj.get('kind')
    if kind == 'FrappeBench':
        return bench_reads(obj, bench_settings)
    if kind == 'FrappeSite':
        return site_reads(obj)
    raise InvalidInput('shared_reads reads for FrappeBench and FrappeSite objects, not %s' % kind)


def shared_reads(objects, bench_settings=None):
    """{reads, api_groups}: the reads of every object in one k8s_multi_info run, each distinct read once.

    bench_settings: keda_namespace and keda_lease, as bench_reads takes them
    (needed only with a FrappeBench among `objects`).
    """
    reads, seen, groups = [], set(), []
    for obj in objects or []:
        for read in _reads_of(obj, bench_settings):
            key = _identity(read)
            if key not in seen:
                seen.add(key)
                reads.append(dict(read, key=key))
        groups += [g for g in API_GROUPS[obj['kind']] if g not in groups]
    return {'reads': reads, 'api_groups': groups}


def shared_read_of(answer, obj, bench_settings=None):
    """{objects, api_groups_served} of `obj` from a k8s_multi_info answer to shared_reads, as its own read gives them."""
    objects = answer.get('objects') or {}
    served = answer.get('api_groups_served') or {}
    return {'objects': dict((read['key'], objects.get(_identity(read), [])) for read in _reads_of(obj, bench_settings)),
            'api_groups_served': dict((g, served.get(g, False)) for g in API_GROUPS[obj['kind']])}


# What a round of playbooks/site.yml reads of the custom resources in each namespace of its manifest: each
# kind under the key <prefix><namespace>.
ROUND_READ_PREFIXES = {'FrappeBench': 'benches-', 'FrappeSite': 'sites-', 'SiteBackup': 'sitebackups-',
                       'SiteRestore': 'siterestores-', 'SiteMigration': 'sitemigrations-'}
# The kinds whose namespaces each kind is read in: a namespace with a bench or a site has its benches and sites
# read; one with any of those or a SiteBackup its SiteBackups (one deleted there is finished by the round too).
ROUND_READ_WHERE = {'FrappeBench': ('FrappeBench', 'FrappeSite'), 'FrappeSite': ('FrappeBench', 'FrappeSite'),
                    'SiteBackup': ('FrappeBench', 'FrappeSite', 'SiteBackup'), 'SiteRestore': ('SiteRestore',),
                    'SiteMigration': ('SiteMigration',)}


def round_reads(manifest):
    """The k8s_multi_info reads of a round for the custom resources of the manifest's namespaces."""
    reads = []
    for kind, prefix in ROUND_READ_PREFIXES.items():
        namespaces = []
        for obj in manifest or []:
            namespace = obj['metadata']['namespace']
            if obj.get('kind') in ROUND_READ_WHERE[kind] and namespace not in namespaces:
                namespaces.append(namespace)
        reads += [{'key': prefix + namespace, 'api_version': API_VERSION, 'kind': kind,
                   'namespace': namespace} for namespace in namespaces]
    return reads


def round_objects(objects):
    """The custom resources of a round's read (round_reads), without what it read for the benches."""
    prefixes = tuple(ROUND_READ_PREFIXES.values())
    return dict((key, found) for key, found in (objects or {}).items() if key.startswith(prefixes))


def being_deleted(objects, manifest, kinds=('FrappeSite', 'SiteBackup')):
    """The objects of `kinds` that a round's read (k8s_multi_info objects) found being deleted and that are not in
    the manifest (a list of objects), in the order read: outside the operator nothing else finishes their deletion."""
    listed = set((obj.get('kind'), obj['metadata'].get('namespace'), obj['metadata']['name']) for obj in manifest or [])
    out = []
    for kind in kinds:
        for key, found in (objects or {}).items():
            if not key.startswith(ROUND_READ_PREFIXES[kind]):
                continue
            for obj in found:
                metadata = obj.get('metadata') or {}
                if metadata.get('deletionTimestamp') and (kind, metadata.get('namespace'), metadata.get('name')) \
                        not in listed:
                    out.append(obj)
    return out
