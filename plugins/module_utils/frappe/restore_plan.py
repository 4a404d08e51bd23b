# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a SiteRestore asks for, the one Job that does it, and its status.

The CRD (config/crd/bases/vyogo.tech_siterestores.yaml) takes the Go
frappe-operator's fields (site, benchRef, databaseBackupSource,
publicFilesSource, privateFilesSource, adminPasswordSecretRef, force) and
ours: backupRef (a set of a SiteBackup by its name and time) and
siteConfigSource (the site_config_backup.json whose encryption_key the
restored database needs). A restore runs once: its Job has a fixed name, and
a SiteRestore that finished is never run again (create another one).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness
from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import compute_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import (
    BACKUPS_DIR, PASSPHRASE_FILE, _endpoint, _mapping, backup_spec, bench_job_settings, find_site, run_outcome,
    s3_settings)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import restore_names, site_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.plan_input import (
    check_plan_input, site_job_reads)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_plan import MARIADB_API, db_config

# Each source field, the kind of file it gives (backup_sets.RESTORE_KINDS) and the prefix of its credentials'
# environment variables in the Job.
SOURCES = (('databaseBackupSource', 'database', 'RESTORE_DATABASE'),
           ('publicFilesSource', 'files', 'RESTORE_PUBLIC_FILES'),
           ('privateFilesSource', 'private-files', 'RESTORE_PRIVATE_FILES'),
           ('siteConfigSource', 'site_config_backup', 'RESTORE_SITE_CONFIG'))
SET_CREDENTIALS = 'RESTORE_SET'
# Where the restore Job keeps what it fetched (an emptyDir), and where CA bundles are mounted.
WORKDIR = '/tmp/restore'
CA_DIR = '/var/run/vyogo.tech/s3-ca'
BENCH_APPS_FILE = WORKDIR + '/bench-apps.json'
SCRIPT_DIR = '/opt/vyogo.tech/restore'
KEY_PAD_DIR = '/var/run/vyogo.tech/key-pad'
# The Job's phases: its state (readiness.job_finished), else Running.
FINISHED = ('Completed', 'Failed')


def _source(field, given, errors):
    """One file source: {type: local, path} or {type: s3, s3, key}; errors name the field and the fix."""
    local, s3 = given.get('localPath'), given.get('s3')
    if bool(local) == bool(s3):
        errors.append('spec.%s: give exactly one of localPath (a file on the sites volume) and s3 (bucket and key).'
                      % field)
        return None
    if local:
        if local.startswith('/') or '..' in local.split('/'):
            errors.append('spec.%s.localPath %s: give a path relative to the bench directory without "..", e.g. '
                          'sites/<site>/private/backups/<file>.' % (field, local))
            return None
        return {'type': 'local', 'path': local}
    settings = s3_settings(s3)
    for name in ('bucket', 'key', 'accessKeyIdSecretKeyRef', 'secretAccessKeySecretKeyRef'):
        if not settings.get(name):
            errors.append('spec.%s.s3.%s is missing.' % (field, name))
    return {'type': 's3', 's3': settings, 'key': settings.get('key', '')}


def restore_spec(restore):
    """The SiteRestore `restore` in one shape, and the errors that refuse it.

    Returns (spec, errors): spec has site, bench, sources (kind -> source) or
    backup ({name, set}), admin_password ({name, key} or None) and force.
    """
    given = _mapping(restore.get('spec'))
    errors = []
    backup = _mapping(given.get('backupRef'))
    sources = {}
    if backup and any(given.get(field) for field, _kind, _env in SOURCES):
        errors.append('spec.backupRef names a set of a SiteBackup, which holds every file: leave out '
                      'databaseBackupSource, publicFilesSource, privateFilesSource and siteConfigSource, or '
                      'backupRef.')
    elif backup:
        if not backup.get('name'):
            errors.append('spec.backupRef.name is missing: name the SiteBackup whose set to restore.')
    elif not given.get('databaseBackupSource'):
        errors.append('spec: give databaseBackupSource (the database dump), or backupRef (a set of a SiteBackup).')
    else:
        for field, kind, _env in SOURCES:
            if given.get(field):
                source = _source(field, _mapping(given[field]), errors)
                if source:
                    sources[kind] = source
    admin = _mapping(given.get('adminPasswordSecretRef'))
    if admin and not (admin.get('name') and admin.get('key')):
        errors.append('spec.adminPasswordSecretRef needs name and key.')
    return {'site': given.get('site', ''), 'bench': _mapping(given.get('benchRef')).get('name', ''),
            'sources': sources, 'backup': {'name': backup.get('name', ''), 'set': backup.get('set', '')} if backup
            else None, 'admin_password': admin or None, 'force': bool(given.get('force'))}, errors


