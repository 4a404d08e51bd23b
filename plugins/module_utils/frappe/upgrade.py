# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An upgrade of a bench: its sites migrated before its processes run the new code.

A new image (or the same tag moved) is probed by the configuration Job or a
periodic look (image_probe.py): its digest and its apps' versions. Until
every site of the bench has a schema made for those versions, the processes
stay on the digest they run (status.image); the workers stop, then a migrate
Job per site runs on the new one (files/migrate-site.sh: maintenance mode on,
`bench --site S backup`, `bench --site S migrate`), at most
spec.upgrade.maxParallelMigrations at a time. Then the processes roll to the
new digest and, once they all run it, one Job (files/finish-upgrade.sh) takes
the migrated sites out of maintenance, clears every site's cache and the
bench's cached bundle map. docs/UPGRADES.md tells it for users.

Nothing is stored to know where an upgrade is: the Jobs are named by the site
and a hash of the target (names.migrate_job_name, upgrade_job_name), so a
reconcile after a restart finds the ones that completed and never runs them
again. status.upgrade is the record users read (and keeps what a Job's pod
said after the pod is gone); a site's status.schema.versions, written by its
own role from that record, is what later upgrades compare with.

A migrate that fails (or runs past its timeout) stops the upgrade: no other
migrate starts and the processes stay on the old digest. By
spec.upgrade.onFailure, every site a migrate of this upgrade ran on is then
restored from the backup that migrate took, on the old digest
(files/rollback-site.sh), and served again (rollback, the default); or each
stays in maintenance for a person, its schema possibly no longer the old
code's, while the rest are served as before (halt).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.image_probe import pinned_reference
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import (
    JOB_HASH_LENGTH, migrate_job_name, rollback_job_name, upgrade_job_name)
from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness

# spec.upgrade when a field is not set.
DEFAULT_MAX_PARALLEL_MIGRATIONS = 1
DEFAULT_MIGRATION_TIMEOUT_SECONDS = 3600
# What a failed migrate leads to: every site this upgrade migrated restored from the backup its migrate took
# and served by the old code again, or the upgrade halted for a person.
ON_FAILURE = ('rollback', 'halt')
DEFAULT_ON_FAILURE = 'rollback'
MIN_MIGRATION_TIMEOUT_SECONDS = 60

# status.upgrade.phase: still moving (a reconcile comes back soon), or where it stays.
MOVING = ('Migrating', 'Rolling', 'Finishing', 'RollingBack')
# The Event of a site's entry reaching a phase.
SITE_EVENTS = {'Migrated': ('Normal', 'SiteMigrated'), 'Failed': ('Warning', 'SiteMigrationFailed'),
               'RolledBack': ('Normal', 'SiteRolledBack'), 'RollbackFailed': ('Warning', 'SiteRollbackFailed')}
# A site's phases that mean a Job of this upgrade ran on it (its schema may be the new code's until restored).
TOUCHED = ('Migrated', 'Failed', 'RollingBack', 'RolledBack', 'RollbackFailed')


DEFAULT_CHECK_INTERVAL = '24h'
MIN_CHECK_INTERVAL_SECONDS = 300
_DURATION = re.compile(r'^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$')


