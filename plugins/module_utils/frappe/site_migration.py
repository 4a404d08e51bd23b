# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A SiteMigration: one FrappeSite migrated on demand, on the code its bench runs (docs/UPGRADES.md).

The CRD (config/crd/bases/vyogo.tech_sitemigrations.yaml) takes the Go
frappe-operator's api/v1 fields: spec.siteRef, skipFixtures, force; status
phase (Pending, Migrating, Succeeded, Failed), jobName, startTime,
completionTime, observedGeneration, conditions. It goes through what an
upgrade does for each site (upgrade.py): once it is Migrating its bench stops
the workers (bench_plan reads the SiteMigrations of its sites), then one Job
on the bench's image runs the bench role's files/migrate-site.sh with FINISH
(maintenance on, `bench --site S backup`, `bench --site S migrate`,
maintenance off, cache cleared). A migrate that fails is rolled back from
that backup (files/rollback-site.sh) or left in maintenance for a person, by
the bench's spec.upgrade.onFailure. It runs once: its Jobs have fixed names,
and a finished SiteMigration is never run again (create another one).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness
from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import compute_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import _bench_of, find_site
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.job_resources import job_resources
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_placement import site_job_pods
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import site_migration_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.plan_input import (
    check_plan_input, refused_input, site_job_reads)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.upgrade import (
    MOVING, backup_dir, downgrades, upgrade_settings)

FINISHED = ('Succeeded', 'Failed')
# A Job's name (a DNS label of at most 63) holds <name>-rollback.
MAX_NAME_LENGTH = 63 - len('-rollback')
# The label of the workers' pods a migrate waits for (the bench's WORKER_TYPES).
WORKER_COMPONENTS = ('worker-short', 'worker-long', 'worker-default')


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _condition_true(obj, kind):
    return any(c.get('type') == kind and c.get('status') == 'True'
               for c in (_mapping(_mapping(obj).get('status')).get('conditions') or []))


def migration_spec(obj):
    """(spec, errors): the site it names, force; errors name the field and the fix."""
    given = _mapping(obj.get('spec'))
    ref = _mapping(given.get('siteRef'))
    errors = []
    if not ref.get('name'):
        errors.append('spec.siteRef.name is missing: name the FrappeSite to migrate (its name or its siteName).')
    if ref.get('namespace') and ref['namespace'] != obj['metadata']['namespace']:
        errors.append('spec.siteRef.namespace is %s: a SiteMigration migrates a site of its own namespace (%s); '
                      'create it there, or leave siteRef.namespace out.'
                      % (ref['namespace'], obj['metadata']['namespace']))
    if len(obj['metadata']['name']) > MAX_NAME_LENGTH:
        errors.append('metadata.name %s is longer than %d characters: its Jobs (<name>-rollback) and labels take '
                      'it whole; use a shorter name.' % (obj['metadata']['name'], MAX_NAME_LENGTH))
    if given.get('skipFixtures') is True:
        errors.append('spec.skipFixtures: bench migrate of Frappe v15 cannot skip fixtures (frappe/migrate.py '
                      'SiteMigration.run always syncs them); leave skipFixtures out or set it to false.')
    return {'site': ref.get('name', ''), 'force': given.get('force') is True}, errors


def migration_reads(obj):
    """What a reconcile of the SiteMigration `obj` reads, in one k8s_multi_info run."""
    namespace = obj['metadata']['namespace']
    return site_job_reads(obj, 'vyogo.tech/site-migration', (('migrations', 'SiteMigration'),)) + [
        # The workers of its bench: stopped by it (replicas 0, KEDA paused) and gone, before a migrate starts.
        {'key': 'scaledobjects', 'api_version': 'keda.sh/v1alpha1', 'kind': 'ScaledObject', 'namespace': namespace},
        {'key': 'worker_pods', 'api_version': 'v1', 'kind': 'Pod', 'namespace': namespace,
         'label_selectors': ['app.kubernetes.io/component in (%s)' % ','.join(WORKER_COMPONENTS)]},
        {'key': 'worker_deployments', 'api_version': 'apps/v1', 'kind': 'Deployment', 'namespace': namespace,
         'label_selectors': ['app.kubernetes.io/component in (%s)' % ','.join(WORKER_COMPONENTS)]},
    ]


