# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a SiteBackup asks for, in one shape: the `bench backup` arguments, the storage, retention and encryption.

The CRD (config/crd/bases/vyogo.tech_sitebackups.yaml) accepts the Go
frappe-operator's fields beside ours; this library reads both spellings into
one shape and refuses what the schema cannot (include and exclude at once).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness
from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import compute_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import RETENTION_FIELDS
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.job_resources import job_resources
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_placement import site_job_pods
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import (
    JOB_HASH_LENGTH, backup_job_name, backup_names, backups_volume_name, final_job_name)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.plan_input import check_plan_input, refused_input

# The spec's flags and paths, and the `bench backup` option each becomes (frappe/commands/site.py backup).
FLAGS = (('withFiles', '--with-files'), ('compress', '--compress'), ('ignoreBackupConf', '--ignore-backup-conf'),
         ('verbose', '--verbose'))
PATHS = (('backupPathDB', '--backup-path-db'), ('backupPathConf', '--backup-path-conf'),
         ('backupPathFiles', '--backup-path-files'), ('backupPathPrivateFiles', '--backup-path-private-files'))
# The Go operator's spellings of the MariaDB Operator's S3 fields.
S3_ALIASES = (('accessKeySecret', 'accessKeyIdSecretKeyRef'), ('secretKeySecret', 'secretAccessKeySecretKeyRef'))


def bench_backup_args(spec, scratch):
    """`bench --site <site> backup` options for `spec`; the set goes to `scratch` unless backupPath says where."""
    args = ['--backup-path', spec.get('backupPath') or scratch]
    args += [option for field, option in FLAGS if spec.get(field)]
    args += [arg for field, option in PATHS if spec.get(field) for arg in (option, spec[field])]
    for field, option in (('include', '--include'), ('exclude', '--exclude')):
        if spec.get(field):
            args += [option, ','.join(spec[field])]
    return args


def s3_settings(s3):
    """The bucket settings in the MariaDB Operator's spelling, the Go operator's folded in."""
    settings = dict((key, value) for key, value in (s3 or {}).items()
                    if key not in ('useSSL',) + tuple(alias for alias, _field in S3_ALIASES))
    for alias, field in S3_ALIASES:
        if (s3 or {}).get(alias) and not settings.get(field):
            settings[field] = s3[alias]
    if 'useSSL' in (s3 or {}) and 'enabled' not in (settings.get('tls') or {}):
        settings['tls'] = dict(settings.get('tls') or {}, enabled=bool(s3['useSSL']))
    return settings


def backup_spec(backup, site_name):
    """The SiteBackup `backup` of the site `site_name` in one shape, and the errors that refuse it.

    Returns (spec, errors): spec has schedule, args (bench backup's options
    after --site), storage ({type, claim} or {type, s3}), retention,
    encryption ({enabled, secret: {name, key}, generated}) and deletionPolicy.
    """
    given = backup.get('spec') or {}
    name = backup['metadata']['name']
    errors = []
    if given.get('include') and given.get('exclude'):
        errors.append('spec.include and spec.exclude are both set: bench backup takes one of them; keep one.')
    storage = given.get('storage') or {}
    kind = storage.get('type') or 'pvc'
    if kind == 's3':
        s3 = s3_settings(storage.get('s3'))
        for field in ('accessKeyIdSecretKeyRef', 'secretAccessKeySecretKeyRef'):
            if not s3.get(field):
                errors.append('spec.storage.s3.%s is missing: name the Secret key that holds it.' % field)
        where = {'type': 's3', 's3': s3}
    else:
        where = {'type': 'pvc', 'claim': storage.get('pvc') or backups_volume_name(site_name)}
    encryption = given.get('encryption') or {}
    secret = encryption.get('keySecretRef')
    return {
        'name': name,
        'schedule': given.get('schedule') or '',
        'args': bench_backup_args(given, SCRATCH_DIR),
        'storage': where,
        'retention': dict((field, int(given['retention'][field])) for field in RETENTION_FIELDS
                          if (given.get('retention') or {}).get(field) is not None),
        # On by default for S3: a bucket is reached from outside the cluster.
        'encryption': {'enabled': bool(encryption.get('enabled', kind == 's3')),
                       'secret': secret or {'name': backup_names(name)['key_secret'], 'key': 'passphrase'},
                       'generated': not secret},
        'deletionPolicy': given.get('deletionPolicy') or 'Retain',
    }, errors


