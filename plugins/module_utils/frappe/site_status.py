# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status of one FrappeSite from its plan (planned against the state seen last); docs in site_status.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.upgrade import replacing
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.image_probe import versions_of

from ansible_collections.vyogotech.frappe.plugins.module_utils.conditions import compute_status
from ansible_collections.vyogotech.frappe.plugins.module_utils.readiness import job_failure, succeeded_container


def _flag(value):
    return 'True' if value else 'False'


def site_status(plan, site, pods=None):
    """Status patch, conditions, phase and whether anything changes; see site_status.yml."""
    if not isinstance(plan, dict) or 'database' not in plan:
        raise InvalidInput('site_status expects a complete site_plan (one without errors)')
    namespace = plan['namespace']
    current = (site or {}).get('status') or {}
    bench, database, job, ingress = plan['bench'], plan['database'], plan['job'], plan['ingress']
    bench_name = (site or {}).get('spec', {}).get('benchRef', {}).get('name', '')

    if not bench['found']:
        bench_reason, bench_message = 'BenchNotFound', (
            'FrappeBench %s/%s does not exist: create it, or set spec.benchRef.name to an existing bench. Nothing of '
            'the site is written until it exists.' % (namespace, bench_name))
    elif not bench['configured']:
        bench_reason, bench_message = 'BenchNotConfigured', (
            'FrappeBench %s is not configured yet (its configuration Job writes common_site_config.json); the site '
            'Job waits for it.' % bench_name)
    elif not bench['ready']:
        bench_reason, bench_message = 'BenchNotReady', 'FrappeBench %s is not Ready: %s' % (
            bench_name, bench.get('ready_message') or 'see kubectl describe frappebench %s.' % bench_name)
    else:
        bench_reason, bench_message = 'Ready', 'FrappeBench %s is Ready.' % bench_name

    # A site stays created while a Job of new inputs (another bench image, a new
    # host_name) runs again over it: its directory and database are there.
    created_before = any(c.get('type') == 'SiteCreated' and c.get('status') == 'True'
                         for c in current.get('conditions') or [])
    site_created = job['state'] == 'Complete' or (created_before and job['state'] != 'Failed')
    if job['state'] == 'Running' and created_before:
        site_reason, site_message = 'Updating', 'Site %s exists; Job %s applies its new inputs (host_name).' % (
            plan['site_name'], job['name'])
    elif site_created and job['state'] != 'Complete':
        site_reason, site_message = 'Created', 'Site %s exists; Job %s applies its new inputs once the bench and ' \
            'the database are ready.' % (plan['site_name'], job['name'])
    elif site_created:
        site_reason, site_message = 'Created', 'Job %s created site %s%s.' % (
            job['name'], plan['site_name'], ' and set its host_name to %s' % plan['host_name'] if plan['host_name'] else '')
    elif job['state'] == 'Failed':
        failure = job_failure(pods)
        site_reason, site_message = 'JobFailed', (
            'Job %s failed%s. See kubectl logs -n %s job/%s. Fix the cause and delete the Job; the next reconcile runs '
            'it again.' % (job['name'], ': %s\n' % failure if failure else '', namespace, job['name']))
    elif job['state'] == 'Running':
        site_reason, site_message = 'Creating', 'Job %s runs bench new-site for %s.' % (job['name'], plan['site_name'])
    elif plan['secret_problem']:
        site_reason, site_message = plan['secret_problem']
    else:
        site_reason, site_message = 'Waiting', 'The site Job starts once the bench is configured and the database is ' \
            'ready.'

    if not plan['route_ready']:
        ingress_ok, ingress_reason, ingress_message = False, 'RoutePending', (
            'The nginx of FrappeBench %s does not route %s to site %s yet: the bench\'s reconcile adds it to its map '
            '(asked for with the annotation vyogo.tech/routes-requested on the bench).'
            % (bench_name, plan['domain']['resolved'], plan['site_name']))
    elif not ingress:
        ingress_ok, ingress_reason, ingress_message = True, 'Disabled', (
            'No Ingress (spec.ingress.enabled is not true); the bench nginx Service serves %s by its Host header.'
            % plan['domain']['resolved'])
    elif plan['ingress_waiting']:
        ingress_ok, ingress_reason, ingress_message = False, 'BenchNotReady', (
            'The Ingress waits for the bench to publish its nginx Service (status.frontend).')
    else:
        ingress_ok, ingress_reason, ingress_message = True, 'Applied', 'Ingress %s serves %s.' % (
            plan['names']['ingress'], plan['site_url'])

    ready = bench['ready'] and database['ready'] and site_created and ingress_ok
    waiting_for = [what for what, ok in (('the bench', bench['ready']), ('the database', database['ready']),
                                         ('the site Job', site_created), ('the Ingress', ingress_ok)) if not ok]
    conditions = [
        {'type': 'BenchReady', 'status': _flag(bench['ready']), 'reason': bench_reason, 'message': bench_message},
        {'type': 'DatabaseReady', 'status': _flag(database['ready']), 'reason': database['reason'],
         'message': database['message']},
        {'type': 'SiteCreated', 'status': _flag(site_created), 'reason': site_reason, 'message': site_message},
        {'type': 'IngressReady', 'status': _flag(ingress_ok), 'reason': ingress_reason, 'message': ingress_message},
        {'type': 'Ready', 'status': _flag(ready),
         'reason': 'Ready' if ready else (site_reason if job['state'] == 'Failed' else 'NotReady'),
         'message': 'Site %s is served at %s.' % (plan['site_name'], plan['site_url']) if ready else
         site_message if job['state'] == 'Failed' else 'Waiting for: %s.' % ', '.join(waiting_for)},
    ]
    events = []
    consent = plan.get('consent')
    previous = dict((c.get('type'), c) for c in current.get('conditions') or []).get(CONSENT_CONDITION)
    if consent:
        conditions.append({'type': CONSENT_CONDITION, 'status': _flag(consent['given']),
                           'reason': 'Consented' if consent['given'] else 'ConsentMissing',
                           'message': consent['message'] if consent['given'] else (
                               'The database is already on %s, so the site keeps being reconciled, but nothing is '
                               'dropped there until consent is given: %s' % (consent['server'], consent['message']))})
        # Once, when consent goes missing: kubectl describe frappesite tells it.
        if not consent['given'] and (previous or {}).get('reason') != 'ConsentMissing':
            events.append({'type': 'Warning', 'reason': 'ConsentMissing', 'message': conditions[-1]['message']})
    elif previous:
        conditions.append({'type': CONSENT_CONDITION, 'status': 'True', 'reason': 'SameNamespace',
                           'message': 'The database server is in the namespace of the site; no consent is needed.'})
    if ready:
        phase = 'Ready'
    elif job['state'] == 'Failed':
        phase = 'Failed'
    elif not bench['found'] or database['reason'] in PENDING_REASONS or plan['secret_problem'] or (
            not bench['configured'] and job['state'] == 'Missing'):
        phase = 'Pending'
    else:
        phase = 'Provisioning'
    patch = {
        'phase': phase,
        'observedGeneration': int((site or {}).get('metadata', {}).get('generation') or 0),
        'benchReady': bench['ready'],
        'databaseReady': database['ready'],
        # Recorded once: later reconciles keep it (site_plan reads it back).
        'databaseName': database['name'],
        'databaseCredentialsSecret': database['password_secret']['name'],
        'resolvedDomain': plan['domain']['resolved'],
        'domainSource': plan['domain']['source'],
        'siteURL': plan['site_url'],
    }
    if plan['server'].get('via') == 'site-login' and not database['ready']:
        # provider: external: the name its Secret gives is recorded once the site Job may run on it (site_plan
        # then never moves the site); until then the Secret may still be corrected.
        del patch['databaseName']
    # What the completed site Job reported, read once from its pod (site_plan: job.outcome_read): nothing
    # to record until that read is given (`pods`), and then the record of this Job even when it said nothing.
    outcome_unread = job['state'] == 'Complete' and not job['outcome_read']
    if outcome_unread and pods is not None:
        patch['schema'] = site_schema(pods, job['name'])
        if 'versions' in patch['schema']:
            # A merge patch keeps keys it does not name: an app no longer there is named with null.
            recorded = (current.get('schema') or {}).get('versions') or {}
            patch['schema']['versions'] = dict(dict((app, None) for app in recorded), **patch['schema']['versions'])
    # Where the site is in its bench's upgrade: a copy of the bench's entry (gone with it).
    migration = site_migration(bench.get('upgrade') or {}, plan['name'])
    if migration or current.get('migration'):
        patch['migration'] = replacing(current.get('migration'), migration)
    migrated = migrated_schema(bench.get('upgrade') or {}, plan['name'])
    recorded = current.get('schema') or {}
    # Once per entry of the bench's record (status.migration is its copy): a later restore of the site
    # (SiteRestore) records what it brought back, which an old entry does not undo.
    if migrated and current.get('migration') != migration and \
            (recorded.get('job'), recorded.get('versions')) != (migrated['job'], migrated['versions']):
        # The bench's upgrade migrated this site: its schema is now made for the versions it went to.
        patch['schema'] = dict(migrated, versions=replacing(recorded.get('versions'), migrated['versions']))
    unchanged = compute_status(current, patch, conditions, now='unchanged') == current
    # Whether the site moves on without anyone acting (its database is being
    # made, its Job runs or is about to, its route is being added), so another
    # reconcile soon is worth it. Not while its bench is not Ready: the bench's
    # own status decides whether that moves on, and the site follows it.
    converging = phase == 'Provisioning' and bench['ready']
    return {'status': patch, 'conditions': conditions, 'phase': phase, 'unchanged': unchanged, 'events': events,
            'converging': converging, 'outcome_unread': outcome_unread and pods is None}