def migrating_sites(migrations):
    """The FrappeSites (by spec.siteRef.name) that a SiteMigration of `migrations` migrates now: its bench keeps
    its workers stopped meanwhile (bench_plan)."""
    return sorted(set(_mapping(_mapping(m.get('spec')).get('siteRef')).get('name', '') for m in migrations or []
                      if _mapping(m.get('status')).get('phase') == 'Migrating'))


def _owned(live, name, uid):
    """The Job `name` of this SiteMigration (by its controller's uid, when known: a SiteMigration made again under the
    same name does not take an earlier one's Job for its own)."""
    for job in (live or {}).get('jobs') or []:
        owners = [o.get('uid') for o in job['metadata'].get('ownerReferences') or [] if o.get('controller')]
        if job['metadata']['name'] == name and (not uid or not owners or uid in owners):
            return job
    return None


def _running(pods):
    """Pods that have not ended (an evicted or completed worker pod is no worker)."""
    return [p for p in pods or [] if _mapping(p.get('status')).get('phase') not in ('Succeeded', 'Failed')]


def _from_job(job):
    """What a started migrate's Job says of its site and bench, when they are gone from the read."""
    container = ((_mapping(_mapping(_mapping(job).get('spec')).get('template')).get('spec') or {}).get(
        'containers') or [{}])[0]
    env = dict((e.get('name'), e.get('value')) for e in container.get('env') or [])
    labels = _mapping(_mapping(job).get('metadata')).get('labels') or {}
    return env.get('SITE', ''), labels.get('vyogo.tech/bench', ''), container.get('image', '')