def _mapping(value):
    return value if isinstance(value, dict) else {}


def backup_reads(backup):
    """What a reconcile of the SiteBackup `backup` reads, in one k8s_multi_info run."""
    name, namespace = backup['metadata']['name'], backup['metadata']['namespace']
    selector = ['vyogo.tech/site-backup=%s' % name]
    n = backup_names(name)
    return [
        # The site by its name or its siteName, and its bench: both lists of the namespace.
        {'key': 'sites', 'api_version': 'vyogo.tech/v1alpha1', 'kind': 'FrappeSite', 'namespace': namespace},
        {'key': 'benches', 'api_version': 'vyogo.tech/v1alpha1', 'kind': 'FrappeBench', 'namespace': namespace},
        {'key': 'jobs', 'api_version': 'batch/v1', 'kind': 'Job', 'namespace': namespace, 'label_selectors': selector},
        {'key': 'cronjobs', 'api_version': 'batch/v1', 'kind': 'CronJob', 'namespace': namespace,
         'label_selectors': selector},
        # The end of each backup run's log, its termination message: what the status reports.
        {'key': 'pods', 'api_version': 'v1', 'kind': 'Pod', 'namespace': namespace, 'label_selectors': selector},
        # What the role applies, so a reconcile with nothing to change applies nothing.
        {'key': 'script', 'api_version': 'v1', 'kind': 'ConfigMap', 'namespace': namespace, 'name': n['script']},
        {'key': 'key_secret', 'api_version': 'v1', 'kind': 'Secret', 'namespace': namespace, 'name': n['key_secret']},
        {'key': 'claims', 'api_version': 'v1', 'kind': 'PersistentVolumeClaim', 'namespace': namespace},
    ]


def find_site(sites, wanted):
    """The FrappeSite `wanted` names: by metadata.name, else the one whose spec.siteName it is."""
    by_name = [s for s in sites or [] if s['metadata']['name'] == wanted]
    return (by_name or [s for s in sites or [] if _mapping(s.get('spec')).get('siteName') == wanted] or [None])[0]


# Where the backup Job finds what the plan gives it (templates/backup/job.yaml.j2 mounts them).
SCRIPT_DIR = '/opt/vyogo.tech/backup'
PASSPHRASE_FILE = '/var/run/vyogo.tech/backup-key/passphrase'
CA_FILE = '/var/run/vyogo.tech/s3-ca/ca.crt'
BACKUPS_DIR = '/backups'
SCRATCH_DIR = '/tmp/backup-set'
APPS_FILE = '/tmp/backup-apps.json'


def _endpoint(s3):
    """The endpoint as a URL: host[:port] gets https:// unless TLS is off (tls.enabled false, useSSL false)."""
    endpoint = s3.get('endpoint') or ''
    if not endpoint or '://' in endpoint:
        return endpoint
    return ('http://' if _mapping(s3.get('tls')).get('enabled') is False else 'https://') + endpoint


def _bench_of(site, benches):
    wanted = _mapping(_mapping(site.get('spec')).get('benchRef')).get('name')
    return next((b for b in benches or [] if b['metadata']['name'] == wanted), None)


def bench_job_settings(site, benches, uid, kind='backup'):
    """What a Job of a SiteBackup or SiteRestore takes from the site's bench: the image and sites volume its
    reconcile published, pulling, and the resources of its jobResources `kind` (backup or restore)."""
    bench = _bench_of(site, benches)
    status = _mapping((bench or {}).get('status'))
    image_config = _mapping(_mapping((bench or {}).get('spec')).get('imageConfig'))
    return {'name': _mapping(_mapping(site.get('spec')).get('benchRef')).get('name', ''),
            'image': status.get('image', ''), 'sites_claim': status.get('sitesClaim', ''),
            'sites_access_mode': status.get('sitesAccessMode') or 'ReadWriteMany',
            'pull_policy': image_config.get('pullPolicy') or 'IfNotPresent',
            'pull_secrets': image_config.get('pullSecrets') or [],
            'resources': job_resources(_mapping((bench or {}).get('spec')), kind),
            'pods': site_job_pods(bench, uid, site)}