def site_migration(upgrade, name):
    """status.migration: the FrappeSite `name`'s entry of its bench's upgrade record, or None."""
    entry = (upgrade.get('sites') or {}).get(name)
    if not isinstance(entry, dict):
        return None
    found = dict((key, entry[key]) for key in ('phase', 'job', 'backup', 'message', 'rollbackJob') if entry.get(key))
    found['image'] = (upgrade.get('to') or {}).get('image') or ''
    return found


def migrated_schema(upgrade, name):
    """{'job', 'versions'} when the bench's upgrade record (its status.upgrade) says it migrated the FrappeSite
    `name` (the versions it went to), or restored it from the backup taken before (the versions it had), else
    None."""
    entry = (upgrade.get('sites') or {}).get(name) or {}
    if entry.get('phase') == 'Migrated':
        return {'job': entry.get('job') or '', 'versions': dict((upgrade.get('to') or {}).get('versions') or {})}
    if entry.get('phase') == 'RolledBack' and isinstance(entry.get('fromVersions'), dict):
        return {'job': entry.get('rollbackJob') or '', 'versions': dict(entry['fromVersions'])}
    return None


def site_schema(pods, job):
    """status.schema from the outcome the site Job `job` reported (files/new-site.sh, its termination message).

    {'job': job, 'versions': {app: version}} when the Job created the site:
    the versions of the image it ran, which the new schema was made for.
    Otherwise {'job': job}, and the merge patch keeps what was recorded
    before: a site that existed keeps the versions it was last migrated to
    (installing an app migrates nothing else), and a pod that said nothing
    readable (gone, or an older script) changes nothing. A record can then
    only be older than the schema, never newer: at worst a migrate that finds
    nothing to do.
    """
    terminated = succeeded_container(pods, job, 'new-site') or {}
    try:
        outcome = json.loads(terminated.get('message') or '')
    except ValueError:
        outcome = None
    versions = versions_of(outcome.get('versions')) if isinstance(outcome, dict) and outcome.get('created') is True \
        else {}
    return dict({'job': job}, **({'versions': versions} if versions else {}))