def interval_seconds(text):
    """Seconds of a duration such as 24h, 90m or 1h30m ('0': never), or None when it is not one."""
    if str(text) == '0':
        return 0
    found = _DURATION.match(str(text or ''))
    if not found or not any(found.groups()):
        return None
    hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def upgrade_settings(spec):
    """spec.upgrade with its defaults, or InvalidInput naming the field."""
    given = spec.get('upgrade') if isinstance(spec.get('upgrade'), dict) else {}
    interval = interval_seconds(given.get('checkInterval', DEFAULT_CHECK_INTERVAL))
    if interval is None or 0 < interval < MIN_CHECK_INTERVAL_SECONDS:
        raise InvalidInput('spec.upgrade.checkInterval must be a duration of %dm or more in hours, minutes and '
                           'seconds (for example 24h or 1h30m), or 0 to never look at the image again, got %r'
                           % (MIN_CHECK_INTERVAL_SECONDS // 60, given.get('checkInterval')))
    parallel = given.get('maxParallelMigrations', DEFAULT_MAX_PARALLEL_MIGRATIONS)
    timeout = given.get('migrationTimeoutSeconds', DEFAULT_MIGRATION_TIMEOUT_SECONDS)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise InvalidInput('spec.upgrade.maxParallelMigrations must be a whole number of 1 or more (how many sites '
                           'migrate at once), got %r' % (parallel,))
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < MIN_MIGRATION_TIMEOUT_SECONDS:
        raise InvalidInput('spec.upgrade.migrationTimeoutSeconds must be a whole number of %d or more (seconds one '
                           'site\'s migrate may take), got %r' % (MIN_MIGRATION_TIMEOUT_SECONDS, timeout))
    on_failure = given.get('onFailure', DEFAULT_ON_FAILURE)
    if on_failure not in ON_FAILURE:
        raise InvalidInput('spec.upgrade.onFailure must be rollback (restore the sites this upgrade migrated and '
                           'serve them on the old image) or halt (keep them in maintenance for a person), got %r'
                           % (on_failure,))
    return {'max_parallel': parallel, 'timeout': timeout, 'force': given.get('force') is True,
            'check_interval': interval, 'on_failure': on_failure}


def backup_dir(site_name, key):
    """Where the migrate of `site_name` in the upgrade `key` keeps its backup, relative to the bench's sites/
    (bench backup --backup-path takes it so). Its own folder: a retried migrate finds it there and takes no second
    one of a half-migrated schema, and Frappe's cleanup of old backups (frappe/utils/backups.py
    delete_temp_backups, private/backups only) never reaches it."""
    return '%s/private/upgrade-backups/%s' % (site_name, key)


def _versions(value):
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items())


def render_status(status, given, image):
    """The bench status render mode plans an upgrade from when it is told what the change is (-e
    frappe_render_upgrade): `given` has `versions` (each app's version in the image the manifest names, `image`),
    optionally its `digest` (sha256:...), and `running` ({image, versions}: what the processes run now), which
    the bench's own status gives when it is left out. InvalidInput names the field and the fix."""
    if not isinstance(given, dict):
        raise InvalidInput('frappe_render_upgrade must be a mapping: {versions: {app: version}, digest: sha256:..., '
                           'running: {image, versions}} (docs/UPGRADES.md "Render mode"), got %r' % (given,))
    if not _versions(given.get('versions')):
        raise InvalidInput('frappe_render_upgrade.versions must map each app of the new image to its version (what '
                           '`bench version --format json` of that image says), for example {frappe: 15.60.0}, '
                           'got %r' % (given.get('versions'),))
    digest = given.get('digest') or ''
    if digest and not re.match(r'^sha256:[0-9a-f]{64}$', str(digest)):
        raise InvalidInput('frappe_render_upgrade.digest must be an image digest (sha256: and 64 hex digits), or '
                           'left out, got %r' % (digest,))
    running = given.get('running') if isinstance(given.get('running'), dict) else {}
    run_image = running.get('image') or status.get('image')
    run_versions = running.get('versions') or status.get('appVersions')
    if not run_image or not _versions(run_versions):
        raise InvalidInput('frappe_render_upgrade.running needs image and versions (what the processes run now), '
                           'unless the bench in the manifest has status.image and status.appVersions')
    if run_image == pinned_reference(image, digest):
        raise InvalidInput('frappe_render_upgrade: the processes already run %s; give the digest the tag moved to '
                           '(frappe_render_upgrade.digest), or running.image' % run_image)
    return dict(status, image=run_image, appVersions=run_versions,
                imageProbe={'reference': image, 'digest': digest, 'versions': given['versions'], 'job': ''})


def render_sites(bench_name, namespace, sites):
    """The FrappeSites of the manifest as render mode's upgrade sees them: each site of the bench exists (its
    schema at the versions its status records, else at the bench's)."""
    created = {'type': 'SiteCreated', 'status': 'True'}
    mine = set(id(s) for s in sites_of_bench(bench_name, namespace, sites))
    return [dict(s, status=dict(s.get('status') or {}, conditions=[created])) if id(s) in mine else s
            for s in sites or []]


def target_key(reference, versions):
    """The hash that names an upgrade's Jobs: the pinned image and the versions it carries."""
    text = json.dumps({'reference': reference, 'versions': versions or {}}, sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]


def _version_tuple(version):
    parts = re.match(r'^v?(\d+)\.(\d+)\.(\d+)', str(version or ''))
    return tuple(int(p) for p in parts.groups()) if parts else None


def downgrades(recorded, target):
    """Apps whose version in `target` is older than the one a site's schema was made for: 'app a -> b'."""
    found = []
    for app in sorted(set(recorded or {}) & set(target or {})):
        before, after = _version_tuple(recorded[app]), _version_tuple(target[app])
        if before and after and after < before:
            found.append('%s %s -> %s' % (app, recorded[app], target[app]))
    return found


def _condition_true(obj, kind):
    return any(c.get('type') == kind and c.get('status') == 'True'
               for c in ((obj.get('status') or {}).get('conditions') or []))


def sites_of_bench(bench_name, namespace, sites):
    """The FrappeSites among `sites` of the bench `bench_name` in `namespace` that name a site and are not being
    deleted: the sites its nginx routes and its upgrades migrate."""
    return [s for s in sites or [] if ((s.get('spec') or {}).get('benchRef') or {}).get('name') == bench_name
            and (s.get('metadata') or {}).get('namespace', namespace) == namespace
            and not (s.get('metadata') or {}).get('deletionTimestamp') and (s.get('spec') or {}).get('siteName')]


def bench_sites(bench_name, namespace, sites):
    """The FrappeSites of the bench whose site exists (SiteCreated), by name: what an upgrade migrates."""
    found = [s for s in sites_of_bench(bench_name, namespace, sites) if _condition_true(s, 'SiteCreated')]
    return sorted(found, key=lambda s: s['metadata']['name'])


def _recorded(site, record):
    """The versions a site's schema was made for, or None when none is recorded: what the bench's upgrade record
    `record` says the upgrade did to it (migrated, or restored from the backup taken before), which the site's
    own status.schema follows only once its role has run, else that status.schema."""
    entry = (record.get('sites') or {}).get(site['metadata']['name']) or {}
    if entry.get('phase') == 'Migrated' and isinstance((record.get('to') or {}).get('versions'), dict):
        return record['to']['versions']
    if entry.get('phase') == 'RolledBack' and isinstance(entry.get('fromVersions'), dict):
        return entry['fromVersions']
    versions = ((site.get('status') or {}).get('schema') or {}).get('versions')
    return versions if isinstance(versions, dict) else None


def _outcome(pods, job, container):
    """The JSON a succeeded container of `job` reported as its termination message, or {}."""
    terminated = readiness.succeeded_container(pods, job, container) or {}
    try:
        said = json.loads(terminated.get('message') or '')
    except ValueError:
        return {}
    return said if isinstance(said, dict) else {}


def _by_phase(entries):
    return dict((phase, sorted(s for s, e in entries.items() if e['phase'] == phase)) for phase in (
        'Waiting', 'Migrating', 'Migrated', 'Failed', 'Refused', 'RollingBack', 'RolledBack', 'RollbackFailed'))


def _rollback_state(entry, before, job, states, pods):
    """A site's entry where its restore (a rollback of the upgrade) is: running, done (never run again, even with
    its Job gone: the site has been served since), or failed."""
    state = states.get(job)
    if state is None and before.get('phase') != 'RolledBack':
        return
    entry['rollbackJob'] = job
    if state == 'Complete' or before.get('phase') == 'RolledBack':
        entry['phase'] = 'RolledBack'
        entry['maintenanceWasOn'] = bool(before.get('maintenanceWasOn', entry.get('maintenanceWasOn')))
        entry.pop('message', None)
        if before.get('message') and before.get('phase') != 'RollbackFailed':
            entry['message'] = before['message']
    elif state == 'Failed':
        why = readiness.job_failure(readiness.pods_of_job(pods, job))
        entry.update(phase='RollbackFailed', message='Job %s failed: %s' % (job, why) if why else before.get('message')
                     if before.get('phase') == 'RollbackFailed' else 'Job %s failed.' % job)
    else:
        entry['phase'] = 'RollingBack'
        if before.get('message'):
            entry['message'] = before['message']


def _recorded_states(name, key, record):
    """The state of each Job of the upgrade `key` of the bench `name` that its record says ran (render mode, where
    no Job is read)."""
    states = {}
    for site_name, entry in (record.get('sites') or {}).items():
        phase = entry.get('phase')
        if phase in TOUCHED:
            states[migrate_job_name(name, site_name, key)] = 'Failed' if phase == 'Failed' else 'Complete'
        if phase in ('RollingBack', 'RolledBack', 'RollbackFailed'):
            states[rollback_job_name(name, site_name, key)] = {
                'RollingBack': 'Running', 'RolledBack': 'Complete'}.get(phase, 'Failed')
    return states


def _job_states(jobs):
    return dict((j['metadata']['name'], readiness.job_finished(j) or 'Running') for j in jobs or [])


def replacing(current, new):
    """`new` as a merge patch over `current`: every key of `current` (nested) that `new` lacks named with null."""
    if not isinstance(current, dict) or not isinstance(new, dict):
        return new
    patch = dict((key, None) for key in current if key not in new)
    for key, value in new.items():
        patch[key] = replacing(current.get(key), value) if isinstance(value, dict) else value
    return patch


def upgrade_plan(name, namespace, spec, status, image, probe, sites, jobs, pods, deployments, worker_pods=None,
                 render=False, site_migrations=()):
    """What an upgrade of the bench `name` does in this reconcile.

    spec/status: the bench's; image: the reference its spec names; probe:
    what the configuration Job found that image to be (image_probe.py), None
    until it has; sites: the namespace's FrappeSites; jobs, pods,
    deployments: what the bench owns, as read before this reconcile applies;
    worker_pods: the pods of its workers, read while an upgrade migrates
    (None when not read); render: plan for render mode, which shows the
    migrate Job of every site the change migrates (nothing runs there, so
    nothing waits for its turn or for the workers).

    Returns {'run_image': the reference the processes and the sites' Jobs
    run, 'app_versions': the versions that image carries (status.appVersions),
    'jobs': the migrate Jobs to apply, 'rollbacks': the restore Jobs (when it
    rolls back), 'finish': the finishing Job (once rolled), 'record':
    status.upgrade (None: no upgrade, nothing to write), 'moving': whether
    it goes on without anyone acting, 'events': what changed for users,
    'quiesce': whether the workers are stopped}. site_migrations: the sites of
    the bench a SiteMigration migrates now (site_migration.py): the workers
    stop for them too, and no Job of an upgrade starts meanwhile.

    Workers are stopped while sites migrate: maintenance mode stops a site's
    web requests and its scheduler, not the RQ jobs already queued for it,
    which the old code would run against a schema being changed. A worker
    stops on SIGTERM once its running job is done (RQ's warm shutdown, within
    the pod's terminationGracePeriodSeconds: its queues' longest timeout), and
    no migrate starts before every worker pod is gone.
    """
    settings = upgrade_settings(spec)
    if worker_pods is not None:
        # A worker pod that ended (evicted, completed) runs nothing.
        worker_pods = [p for p in worker_pods if (p.get('status') or {}).get('phase') not in ('Succeeded', 'Failed')]
    running_image = status.get('image') or ''
    stored_probe = status.get('imageProbe') if isinstance(status.get('imageProbe'), dict) else {}
    record = status.get('upgrade') if isinstance(status.get('upgrade'), dict) else {}
    running_versions = status.get('appVersions') if isinstance(status.get('appVersions'), dict) else \
        stored_probe.get('versions') if isinstance(stored_probe.get('versions'), dict) else None
    # A site a SiteMigration migrates (site_migration.py): the workers stay stopped, no Job of an upgrade starts.
    busy = sorted(site_migrations or [])
    plan = {'run_image': running_image or image, 'app_versions': running_versions, 'jobs': [], 'record': None,
            'moving': bool(busy), 'events': [], 'key': '', 'quiesce': bool(busy),
            'max_parallel': settings['max_parallel'], 'timeout': settings['timeout']}
    if probe is None:
        # The configuration Job has not said what the image is: whatever runs keeps running.
        return plan
    target = {'image': pinned_reference(image, probe.get('digest') or ''), 'versions': probe.get('versions') or {}}
    key = target_key(target['image'], target['versions'])
    waiting_image = None
    if record.get('phase') == 'RollingBack' and record.get('key') != key and isinstance(record.get('to'), dict):
        # A rollback under way ends first (its restores, half done, are not cut short); the image set since is
        # the next upgrade.
        waiting_image, target, key = target['image'], dict(record['to']), record['key']
    plan['key'] = key
    current = record.get('key') == key
    created = bench_sites(name, namespace, sites)
    if current and isinstance(record.get('sites'), dict):
        # A site this upgrade counted stays counted while the FrappeSite exists, whatever its status says for a
        # moment: forgotten, its Jobs would be pruned and its record lost, and a migrate could be skipped.
        counted = set(s['metadata']['name'] for s in created)
        created = sorted(created + [s for s in sites_of_bench(name, namespace, sites)
                                    if s['metadata']['name'] in record['sites']
                                    and s['metadata']['name'] not in counted],
                         key=lambda s: s['metadata']['name'])
    states = _job_states(jobs)
    if render and current:
        # Nothing runs in render mode: the stored record says where each Job of this upgrade is.
        states = _recorded_states(name, key, record)
    if current and record.get('phase') == 'RolledBack' and not any(
            job in states for site in created for job in (migrate_job_name(name, site['metadata']['name'], key),
                                                          rollback_job_name(name, site['metadata']['name'], key))):
        # A person deleted every Job of an upgrade that rolled back: it starts again, from the record's versions.
        current = False
    # The same code as the processes run, after an upgrade halted: a site it migrated is newer than that code.
    newer = [s for s in created if downgrades(_recorded(s, record), target['versions'])]
    if not running_image or (target['image'] == running_image and not newer or not created) and not current:
        # A new bench, nothing changed since the last upgrade (or there never was one), or no site to carry.
        plan.update(run_image=target['image'], app_versions=target['versions'])
        return plan
    # Versions of a bench from before they were recorded: the sites' schemas are taken to be the target's.
    origin = record['from'] if current else {
        'image': running_image, 'versions': running_versions if running_versions is not None else target['versions']}
    previous_sites = record.get('sites') if current and isinstance(record.get('sites'), dict) else {}
    # A rollback started (its failure recorded) goes on, whatever Jobs a person deleted since.
    rolling_back = current and (record.get('phase') in ('RollingBack', 'RolledBack') or bool(record.get('failure')))
    entries = {}
    for site in created:
        site_name = site['metadata']['name']
        before = previous_sites.get(site_name) or {}
        # Where its schema was when this upgrade found it (the site's own record may lag the upgrade's).
        at = before['fromVersions'] if isinstance(before.get('fromVersions'), dict) else _recorded(site, record)
        at = origin['versions'] if at is None else at
        job = migrate_job_name(name, site_name, key)
        state = states.get(job, 'Missing')
        entry = {'siteName': site['spec']['siteName'], 'job': job,
                 'backup': 'sites/' + backup_dir(site['spec']['siteName'], key),
                 # What its schema was made for before this upgrade: what a restore from its backup brings back.
                 'fromVersions': before['fromVersions'] if isinstance(before.get('fromVersions'), dict) else at}
        # Whether the site was in maintenance before any upgrade put it there: a site an earlier, halted upgrade
        # left in maintenance was not (a failed migrate's pod says nothing, so it counts as not either).
        prior = before if current else (record.get('sites') or {}).get(site_name) \
            if record.get('phase') == 'Failed' else None
        was_on = (prior or {}).get('maintenanceWasOn') if (prior or {}).get('phase') in (
            'Migrated', 'Failed', 'Migrating', 'Waiting') else None
        if state == 'Complete' or before.get('phase') == 'Migrated':
            said = _outcome(pods, job, 'migrate')
            entry.update(phase='Migrated', maintenanceWasOn=bool(
                was_on if was_on is not None else said.get('maintenanceWasOn', False)))
        elif state == 'Failed' or state == 'Missing' and rolling_back and before.get('phase') in TOUCHED + (
                'Migrating',):
            # A migrate Job deleted while the upgrade rolls back is no retry: its site still has to be restored.
            why = readiness.job_failure(readiness.pods_of_job(pods, job))
            entry.update(phase='Failed', message='Job %s failed: %s' % (job, why) if why else before.get('message') or
                         'Job %s failed.' % job, maintenanceWasOn=bool(was_on))
        elif state == 'Running':
            entry['phase'] = 'Migrating'
        elif at != target['versions'] or settings['force']:
            backwards = downgrades(at, target['versions'])
            if backwards:
                entry.update(phase='Refused', message=(
                    'its schema was made for newer code (%s), and Frappe cannot migrate back: run an image of those '
                    'versions or newer, or restore the site from a backup taken on this code' % ', '.join(backwards)))
            else:
                entry['phase'] = 'Waiting'
        else:
            continue
        if was_on is not None and 'maintenanceWasOn' not in entry:
            entry['maintenanceWasOn'] = bool(was_on)
        _rollback_state(entry, before, rollback_job_name(name, site_name, key), states, pods)
        entries[site_name] = entry
    by_phase = _by_phase(entries)
    # Every Job of this upgrade stays in the plan (the prune would take a completed one's record).
    rendered = [s for s, e in entries.items() if e['job'] in states]
    rollbacks = [s for s, e in entries.items() if e.get('rollbackJob') in states]
    failed = by_phase['Failed'] + by_phase['Refused']
    extra = {}
    touched = sorted(s for s, e in entries.items() if e['phase'] in TOUCHED)
    rolling_back = rolling_back or bool(rollbacks) or any(
        e['phase'] in ('RollingBack', 'RolledBack', 'RollbackFailed') for e in entries.values())
    if rolling_back or failed and touched and settings['on_failure'] == 'rollback':
        failure = (record.get('failure') if current else '') or '; '.join(
            'site %s: %s' % (s, entries[s]['message']) for s in failed)
        # Restores start from the reconcile after the one that recorded the failure (so its Events are told).
        started = current and (record.get('phase') in ('RollingBack', 'RolledBack') or bool(record.get('failure')))
        # No worker runs while a site's database is replaced (after a halt they ran again).
        drained = render or worker_pods is not None and not worker_pods and not busy
        # Each site this upgrade ran a migrate on, not restored yet.
        waiting = [s for s in touched if entries[s]['phase'] in ('Migrated', 'Failed')]
        if started and not by_phase['Migrating'] and drained:
            # The migrates that ran on: over. Each is restored, a few at a time.
            room = len(waiting) if render else max(0, settings['max_parallel'] - len(by_phase['RollingBack']))
            for site_name in waiting[:room]:
                entries[site_name].update(phase='RollingBack',
                                          rollbackJob=rollback_job_name(name, site_name, key))
                rollbacks.append(site_name)
        by_phase = _by_phase(entries)
        restored = by_phase['RolledBack']
        run = running_image
        waiting = [s for s in waiting if entries[s]['phase'] in ('Migrated', 'Failed')]
        if by_phase['RollbackFailed'] and not (by_phase['RollingBack'] or by_phase['Migrating'] or waiting):
            phase = 'Failed'
            message = ('The upgrade to %s failed (%s), and so did the restore of %s: %s. The processes stay on %s; '
                       'those sites stay in maintenance, their schema possibly the new code\'s. Fix the cause and '
                       'delete the failed Job to restore again, or restore them by hand from their backup (docs/'
                       'UPGRADES.md).' % (target['image'], failure, ', '.join(by_phase['RollbackFailed']),
                                          '; '.join('site %s: %s' % (s, entries[s]['message'])
                                                    for s in by_phase['RollbackFailed']), running_image))
        elif by_phase['RollingBack'] or by_phase['Migrating'] or waiting or not started:
            phase = 'RollingBack'
            plan['quiesce'] = True
            message = ('The upgrade to %s failed (%s) and rolls back: each site it migrated is restored from the '
                       'backup its migrate took, on %s, and stays in maintenance until then (%d of %d restored).' % (
                           target['image'], failure, running_image, len(restored), len(touched)))
            if by_phase['Migrating']:
                message += ' First the running migrate(s) end: %s.' % ', '.join(by_phase['Migrating'])
            elif started and not drained:
                message += ' First the workers stop.'
            if by_phase['RollbackFailed']:
                message += ' The restore of %s failed: %s.' % (', '.join(by_phase['RollbackFailed']), '; '.join(
                    entries[s]['message'] for s in by_phase['RollbackFailed']))
        else:
            phase = 'RolledBack'
            message = ('The upgrade to %s failed (%s) and was rolled back: %s, each restored from the backup its '
                       'migrate took, served by %s again. Fix the cause, then delete this upgrade\'s Jobs (label '
                       'vyogo.tech/upgrade=%s) to try it again, or set another image.' % (
                           target['image'], failure, ', '.join(restored), running_image, key))
        plan['rollbacks'] = [dict(entries[s], name=s) for s in sorted(rollbacks)]
        extra = {'failure': failure}
    elif failed:
        phase, run = 'Failed', running_image
        kept = by_phase['Migrated'] + by_phase['Failed'] + by_phase['Migrating']
        message = ('The upgrade to %s halted: %s. The processes stay on %s. %s' % (
            target['image'], '; '.join('site %s: %s' % (s, entries[s]['message']) for s in failed), running_image,
            ('In maintenance, since their migrate ran on the new code: %s. Fix the cause and delete the failed Job '
             'to migrate again, or restore them from the backup their migrate took first.' % ', '.join(kept)) if kept else
            'This upgrade put no site in maintenance.'))
    elif by_phase['Waiting'] or by_phase['Migrating']:
        phase, run = 'Migrating', running_image
        plan['quiesce'] = True
        drained = render or worker_pods is not None and not worker_pods and not busy
        room = len(by_phase['Waiting']) if render else \
            max(0, settings['max_parallel'] - len(by_phase['Migrating'])) if drained else 0
        for site_name in by_phase['Waiting'][:room]:
            entries[site_name]['phase'] = 'Migrating'
            rendered.append(site_name)
        message = ('Migrating the sites to %s before the processes run it (%d of %d done); the processes stay on %s '
                   'and the sites being migrated, or migrated, are in maintenance until then.' % (
                       target['image'], len(by_phase['Migrated']), len(entries), running_image))
        if busy and not render:
            message += ' SiteMigrations of %s run first.' % ', '.join(busy)
        elif not drained:
            message += (' The workers are stopping first, each once its running job is done (%d pod(s) left).'
                        % len(worker_pods or []) if worker_pods else ' The workers are stopping first.')
    else:
        run = target['image']
        finish = upgrade_job_name(name, key)
        finished = states.get(finish)
        # Rolled: every Deployment settled, and none still runs the image the upgrade started from.
        rolled = bool(deployments) and all(
            readiness.deployment_settled(d) and all(
                c.get('image') != origin['image'] or origin['image'] == target['image']
                for c in ((((d.get('spec') or {}).get('template') or {}).get('spec') or {}).get('containers') or []))
            for d in deployments)
        if finished == 'Complete':
            phase = 'Succeeded'
            message = 'The bench runs %s; %d site(s) migrated.' % (target['image'], len(entries))
        elif finished == 'Failed':
            phase = 'Failed'
            why = readiness.job_failure(readiness.pods_of_job(pods, finish))
            message = ('The processes run %s, but Job %s, which takes the migrated sites out of maintenance and '
                       'clears the caches, failed%s. Delete it to run it again.' % (
                           target['image'], finish, ': ' + why if why else '.'))
        elif rolled or finished == 'Running':
            phase = 'Finishing'
            message = 'The processes run %s; Job %s takes the sites out of maintenance and clears their caches.' % (
                target['image'], finish)
        else:
            phase = 'Rolling'
            message = 'Every site is migrated; the processes roll to %s.' % target['image']
        if phase != 'Rolling':
            plan['finish'] = {
                'job': finish,
                'out_of_maintenance': sorted(e['siteName'] for e in entries.values()
                                             if e['phase'] == 'Migrated' and not e['maintenanceWasOn']),
                'sites': sorted(s['spec']['siteName'] for s in created)}
    plan['jobs'] = [dict(entries[s], name=s) for s in sorted(rendered)]
    new_record = dict({'key': key, 'phase': phase, 'message': message, 'from': origin, 'to': target,
                       'sites': dict(entries)}, **extra)
    if waiting_image:
        new_record['message'] += ' %s, set since, is upgraded to once this rollback has ended.' % waiting_image
    plan.update(run_image=run, app_versions=target['versions'] if run == target['image'] else origin['versions'],
                record=new_record, moving=phase in MOVING or bool(busy),
                events=_events(record if current else {}, new_record))
    return plan


def _events(before, after):
    """The Events of what changed between the stored record and this one."""
    events = []
    if before.get('phase') != after['phase']:
        kind = 'Warning' if after['phase'] in ('Failed', 'RollingBack', 'RolledBack') else 'Normal'
        reason = {'Migrating': 'UpgradeStarted', 'Rolling': 'UpgradeRolling', 'Finishing': 'UpgradeFinishing',
                  'Succeeded': 'UpgradeSucceeded', 'Failed': 'UpgradeFailed', 'RollingBack': 'UpgradeRollingBack',
                  'RolledBack': 'UpgradeRolledBack'}[after['phase']]
        events.append({'type': kind, 'reason': reason, 'message': after['message']})
    earlier = before.get('sites') or {}
    for site, entry in sorted(after['sites'].items()):
        was = (earlier.get(site) or {}).get('phase')
        if was == entry['phase'] or entry['phase'] not in SITE_EVENTS:
            continue
        kind, reason = SITE_EVENTS[entry['phase']]
        if entry['phase'] == 'Migrated':
            what = 'migrated to %s by Job %s.' % (after['to']['image'], entry['job'])
        elif entry['phase'] == 'RolledBack':
            what = 'restored from %s by Job %s, on %s again.' % (entry['backup'], entry['rollbackJob'],
                                                                 after['from']['image'])
        else:
            what = entry.get('message') or ''
        events.append({'type': kind, 'reason': reason, 'message': 'Site %s (%s): %s' % (site, entry['siteName'], what)})
    return events