def migration_plan(obj, live=None, settings=None, mode='apply', migrate_script='', rollback_script=''):
    """The reconcile plan of one SiteMigration: its Jobs, or why it waits or is refused."""
    check_plan_input('migration_plan', 'SiteMigration', obj, mode, settings, 'frappe_site_migration_settings')
    live = live or {}
    meta, current = obj['metadata'], _mapping(obj.get('status'))
    name, namespace = meta['name'], meta['namespace']
    names = site_migration_names(name, meta.get('uid') or '')
    plan = {'name': name, 'namespace': namespace, 'names': names, 'errors': [], 'render': [], 'waiting': '',
            # Once: finished by its Job, or with nothing to migrate. A reconcile that failed before any Job (the
            # status says Failed) is tried again.
            'done': current.get('phase') == 'Succeeded' or current.get('phase') == 'Failed' and bool(
                current.get('jobName')), 'nothing_to_do': '', 'refused': '', 'workers_left': 0}
    spec, errors = migration_spec(obj)
    if refused_input(plan, 'SiteMigration', errors, meta, mode):
        return plan
    plan['spec'] = spec
    if plan['done']:
        return plan
    render = mode == 'render'
    migrate = _owned(live, names['job'], meta.get('uid'))
    restore = _owned(live, names['rollback_job'], meta.get('uid'))
    # Started: its migrate Job was made (a deleted one counts as a migrate that failed). Nothing it waited for
    # before stops it now: a migrate under way ends, and is rolled back when it failed.
    started = bool(migrate or restore or current.get('jobName'))
    site = find_site(live.get('sites'), spec['site'])
    bench = _bench_of(site, live.get('benches')) if site else None
    bench_status = _mapping(_mapping(bench).get('status'))
    if site is None:
        plan['waiting'] = 'FrappeSite %s is not in namespace %s' % (spec['site'], namespace)
    elif not render and not _condition_true(site, 'SiteCreated'):  # render mode takes the manifest's to exist
        plan['waiting'] = 'FrappeSite %s is not created yet' % site['metadata']['name']
    elif not bench_status.get('image') or not bench_status.get('sitesClaim'):
        plan['waiting'] = 'the bench of FrappeSite %s has not published its image and sites volume yet' % (
            site['metadata']['name'])
    elif not render and _mapping(bench_status.get('upgrade')).get('phase') in MOVING:
        plan['waiting'] = 'FrappeBench %s is upgrading (%s): its sites migrate then' % (
            bench['metadata']['name'], bench_status['upgrade']['phase'])
    if not plan['waiting'] and not render:
        # One SiteMigration of a site at a time: the oldest unfinished one.
        mine = (meta.get('creationTimestamp') or '', name)
        earlier = [m['metadata']['name'] for m in live.get('migrations') or [] if m['metadata']['name'] != name
                   and find_site([site], _mapping(_mapping(m.get('spec')).get('siteRef')).get('name'))
                   and _mapping(m.get('status')).get('phase') not in FINISHED
                   and (m['metadata'].get('creationTimestamp') or '', m['metadata']['name']) < mine]
        if earlier:
            plan['waiting'] = 'SiteMigration %s of the same site goes first' % ', '.join(sorted(earlier))
    if plan['waiting'] and not started:
        return plan
    if site is None or bench is None:
        # Gone while its migrate was under way: the status reports what the Job did; nothing more is started.
        site_name, bench_name, image = _from_job(migrate)
        plan.update(waiting='', gone='FrappeSite %s or its bench is gone' % spec['site'],
                    site={'name': spec['site'], 'site_name': site_name, 'versions': {}, 'recorded': {}},
                    bench={'name': bench_name, 'image': image}, on_failure='halt',
                    backup='sites/' + backup_dir(site_name, names['backup_key']))
        return plan
    plan['waiting'] = ''
    site_name = site['spec']['siteName']
    bench_spec = _mapping(bench.get('spec'))
    settings_of_bench = upgrade_settings(bench_spec)
    image_config = _mapping(bench_spec.get('imageConfig'))
    versions = _mapping(bench_status.get('appVersions'))
    recorded = _mapping(_mapping(_mapping(site.get('status')).get('schema')).get('versions'))
    if not render and not started:
        newer = downgrades(recorded, versions)
        if newer:
            plan['refused'] = ('the schema of %s is made for newer code than its bench runs (%s), and Frappe cannot '
                               'migrate back: run an image of those versions or newer on the bench'
                               % (site_name, ', '.join(newer)))
            return plan
        if not spec['force'] and versions and recorded == versions:
            plan['nothing_to_do'] = ('the schema of %s is made for the versions its bench runs (%s): nothing to '
                                     'migrate; set spec.force: true to migrate anyway' % (site_name, ', '.join(
                                         '%s %s' % (a, v) for a, v in sorted(versions.items()))))
            return plan
    plan.update(
        site={'name': site['metadata']['name'], 'site_name': site_name, 'versions': versions, 'recorded': recorded},
        bench={'name': bench['metadata']['name'], 'image': bench_status['image'],
               'sites_claim': bench_status['sitesClaim'],
               'sites_access_mode': bench_status.get('sitesAccessMode') or 'ReadWriteMany',
               'pull_policy': image_config.get('pullPolicy') or 'IfNotPresent',
               'pull_secrets': image_config.get('pullSecrets') or [],
               'resources': job_resources(bench_spec, 'migration'), 'pods': site_job_pods(bench, settings['run_as_user'], site)},
        on_failure=settings_of_bench['on_failure'], timeout=settings_of_bench['timeout'],
        backup='sites/' + backup_dir(site_name, names['backup_key']),
        scripts={'migrate': migrate_script, 'rollback': rollback_script},
        labels={'app.kubernetes.io/name': 'frappe', 'app.kubernetes.io/part-of': 'frappe',
                'app.kubernetes.io/managed-by': settings['managed_by'], 'app.kubernetes.io/component': 'migration',
                'vyogo.tech/bench': bench['metadata']['name'], 'vyogo.tech/site': site['metadata']['name'],
                'vyogo.tech/site-migration': name},
        owner_references=[] if mode != 'apply' else [{
            'apiVersion': settings['api_version'], 'kind': settings['kind'], 'name': name, 'uid': meta['uid'],
            'controller': True, 'blockOwnerDeletion': True}])

    def of_bench(objects):
        return [o for o in objects or []
                if _mapping(o['metadata'].get('labels')).get('vyogo.tech/bench') == bench['metadata']['name']]
    # Stopped by the bench (which reads this SiteMigration's phase): no worker Deployment to start again, no
    # ScaledObject that KEDA may still act on, no worker pod left running.
    running = [d for d in of_bench(live.get('worker_deployments')) if _mapping(d.get('spec')).get('replicas') != 0]
    unpaused = [o for o in of_bench(live.get('scaledobjects')) if _mapping(o['metadata'].get('annotations')).get(
        'autoscaling.keda.sh/paused-replicas') != '0']
    plan['workers_left'] = len(_running(of_bench(live.get('worker_pods')))) + len(running) + len(unpaused)
    if render or not started and not plan['workers_left'] and current.get('phase') == 'Migrating':
        # Its bench stops the workers once this SiteMigration says Migrating; the Job starts once they are gone.
        plan['render'].append({'kind': 'Job', 'name': names['job'], 'template': 'migration/job.yaml.j2',
                               'vars': {'name': names['job'], 'step': 'migrate'}})
    # A migrate that failed, or whose Job was deleted (its pod killed midway), is restored from its backup once
    # its pod has ended.
    failed = started and (migrate is None or readiness.job_finished(migrate) == 'Failed')
    if not render and failed and plan['on_failure'] == 'rollback' and restore is None and not _running(
            readiness.pods_of_job(live.get('pods'), names['job'])):
        plan['render'].append({'kind': 'Job', 'name': names['rollback_job'], 'template': 'migration/job.yaml.j2',
                               'vars': {'name': names['rollback_job'], 'step': 'rollback'}})
    return plan