# Whether the namespace of a database server in another namespace consents (site_plan.CONSENT_ANNOTATION).
CONSENT_CONDITION = 'DatabaseConsent'


# Database reasons under which the site waits for its user to act (phase Pending).
PENDING_REASONS = ('MariaDBOperatorMissing', 'ConnectionSecretNotFound', 'ConnectionSecretInvalid',
                   'DatabaseServerNotFound')


def site_writes_needed(plan, site, pending, finalizer):
    """Whether a reconcile of a site that is not being deleted has anything to write (the role's apply.yml): its
    finalizer, deletions, objects an apply would change (pending), owner references to set back, its generated
    Secrets, or its route and realtime hosts on its bench."""
    finalizers = ((site or {}).get('metadata') or {}).get('finalizers') or []
    return bool(finalizer not in finalizers or plan['delete'] or pending or plan.get('owner_fixes')
                or (plan['provision'] and not (plan['secrets']['db'] and plan['secrets']['admin']))
                or (plan['bench']['found'] and not (plan['route_ready'] and plan['realtime_ready'])))


def site_settled(status):
    """Whether a reconcile with nothing to write has nothing else to do either, from site_status's answer: a Ready
    site whose stored status is this one, nothing on its way, no Event to record and no outcome of its site Job to
    read (the role then leaves out the status step)."""
    return (status['unchanged'] and status['phase'] == 'Ready' and not status['converging'] and not status['events']
            and not status['outcome_unread'])