def restore_reads(restore):
    """What a reconcile of the SiteRestore `restore` reads first, in one k8s_multi_info run."""
    return site_job_reads(restore, 'vyogo.tech/site-restore', (('backups', 'SiteBackup'),))


def _site_of(restore, live):
    return find_site(live.get('sites'), _mapping(restore.get('spec')).get('site', ''))


def restore_server_reads(restore, live):
    """The database server object the site's restore needs the administrative login of (a second read), if any."""
    site = _site_of(restore, live or {})
    db = db_config(_mapping((site or {}).get('spec')))
    namespace = restore['metadata']['namespace']
    if site is None or db.get('connectionSecretRef'):
        return []
    if (db.get('mode') or 'shared') == 'dedicated':
        return [{'key': 'server', 'api_version': MARIADB_API, 'kind': 'MariaDB', 'namespace': namespace,
                 'name': site_names(site['metadata']['name'])['mariadb']}]
    ref = _mapping(db.get('mariadbRef'))
    if not ref.get('name') or (ref.get('namespace') or namespace) != namespace:
        return []
    return [{'key': 'server', 'api_version': MARIADB_API, 'kind': ref.get('kind') or 'MariaDB',
             'namespace': namespace, 'name': ref['name']}]


def _admin_login(site, live, namespace):
    """The environment of the server's administrative login: bench restore drops and makes the database again
    (frappe/installer.py _new_site -> setup_database) with it. (env, error)."""
    db = db_config(_mapping(site.get('spec')))
    if db.get('provider') == 'external':
        return [], ('FrappeSite %s has provider: external, whose Secret is the site\'s own login, and bench restore '
                    'drops and makes the database again with an administrative login. Restore into a FrappeSite on a '
                    'server this collection can make databases on (spec.dbConfig.mariadbRef or a connectionSecretRef '
                    'of an administrative login), or restore the database on its server yourself'
                    % site['metadata']['name'])
    if db.get('connectionSecretRef'):
        secret = db['connectionSecretRef']['name']
        return [{'name': 'DB_ROOT_USERNAME', 'valueFrom': {'secretKeyRef': {'name': secret, 'key': 'username'}}},
                {'name': 'DB_ROOT_PASSWORD', 'valueFrom': {'secretKeyRef': {'name': secret, 'key': 'password'}}}], ''
    server = next(iter(live.get('server') or []), None)
    spec = _mapping(_mapping(server).get('spec'))
    ref = _mapping(spec.get('rootPasswordSecretKeyRef') if _mapping(server).get('kind') != 'ExternalMariaDB'
                   else spec.get('passwordSecretKeyRef'))
    if not ref and (db.get('mode') or 'shared') == 'dedicated':
        # The site's own MariaDB: its root Secret is the one the site role names (database/mariadb.yaml.j2).
        ref = {'name': site_names(site['metadata']['name'])['mariadb_root_secret'], 'key': 'password'}
    if not ref.get('name'):
        where = _mapping(db.get('mariadbRef'))
        return [], ('the database server of FrappeSite %s gives this namespace no administrative login, which bench '
                    'restore needs (it drops and makes the database again): a MariaDB of the MariaDB Operator in '
                    'namespace %s with rootPasswordSecretKeyRef (or an ExternalMariaDB with passwordSecretKeyRef), or '
                    'an external server by spec.dbConfig.connectionSecretRef. Its server is %s.'
                    % (site['metadata']['name'], namespace,
                       '%s/%s' % (where.get('namespace') or namespace, where.get('name')) if where.get('name')
                       else 'not found'))
    password = {'name': ref['name'], 'key': ref.get('key') or 'password'}
    return [{'name': 'DB_ROOT_USERNAME', 'value': spec.get('username') or 'root'},
            {'name': 'DB_ROOT_PASSWORD', 'valueFrom': {'secretKeyRef': password}}], ''