def migration_status(plan, live, obj):
    """Phase, message, the Jobs and their times, the conditions, and the FrappeSite's status.schema once migrated."""
    current = _mapping(obj.get('status'))
    if plan['done']:
        return {'status': current, 'conditions': [], 'phase': current.get('phase'), 'unchanged': True,
                'site_schema': None, 'converging': False}
    names, uid = plan['names'], _mapping(obj.get('metadata')).get('uid')
    migrate, restore = _owned(live, names['job'], uid), _owned(live, names['rollback_job'], uid)
    started = bool(migrate or restore or current.get('jobName'))
    state = readiness.job_finished(migrate) if migrate else 'Deleted' if started else ''
    restored = readiness.job_finished(restore) if restore else ''
    pods = (live or {}).get('pods')
    patch = {'jobName': names['job'] if started else ''}
    site_schema, rolled_back = None, None
    if plan['refused']:
        phase, message = 'Failed', 'Refused: %s.' % plan['refused']
    elif plan['nothing_to_do']:
        phase, message = 'Succeeded', 'Nothing was run: %s.' % plan['nothing_to_do']
    elif not started and plan['waiting']:
        phase, message = 'Pending', 'Waiting: %s.' % plan['waiting']
    elif not started:
        phase = 'Migrating'
        message = ('The workers of bench %s stop first (%d left), each once its running job is done.'
                   % (plan['bench']['name'], plan['workers_left']) if plan['workers_left']
                   else 'The migrate Job of %s is about to start.' % plan['site']['site_name'])
    elif not state:
        phase, message = 'Migrating', 'Job %s migrates %s on %s (maintenance on, backup, bench migrate).' % (
            names['job'], plan['site']['site_name'], plan['bench']['image'])
    elif state == 'Complete':
        phase = 'Succeeded'
        versions = _outcome(pods, names['job']).get('versions') or plan['site']['versions']
        message = 'Migrated %s on %s; its backup from before is in %s.' % (
            plan['site']['site_name'], plan['bench']['image'], plan['backup'])
        if versions and not plan.get('gone'):
            # A merge patch keeps keys it does not name: an app the site no longer has is named with null.
            site_schema = {'job': names['job'], 'versions': dict(
                dict((app, None) for app in plan['site']['recorded']), **versions)}
    else:
        why = 'its Job was deleted before it ended' if state == 'Deleted' else readiness.job_failure(
            readiness.pods_of_job(pods, names['job'])) or 'see kubectl logs -n %s job/%s' % (
            plan['namespace'], names['job'])
        failed = 'The migrate of %s failed: %s.' % (plan['site']['site_name'], why)
        if plan.get('gone') and not restore:
            phase = 'Failed'
            message = '%s %s: nothing more is done; restore it from %s if it is made again (docs/UPGRADES.md).' % (
                failed, plan['gone'], plan['backup'])
        elif plan['on_failure'] != 'rollback':
            phase = 'Failed'
            message = ('%s It stays in maintenance (its bench\'s spec.upgrade.onFailure is halt): restore it from %s '
                       '(docs/UPGRADES.md), or fix the cause and create another SiteMigration.'
                       % (failed, plan['backup']))
        elif restored == 'Complete':
            phase, rolled_back = 'Failed', True
            message = '%s It was restored from the backup its migrate took and is served again.' % failed
        elif restored == 'Failed':
            phase, rolled_back = 'Failed', False
            message = ('%s Its restore (Job %s) failed too: it stays in maintenance; restore it by hand from %s '
                       '(docs/UPGRADES.md).' % (failed, names['rollback_job'], plan['backup']))
        else:
            phase = 'Migrating'
            message = '%s Job %s restores it from the backup its migrate took.' % (failed, names['rollback_job'])
        patch['rollbackJob'] = names['rollback_job'] if restore else ''
    if started:
        job_status = _mapping(_mapping(migrate).get('status'))
        patch['backup'] = plan['backup']
        # Times only once known (the schema takes a date-time or nothing); a failed Job has no completionTime.
        if job_status.get('startTime'):
            patch['startTime'] = job_status['startTime']
        ended = (_mapping(_mapping(restore).get('status')).get('completionTime') or _failed_at(restore)) \
            if restore else job_status.get('completionTime') or _failed_at(migrate)
        if phase in FINISHED and ended:
            patch['completionTime'] = ended
    patch.update(phase=phase, message=message,
                 observedGeneration=int(_mapping(obj.get('metadata')).get('generation') or 0))
    conditions = [{'type': 'Migrated', 'status': 'True' if phase == 'Succeeded' else 'False' if phase == 'Failed'
                   else 'Unknown', 'reason': phase, 'message': message}]
    if rolled_back is not None:
        conditions.append({'type': 'RolledBack', 'status': 'True' if rolled_back else 'False',
                           'reason': 'Restored' if rolled_back else 'RestoreFailed', 'message': message})
    unchanged = compute_status(current, patch, conditions, now='unchanged') == current
    return {'status': patch, 'conditions': conditions, 'phase': phase, 'unchanged': unchanged,
            'site_schema': site_schema, 'converging': phase in ('Pending', 'Migrating')}


def _failed_at(job):
    """When a Job's Failed condition was set (a failed Job has no completionTime)."""
    return next((c.get('lastTransitionTime') for c in _mapping(_mapping(job).get('status')).get('conditions') or []
                 if c.get('type') == 'Failed' and c.get('status') == 'True'), None)


def _outcome(pods, job):
    """What the migrate reported ({maintenanceWasOn, versions} of files/migrate-site.sh), as {app: version}."""
    terminated = readiness.succeeded_container(pods, job, 'migrate') or {}
    try:
        said = json.loads(terminated.get('message') or '')
    except ValueError:
        return {}
    listed = said.get('versions') if isinstance(said, dict) else None
    versions = dict((v.get('app'), v.get('version')) for v in listed or [] if isinstance(v, dict) and v.get('app'))
    return {'versions': versions} if versions else {}
