# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fields of the Go frappe-operator's FrappeBench and FrappeSite that this collection reads its own way.

Manifests written for the Go operator keep working: every field of its
v1alpha1 and v1 APIs is either honoured or refused with a message naming the
field and what to do instead; none is dropped silently. docs/MIGRATING.md
holds the whole table (tests/unit/test_migrating_table.py keeps it equal to
the CRDs and to this module).

- Older spellings, read as the current field once before anything looks at the
  spec (current_spelling): spec.version (frappeVersion), a JSON array of app
  names in spec.appsJSON (apps), spec.apps[].source as {type: ...},
  spec.componentAutoscaling.worker{Short,Long,Default} (worker-short, ...),
  spec.componentReplicas.workers.* (the worker static replicas) and
  spec.componentReplicas.scheduler (only 1).
- Refused (REFUSED_BENCH, REFUSED_SITE): what installs apps at run time (FPM
  packages, Git) where this collection runs the apps built into the image,
  and what it does not do yet.
- Accepted and said once per bench (bench_ignored_fields): what only tunes the
  Go operator itself, and a Dragonfly cache.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.autoscaling import LEGACY_REPLICA_FIELDS

# componentAutoscaling keys some of the Go operator's manifests spell in camelCase.
CAMEL_WORKER_KEYS = {'workerShort': 'worker-short', 'workerLong': 'worker-long', 'workerDefault': 'worker-default'}
IMAGE_WAY = ('build an image with the apps (frappe_docker\'s images/custom with an apps.json) and set '
             'spec.imageConfig to it, with each app listed in spec.apps as {name, source: image}')

EXTERNAL_REDIS = ('an external Redis is named by spec.redisConfig.connectionSecretRef, a Secret with keys host and port '
                  '(and password when it needs one)')
# Field path -> what to do instead. Refused when set to anything but empty (or false).
REFUSED_BENCH = {
    'spec.fpmConfig.repositories': 'apps are not installed from FPM packages at run time: ' + IMAGE_WAY,
    'spec.fpmConfig.defaultRepo': 'apps are not installed from FPM packages at run time: ' + IMAGE_WAY,
    'spec.dbConfig': 'a bench-wide database default for its sites is not read here; set spec.dbConfig on each '
                     'FrappeSite',
    'spec.redisConfig.host': EXTERNAL_REDIS,
    'spec.redisConfig.port': EXTERNAL_REDIS,
    'spec.redisConfig.external': EXTERNAL_REDIS,
    'spec.commonSiteConfig': 'common_site_config.json is written by the configuration Job from the bench\'s own '
                             'fields (Redis, queues, socket.io); other keys are not written by this collection yet',
    'spec.gunicornAutoscaling': 'write it as spec.componentAutoscaling.gunicorn: enabled, minReplicas, maxReplicas '
                                'and hpa.targetUtilization (docs/FRAPPEBENCH.md, "Production checklist")',
    'spec.nginxAutoscaling': 'write it as spec.componentAutoscaling.nginx: enabled, minReplicas, maxReplicas and '
                             'hpa.targetUtilization (docs/FRAPPEBENCH.md, "Production checklist")',
    'spec.socketIOAutoscaling': 'socket.io runs one replica: Frappe\'s realtime server keeps its rooms in the process '
                                '(docs/FRAPPEBENCH.md, "Production checklist")',
    'spec.namespacePolicy': 'create the namespace\'s ResourceQuota and LimitRange yourself; the collection\'s '
                            'ClusterRole does not manage them',
    'spec.jobResources.appInstall': 'apps are installed by bench new-site, sized by spec.jobResources.siteInit',
    'spec.jobResources.cron': 'no Job runs the apps\' scheduled jobs here: the scheduler enqueues them for the '
                              'workers, sized by spec.componentResources',
}
REFUSED_SITE = {
    'spec.encryptionKeySecretRef': 'the site\'s encryption_key is the one bench new-site writes; to bring sites '
                                   'with their own key, restore them with a SiteRestore, which keeps the key of the '
                                   'backup\'s site_config.json',
    'spec.routeConfig': 'the site is served through an Ingress; on OpenShift the router makes a Route of it (set '
                        'spec.ingress.className for its router)',
    'spec.skipInit': 'a site is created by bench new-site; to bring an existing database, create the site and '
                     'restore it into it with a SiteRestore',
    'spec.dbConfig.postgresRef': 'PostgreSQL sites are not provisioned by this collection yet: use provider: mariadb',
    'spec.dbConfig.postgresEngine': 'PostgreSQL sites are not provisioned by this collection yet: use provider: '
                                    'mariadb',
    'spec.dbConfig.maxStatementTimeSeconds': 'set max_statement_time on the MariaDB server (its myCnf); the '
                                             'collection does not write server settings',
}
# Taken with provider: external (the database's address), refused with any other.
REFUSED_SITE_UNLESS_EXTERNAL = {
    'spec.dbConfig.host': 'it is the address of a database of provider: external; a server this collection makes '
                          'databases on is named by spec.dbConfig.mariadbRef, or by spec.dbConfig.connectionSecretRef '
                          '(a Secret with keys host, port, username and password of an administrative login)',
    'spec.dbConfig.port': 'it is the port of a database of provider: external, with spec.dbConfig.host',
}
# Taken with mode: dedicated (the image of the site's own MariaDB), refused on a server of someone else's.
REFUSED_SITE_UNLESS_DEDICATED = {
    'spec.dbConfig.image': 'it is the image of the MariaDB a site of mode: dedicated runs; a shared server runs the '
                           'image its owner set on it',
}
# Accepted and said once per bench: why they change nothing here.
IGNORED_BENCH = {
    'spec.siteReconcileConcurrency': 'the Go operator\'s worker count; here watches.yaml sets the reconciles that run '
                                     'at once (maxConcurrentReconciles)',
}


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _get(spec, path):
    value = {'spec': spec}
    for part in path.split('.'):
        if not isinstance(value, dict) or value.get(part) in (None, '', [], {}):
            return None
        value = value[part]
    return value