def _s3_config(settings, env_prefix, ca_name, mounts, env):
    """The store configuration of one bucket; its credentials become environment, its CA bundle a file."""
    env.extend([{'name': env_prefix + '_ACCESS_KEY_ID',
                 'valueFrom': {'secretKeyRef': settings['accessKeyIdSecretKeyRef']}},
                {'name': env_prefix + '_SECRET_ACCESS_KEY',
                 'valueFrom': {'secretKeyRef': settings['secretAccessKeySecretKeyRef']}}])
    ca = _mapping(_mapping(settings.get('tls')).get('caSecretKeyRef'))
    ca_file = ''
    if ca:
        mounts.append({'volume': 'ca-' + ca_name.replace('_', '-'), 'secret': ca['name'], 'key': ca['key'],
                       'dir': '%s/%s' % (CA_DIR, ca_name), 'file': 'ca.crt'})
        ca_file = '%s/%s/ca.crt' % (CA_DIR, ca_name)
    return {'bucket': settings.get('bucket', ''), 'endpoint': _endpoint(settings),
            'region': settings.get('region', ''), 'forcePathStyle': bool(settings.get('forcePathStyle')),
            'caFile': ca_file, 'credentials': {'accessKeyId': env_prefix + '_ACCESS_KEY_ID',
                                               'secretAccessKey': env_prefix + '_SECRET_ACCESS_KEY'}}