def _storage_config(spec):
    """Where the store step finds the sets: the bucket (no credentials: those are environment) or /backups."""
    storage = spec['storage']
    if storage['type'] == 's3':
        s3 = storage['s3']
        return {'type': 's3', 's3': {'bucket': s3['bucket'], 'endpoint': _endpoint(s3), 'region': s3.get('region', ''),
                                     'forcePathStyle': bool(s3.get('forcePathStyle')),
                                     'caFile': CA_FILE if _mapping(s3.get('tls')).get('caSecretKeyRef') else ''}}, \
            s3.get('prefix', '')
    return {'type': 'pvc', 'directory': BACKUPS_DIR}, ''


def forget_plan(backup, live, settings, forget_script='', library=''):
    """The deletion of a SiteBackup: with deletionPolicy Delete, the Job that deletes the sets it made.

    It runs on the image the backups ran on and names the site as the last
    reconcile recorded it (status.image, status.frappeSite, status.siteName),
    so it works with the site and the bench already gone; a SiteBackup that
    never recorded them stored nothing and goes at once.
    """
    meta, status = backup['metadata'], _mapping(backup.get('status'))
    name, namespace = meta['name'], meta['namespace']
    spec, _errors = backup_spec(backup, status.get('frappeSite', ''))
    plan = {'name': name, 'namespace': namespace, 'names': backup_names(name), 'errors': [], 'warnings': [],
            'render': [], 'waiting': '', 'deleting': True, 'deletion_policy': spec['deletionPolicy'], 'forget': None}
    if spec['deletionPolicy'] != 'Delete' or not (status.get('image') and status.get('siteName')):
        return plan
    where, prefix = _storage_config(spec)
    plan.update(spec=spec, script=forget_script, library=library,
                store_config={'namespace': namespace, 'site': status['siteName'], 'backup': name, 'prefix': prefix,
                              'storage': where, 'passphraseFile': ''})
    plan['bench'] = {'image': status['image'], 'sites_claim': '', 'sites_access_mode': 'ReadWriteMany',
                     'pull_policy': 'IfNotPresent', 'pull_secrets': [],
                     'resources': job_resources({}, 'backup'), 'pods': site_job_pods(None, settings['run_as_user'])}
    plan['labels'] = {'app.kubernetes.io/name': 'frappe', 'app.kubernetes.io/part-of': 'frappe',
                      'app.kubernetes.io/managed-by': settings['managed_by'],
                      'app.kubernetes.io/component': 'backup', 'vyogo.tech/site': status.get('frappeSite', ''),
                      'vyogo.tech/site-backup': name}
    # Not owned: the SiteBackup is going, and its Job must outlive it long enough to be read.
    plan['owner_references'] = []
    plan['job'] = {'name': plan['names']['forget_job'], 'args': ['bash', '-c', forget_script, 'forget-sets']}
    plan['forget'] = {'job': plan['names']['forget_job'],
                      'generated_key': spec['encryption']['secret']['name'] if spec['encryption']['generated'] else ''}
    # Its own ConfigMap, owned by nothing: the SiteBackup's may already be gone with it.
    plan['script_config_map'] = plan['names']['forget_job']
    for kind, obj_name, template in (('ConfigMap', plan['names']['forget_job'], 'backup/script.yaml.j2'),
                                     ('Job', plan['names']['forget_job'], 'backup/forget-job.yaml.j2')):
        plan['render'].append({'kind': kind, 'name': obj_name, 'template': template, 'vars': {'name': obj_name}})
    return plan