def _apps_json(spec, errors):
    """The app names of spec.appsJSON (a JSON array of names), refused when it is anything else."""
    text = spec.get('appsJSON')
    if text in (None, ''):
        return None
    try:
        names = json.loads(text)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        errors.append('spec.appsJSON must be a JSON array of app names such as ["erpnext", "hrms"]: apps with a URL or '
                      'branch are not installed at run time here; ' + IMAGE_WAY)
        return None
    return names


def current_spelling(spec):
    """(spec, errors): a copy of a FrappeBench spec with the Go operator's older spellings moved to the current
    fields, and the refusals of what this collection does not do."""
    if not isinstance(spec, dict):
        return spec, []
    spec = copy.deepcopy(spec)
    errors = []
    version = spec.pop('version', None)
    if version not in (None, ''):
        if spec.get('frappeVersion') in (None, ''):
            spec['frappeVersion'] = version
        elif str(spec['frappeVersion']) != str(version):
            errors.append('spec.version (%s) and spec.frappeVersion (%s) disagree: spec.version is the older spelling '
                          'of spec.frappeVersion; keep only spec.frappeVersion' % (version, spec['frappeVersion']))
    names = _apps_json(spec, errors)
    listed = [a.get('name') for a in spec.get('apps') or [] if isinstance(a, dict)]
    if names is not None:
        if not listed:
            spec['apps'] = [{'name': n, 'source': 'image'} for n in names]
        elif sorted(set(names)) != sorted(set(listed)):
            errors.append('spec.appsJSON (%s) and spec.apps (%s) name different apps: spec.appsJSON is the older '
                          'spelling; keep only spec.apps' % (', '.join(names), ', '.join(listed)))
    spec.pop('appsJSON', None)
    for index, app in enumerate(spec.get('apps') or []):
        if isinstance(_mapping(app).get('source'), dict):
            # An older shape: source: {type: image}.
            app['source'] = app['source'].get('type')
        source = _mapping(app).get('source')
        if source in ('fpm', 'git'):
            errors.append('spec.apps[%d] (%s) has source %s: apps are not installed from %s at run time here; %s'
                          % (index, _mapping(app).get('name'), source, 'FPM packages' if source == 'fpm' else 'Git',
                             IMAGE_WAY))
        elif source not in (None, 'image'):
            errors.append('spec.apps[%d].source must be image (or fpm or git, which are refused here), got %r'
                          % (index, source))
    if _mapping(spec.get('gitConfig')).get('enabled') is True:
        errors.append('spec.gitConfig.enabled: true: apps are not installed from Git at run time here; ' + IMAGE_WAY)
    for path, instead in sorted(REFUSED_BENCH.items()):
        if _get(spec, path) not in (None, False):
            errors.append('%s is not taken: %s' % (path, instead))
    scaling = spec.get('componentAutoscaling')
    for camel, key in sorted(CAMEL_WORKER_KEYS.items()):
        if isinstance(scaling, dict) and camel in scaling:
            block = scaling.pop(camel)
            if key in scaling and scaling[key] != block:
                errors.append('spec.componentAutoscaling.%s and spec.componentAutoscaling.%s both set the %s worker: '
                              'keep %s' % (camel, key, key[len('worker-'):], key))
            else:
                scaling[key] = block
    replicas = spec.get('componentReplicas')
    if isinstance(replicas, dict):
        scheduler = replicas.pop('scheduler', None)
        if scheduler is not None and scheduler != 1:
            errors.append('spec.componentReplicas.scheduler must be 1, got %r: a bench runs one scheduler (a second '
                          'would enqueue every scheduled job twice). Remove the field' % (scheduler,))
        workers = replicas.pop('workers', None)
        if workers is not None and not isinstance(workers, dict):
            errors.append('spec.componentReplicas.workers must be a mapping {short, long, default}, got %r'
                          % (workers,))
        for worker_type, value in sorted(_mapping(workers).items()):
            field = LEGACY_REPLICA_FIELDS.get(worker_type)
            if field is None:
                errors.append('spec.componentReplicas.workers.%s is not a worker: use short, long or default'
                              % worker_type)
            elif value is None:
                continue
            elif replicas.get(field) is not None and replicas[field] != value:
                errors.append('spec.componentReplicas.workers.%s (%r) and spec.componentReplicas.%s (%r) disagree: '
                              'keep one of them' % (worker_type, value, field, replicas[field]))
            else:
                replicas[field] = value
    return spec, errors


def site_refusals(spec):
    """What a FrappeSite spec sets that this collection does not do, each with what to do instead."""
    spec = _mapping(spec)
    refused = dict(REFUSED_SITE)
    db = _mapping(spec.get('dbConfig'))
    if db.get('provider') != 'external':
        refused.update(REFUSED_SITE_UNLESS_EXTERNAL)
    if db.get('mode') != 'dedicated':
        refused.update(REFUSED_SITE_UNLESS_DEDICATED)
    errors = ['%s is not taken: %s' % (path, instead) for path, instead in sorted(refused.items())
              if _get(spec, path) not in (None, False)]
    return errors


def bench_ignored_fields(spec):
    """'<field>: <why>' for every field of `spec` that is accepted but changes nothing here."""
    spec = _mapping(spec)
    notes = ['%s: %s' % (path, why) for path, why in sorted(IGNORED_BENCH.items()) if _get(spec, path) is not None]
    if (_mapping(spec.get('redisConfig')).get('type') or 'redis') == 'dragonfly':
        notes.append('spec.redisConfig.type dragonfly: the in-cluster cache and queue run Redis '
                     '(spec.redisConfig.image); point spec.redisConfig.connectionSecretRef at a Dragonfly server to use one')
    return notes