def restore_plan(restore, live=None, settings=None, mode='apply', script='', library=''):
    """The reconcile plan of one SiteRestore: its Job, or why it waits or is refused."""
    check_plan_input('restore_plan', 'SiteRestore', restore, mode, settings, 'frappe_site_restore_settings')
    live = live or {}
    meta = restore['metadata']
    name, namespace = meta['name'], meta['namespace']
    plan = {'name': name, 'namespace': namespace, 'names': restore_names(name), 'errors': [], 'render': [],
            'waiting': '', 'done': _mapping(restore.get('status')).get('phase') in FINISHED and
            bool(_mapping(restore.get('status')).get('restoreJob'))}
    refuse = 'SiteRestore %s/%s cannot be reconciled: %s Nothing was changed.'
    spec, errors = restore_spec(restore)
    if errors:
        plan['errors'].append(refuse % (namespace, name, ' '.join(errors)))
        return plan
    site = _site_of(restore, live)
    if site is None:
        plan['errors'].append(refuse % (namespace, name, 'spec.site %s names no FrappeSite in namespace %s (by its '
                                        'name or its spec.siteName): create the site first (a new site is restored '
                                        'into), or correct spec.site.' % (spec['site'], namespace)))
        return plan
    site_spec = _mapping(site.get('spec'))
    bench_name = _mapping(site_spec.get('benchRef')).get('name', '')
    if spec['bench'] and spec['bench'] != bench_name:
        plan['errors'].append(refuse % (namespace, name, 'spec.benchRef.name is %s, but FrappeSite %s is on bench %s: '
                                        'correct spec.benchRef, or leave it out.'
                                        % (spec['bench'], site['metadata']['name'], bench_name)))
        return plan
    if mode == 'apply' and not meta.get('uid'):
        plan['errors'].append('In apply mode the role needs the live SiteRestore (metadata.uid is missing).')
        return plan
    env, mounts = [], []
    config = {'site': site_spec.get('siteName', ''), 'workdir': WORKDIR, 'benchAppsFile': BENCH_APPS_FILE,
              'force': spec['force']}
    claim = ''
    if spec['backup']:
        backup = next((b for b in live.get('backups') or [] if b['metadata']['name'] == spec['backup']['name']), None)
        if backup is None:
            plan['errors'].append(refuse % (namespace, name, 'spec.backupRef.name %s names no SiteBackup in namespace '
                                            '%s: name the SiteBackup that stored the set (create it again with the '
                                            'same storage if it was deleted: its sets stay).'
                                            % (spec['backup']['name'], namespace)))
            return plan
        backup_site = find_site(live.get('sites'), _mapping(backup.get('spec')).get('site', ''))
        if backup_site is None:
            plan['errors'].append(refuse % (namespace, name, 'SiteBackup %s backs up %s, which is no FrappeSite of '
                                            'namespace %s: its sets are found under that site\'s name.'
                                            % (spec['backup']['name'], _mapping(backup.get('spec')).get('site'),
                                               namespace)))
            return plan
        bspec, berrors = backup_spec(backup, backup_site['metadata']['name'])
        if berrors:
            why = 'SiteBackup %s: %s' % (backup['metadata']['name'], ' '.join(berrors))
            plan['errors'].append(refuse % (namespace, name, why))
            return plan
        if bspec['storage']['type'] == 's3':
            storage = {'type': 's3', 's3': _s3_config(bspec['storage']['s3'], SET_CREDENTIALS, 'set', mounts, env)}
            prefix = bspec['storage']['s3'].get('prefix', '')
        else:
            storage, prefix, claim = {'type': 'pvc', 'directory': BACKUPS_DIR}, '', bspec['storage']['claim']
        if bspec['encryption']['enabled']:
            secret = bspec['encryption']['secret']
            mounts.append({'volume': 'backup-key', 'secret': secret['name'], 'key': secret['key'],
                           'dir': PASSPHRASE_FILE.rsplit('/', 1)[0], 'file': 'passphrase'})
        config['set'] = {'storage': storage, 'prefix': prefix, 'namespace': namespace,
                         'site': _mapping(backup_site.get('spec')).get('siteName', ''),
                         'backup': backup['metadata']['name'], 'stamp': spec['backup']['set'],
                         'passphraseFile': PASSPHRASE_FILE if bspec['encryption']['enabled'] else ''}
    else:
        config['sources'] = {}
        for _field, kind, env_prefix in SOURCES:
            source = spec['sources'].get(kind)
            if source and source['type'] == 's3':
                source = {'type': 's3', 'key': source['key'],
                          's3': _s3_config(source['s3'], env_prefix, kind, mounts, env)}
            if source:
                config['sources'][kind] = source
    if spec['force']:
        # Only force replaces a key. Optional: render mode renders no pad (it would be a secret in the output),
        # and without one the replaced key is kept on the sites volume only.
        mounts.append({'volume': 'key-pad', 'secret': plan['names']['key_pad'], 'key': 'pad', 'dir': KEY_PAD_DIR,
                       'file': 'pad', 'optional': True})
        config['keyPadFile'] = KEY_PAD_DIR + '/pad'
    login, problem = _admin_login(site, live, namespace)
    if problem:
        plan['errors'].append(refuse % (namespace, name, problem))
        return plan
    env.extend(login)
    if spec['admin_password']:
        env.append({'name': 'ADMIN_PASSWORD', 'valueFrom': {'secretKeyRef': spec['admin_password']}})
    plan.update(spec=spec, config=config, env=env, secret_files=mounts, backups_claim=claim,
                site={'name': site['metadata']['name'], 'site_name': site_spec.get('siteName', '')},
                key_pad=plan['names']['key_pad'] if spec['force'] else '')
    plan['bench'] = bench_job_settings(site, live.get('benches'), settings['run_as_user'], 'restore')
    plan['labels'] = {'app.kubernetes.io/name': 'frappe', 'app.kubernetes.io/part-of': 'frappe',
                      'app.kubernetes.io/managed-by': settings['managed_by'],
                      'app.kubernetes.io/component': 'restore', 'vyogo.tech/bench': bench_name,
                      'vyogo.tech/site': site['metadata']['name'], 'vyogo.tech/site-restore': name}
    plan['owner_references'] = [] if mode != 'apply' else [{
        'apiVersion': settings['api_version'], 'kind': settings['kind'], 'name': name, 'uid': meta['uid'],
        'controller': True, 'blockOwnerDeletion': True}]
    plan['script'], plan['library'] = script, library
    plan['job'] = {'name': plan['names']['job'], 'args': ['bash', '-c', script, 'site-restore', config['site']] +
                   (['--force'] if spec['force'] else [])}
    if not plan['bench']['image'] or not plan['bench']['sites_claim']:
        plan['waiting'] = 'FrappeBench %s has not published its image and sites volume yet' % bench_name
    elif mode == 'apply' and _mapping(site.get('status')).get('phase') != 'Ready':
        plan['waiting'] = 'FrappeSite %s is not Ready yet (a site is restored into once it exists)' % (
            site['metadata']['name'])
    job_exists = any(j['metadata']['name'] == plan['job']['name'] for j in live.get('jobs') or [])
    # Once: a finished restore is never run again, and a Job that exists is not changed (its spec is immutable).
    if mode == 'render' or (not plan['done'] and not plan['waiting'] and not job_exists):
        for kind, obj_name, template in (('ConfigMap', plan['names']['script'], 'restore/script.yaml.j2'),
                                         ('Job', plan['job']['name'], 'restore/job.yaml.j2')):
            plan['render'].append({'kind': kind, 'name': obj_name, 'template': template, 'vars': {'name': obj_name}})
    return plan