def backup_plan(backup, live=None, settings=None, mode='apply', script='', library='', forget_script='', final=''):
    """The reconcile plan of one SiteBackup: what to render, and whether it can run yet.

    final: the uid of the site about to be dropped (its deletionPolicy Delete):
    the plan is then one backup Job taken now, whatever the schedule, and the
    site need not be Ready.
    """
    check_plan_input('backup_plan', 'SiteBackup', backup, mode, settings, 'frappe_site_backup_settings')
    live = live or {}
    meta = backup['metadata']
    if meta.get('deletionTimestamp'):
        return forget_plan(backup, live, settings, forget_script, library)
    name, namespace = meta['name'], meta['namespace']
    wanted = _mapping(backup.get('spec')).get('site', '')
    plan = {'name': name, 'namespace': namespace, 'names': backup_names(name), 'errors': [], 'warnings': [],
            'render': [], 'waiting': '', 'deleting': False, 'final': ''}
    site = find_site(live.get('sites'), wanted)
    if site is None:
        plan['errors'].append('SiteBackup %s/%s: spec.site %s names no FrappeSite in namespace %s (by its name or its '
                              'spec.siteName): create the site first, or correct spec.site. Nothing was changed.'
                              % (namespace, name, wanted, namespace))
        return plan
    site_name = _mapping(site.get('spec')).get('siteName', '')
    spec, errors = backup_spec(backup, site['metadata']['name'])
    if refused_input(plan, 'SiteBackup', errors, meta, mode):
        return plan
    plan.update(spec=spec, site={'name': site['metadata']['name'], 'site_name': site_name,
                                 'ready': _mapping(site.get('status')).get('phase') == 'Ready'})
    plan['bench'] = bench_job_settings(site, live.get('benches'), settings['run_as_user'])
    plan['labels'] = {'app.kubernetes.io/name': 'frappe', 'app.kubernetes.io/part-of': 'frappe',
                      'app.kubernetes.io/managed-by': settings['managed_by'],
                      'app.kubernetes.io/component': 'backup', 'vyogo.tech/bench': plan['bench']['name'],
                      'vyogo.tech/site': site['metadata']['name'], 'vyogo.tech/site-backup': name}
    plan['owner_references'] = [] if mode != 'apply' else [{
        'apiVersion': settings['api_version'], 'kind': settings['kind'], 'name': name, 'uid': meta['uid'],
        'controller': True, 'blockOwnerDeletion': True}]
    if not plan['bench']['image'] or not plan['bench']['sites_claim']:
        plan['waiting'] = 'FrappeBench %s has not published its image and sites volume yet' % plan['bench']['name']
    elif mode == 'apply' and not plan['site']['ready'] and not final:
        plan['waiting'] = 'FrappeSite %s is not Ready yet' % site['metadata']['name']
    storage = spec['storage']
    where, prefix = _storage_config(spec)
    if storage['type'] == 'pvc':
        claims = [c['metadata']['name'] for c in live.get('claims') or []]
        plan['make_claim'] = storage['claim'] == backups_volume_name(site['metadata']['name']) and \
            storage['claim'] not in claims
        if mode == 'apply' and not plan['make_claim'] and storage['claim'] not in claims:
            plan['errors'].append('SiteBackup %s/%s: spec.storage.pvc %s is no PersistentVolumeClaim of namespace %s: '
                                  'create it, or leave spec.storage.pvc out for a backups volume made for the site. '
                                  'Nothing was changed.' % (namespace, name, storage['claim'], namespace))
            return plan
    plan['store_config'] = {'namespace': namespace, 'site': site_name, 'backup': name, 'prefix': prefix,
                            'retention': spec['retention'], 'storage': where, 'appsFile': APPS_FILE,
                            'passphraseFile': PASSPHRASE_FILE if spec['encryption']['enabled'] else ''}
    plan['script'], plan['library'], plan['script_config_map'] = script, library, plan['names']['script']
    inputs = {'spec': spec, 'bench': plan['bench'], 'store': plan['store_config'], 'script': script,
              'library': library}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]
    plan['job'] = {'name': backup_job_name(name, digest), 'hash': digest,
                   'args': ['bash', '-c', script, 'site-backup', site_name] + spec['args']}
    plan['key_secret_missing'] = spec['encryption']['enabled'] and spec['encryption']['generated'] and \
        not live.get('key_secret')
    steps = plan['render']

    def add(kind, obj_name, template):
        steps.append({'kind': kind, 'name': obj_name, 'template': template, 'vars': {'name': obj_name}})

    add('ConfigMap', plan['names']['script'], 'backup/script.yaml.j2')
    if storage['type'] == 'pvc' and plan.get('make_claim'):
        add('PersistentVolumeClaim', storage['claim'], 'backup/claim.yaml.j2')
    if final:
        plan['job']['name'] = final_job_name(name, final)
        plan['final'] = plan['job']['name']
        if plan['waiting']:
            plan['errors'].append('SiteBackup %s/%s cannot take the backup before its site is dropped: %s.'
                                  % (namespace, name, plan['waiting']))
            return plan
        add('Job', plan['job']['name'], 'backup/job.yaml.j2')
    elif spec['schedule']:
        add('CronJob', plan['names']['cronjob'], 'backup/cronjob.yaml.j2')
    elif not plan['waiting'] or any(j['metadata']['name'] == plan['job']['name'] for j in live.get('jobs') or []):
        add('Job', plan['job']['name'], 'backup/job.yaml.j2')
    return plan


def run_outcome(job, pods):
    """What one backup run reported: the JSON its container left as termination message (backup_sets main)."""
    name = job['metadata']['name']
    for pod in pods or []:
        if _mapping(pod['metadata'].get('labels')).get('batch.kubernetes.io/job-name') != name:
            continue
        for container in _mapping(pod.get('status')).get('containerStatuses') or []:
            message = _mapping(_mapping(container.get('state')).get('terminated')).get('message') or ''
            if message:
                try:
                    outcome = json.loads(message)
                except ValueError:
                    # Not our JSON: the end of the log (FallbackToLogsOnError), bench backup's own words.
                    return {'error': message.strip()[-600:]}
                return outcome if isinstance(outcome, dict) else {'error': message.strip()[-600:]}
    return {}


def job_outcome(live, name):
    """How the SiteBackup's Job `name` ended (the one deleting its sets, or the backup before its site is
    dropped): {} while it runs or is not there yet, else its state and what it reported."""
    job = next((j for j in (live or {}).get('jobs') or [] if j['metadata']['name'] == name), None)
    state = readiness.job_finished(job) if job else ''
    if not state:
        return {}
    return dict(run_outcome(job, (live or {}).get('pods')), state=state)


def backup_status(plan, live, backup):
    """Phase, conditions and what the newest run stored, from this SiteBackup's Jobs and their pods."""
    current = _mapping(backup.get('status'))
    runs = []
    for job in sorted((live or {}).get('jobs') or [], key=lambda j: j['metadata'].get('creationTimestamp') or ''):
        runs.append({'job': job['metadata']['name'], 'state': readiness.job_finished(job) or 'Running',
                     'completed': _mapping(job.get('status')).get('completionTime') or '',
                     'outcome': run_outcome(job, (live or {}).get('pods'))})
    done = [r for r in runs if r['state'] == 'Complete']
    last = runs[-1] if runs else None
    scheduled = bool(plan['spec']['schedule'])
    if plan['waiting'] and not runs:
        phase, message = 'Pending', 'Waiting: %s.' % plan['waiting']
    elif last and last['state'] == 'Running':
        phase, message = 'Running', 'Backup Job %s is running.' % last['job']
    elif last and last['state'] == 'Failed':
        phase = 'Scheduled' if scheduled else 'Failed'
        why = last['outcome'].get('error') or 'see kubectl logs -n %s job/%s' % (plan['namespace'], last['job'])
        message = 'Backup Job %s failed: %s' % (last['job'], why)
    elif scheduled:
        phase = 'Scheduled'
        message = 'Backs up %s on the schedule %s.' % (plan['site']['site_name'], plan['spec']['schedule'])
    elif done:
        phase, message = 'Completed', 'Backed up %s.' % plan['site']['site_name']
    else:
        phase, message = 'Pending', 'The backup Job is about to start.'
    patch = {'phase': phase, 'message': message,
             'observedGeneration': int(_mapping(backup.get('metadata')).get('generation') or 0),
             # What the deletion's Job needs when the site and the bench may be gone (forget_plan).
             'frappeSite': plan['site']['name'], 'siteName': plan['site']['site_name'],
             'image': plan['bench']['image']}
    if done:
        newest = max(done, key=lambda r: r['completed'])
        patch.update(lastBackup=newest['completed'], lastBackupJob=newest['job'],
                     storageLocation=newest['outcome'].get('location', ''), keptSets=newest['outcome'].get('kept', []))
    failed = bool(last and last['state'] == 'Failed')
    conditions = [{'type': 'LastBackupSucceeded', 'status': 'Unknown' if not last or last['state'] == 'Running'
                   else 'False' if failed else 'True',
                   'reason': 'NoRunYet' if not last else last['state'], 'message': message}]
    unchanged = compute_status(current, patch, conditions, now='unchanged') == current
    return {'status': patch, 'conditions': conditions, 'phase': phase, 'unchanged': unchanged}