def restore_status(plan, live, restore):
    """Phase, message, the Job, its completion time and what it restored, from the Job and its pod."""
    current = _mapping(restore.get('status'))
    if plan['done']:
        return {'status': current, 'conditions': [], 'phase': current.get('phase'), 'unchanged': True,
                'kept_key': None, 'site_schema': None}
    job = next((j for j in (live or {}).get('jobs') or [] if j['metadata']['name'] == plan['job']['name']), None)
    state = readiness.job_finished(job) if job else ''
    outcome = run_outcome(job, (live or {}).get('pods')) if state else {}
    patch = {'restoreJob': plan['job']['name'] if job else ''}
    kept_key = None
    # What the restored database's schema is made for, for the FrappeSite's status.schema (written once, as the
    # SiteRestore finishes): what its bench's next upgrade compares with.
    site_schema = None
    if job is None:
        phase = 'Pending'
        message = 'Waiting: %s.' % plan['waiting'] if plan['waiting'] else 'The restore Job is about to start.'
    elif not state:
        phase, message = 'Running', 'Restore Job %s is running.' % plan['job']['name']
    elif state == 'Failed':
        phase = 'Failed'
        why = outcome.get('error') or 'see kubectl logs -n %s job/%s' % (plan['namespace'], plan['job']['name'])
        message = 'Restore of %s failed: %s' % (plan['site']['site_name'], why)
    else:
        phase = 'Completed'
        message = 'Restored %s%s%s%s.' % (
            plan['site']['site_name'], ' from set %s' % outcome['set'] if outcome.get('set') else '',
            ', migrated' if outcome.get('migrated') else '',
            '; encryption key %s' % outcome['encryptionKey'] if outcome.get('encryptionKey') else
            ' (the Job left no outcome: see its log)')
        if outcome.get('schemaVersions'):
            site = find_site((live or {}).get('sites'), plan['site']['name']) or {}
            recorded = _mapping(_mapping(_mapping(site.get('status')).get('schema')).get('versions'))
            # A merge patch keeps keys it does not name: an app the restored site lacks is named with null.
            site_schema = {'job': plan['job']['name'],
                           'versions': dict(dict((app, None) for app in recorded), **outcome['schemaVersions'])}
        patch.update(completionTime=_mapping(job.get('status')).get('completionTime') or '',
                     restoredSet=outcome.get('set', ''), restoredFrom=outcome.get('location', ''),
                     migrated=bool(outcome.get('migrated')), encryptionKey=outcome.get('encryptionKey', ''))
        if outcome.get('previousKeySealed') and plan.get('key_pad'):
            patch['previousKeySecret'] = plan['names']['previous_key']
            message += ' The replaced key is in Secret %s (key encryption_key).' % plan['names']['previous_key']
            # What the reconcile unseals into that Secret before it writes this status (frappe_site_restore's tasks,
            # with unseal_key).
            kept_key = {'sealed': outcome['previousKeySealed'],
                        'kept_config': 'sites/%s/%s' % (plan['site']['site_name'], outcome.get('keptConfig', ''))}
        elif outcome.get('keptConfig'):
            message += ' The replaced key is in sites/%s/%s on the sites volume.' % (
                plan['site']['site_name'], outcome['keptConfig'])
    patch.update(phase=phase, message=message,
                 observedGeneration=int(_mapping(restore.get('metadata')).get('generation') or 0))
    conditions = [{'type': 'Restored', 'status': 'True' if phase == 'Completed' else 'False' if phase == 'Failed'
                   else 'Unknown', 'reason': phase, 'message': message}]
    unchanged = compute_status(current, patch, conditions, now='unchanged') == current
    return {'status': patch, 'conditions': conditions, 'phase': phase, 'unchanged': unchanged,
            'kept_key': kept_key, 'site_schema': site_schema}
