# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The name of every object a FrappeBench, a FrappeSite, a SiteBackup or a SiteRestore owns or uses, computed here and nowhere else.

The plans carry these names (plan.names, plan.config.job, plan.job.name,
plan.drop_job.name) and the tasks and templates read them from the plan; a
reconcile finds what an earlier one made by the same deterministic names, so
no name needs to be stored. The validation derives its length limits from
them too. tests/unit/plugins/module_utils/frappe/test_names.py proves that no other
plugin file forms an object name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

# The processes of a bench, each a Deployment (and a Service when it listens).
COMPONENTS = ('gunicorn', 'nginx', 'socketio', 'scheduler')
WORKER_TYPES = ('short', 'long', 'default')


def worker_name(name, worker_type):
    """The Deployment (and ScaledObject) of one RQ worker type."""
    return '%s-worker-%s' % (name, worker_type)


def redis_name(name, role):
    """The Service, NetworkPolicy and StatefulSet of the cache or queue Redis."""
    return '%s-redis-%s' % (name, role)


def bench_names(name):
    """The name of every object the FrappeBench `name` owns (the configuration Job adds its hash: config_job_name)."""
    return {
        'sites': '%s-sites' % name,
        'redis_password': '%s-redis' % name,
        'redis_cache': redis_name(name, 'cache'),
        'redis_queue': redis_name(name, 'queue'),
        # The queue Redis's volume, named by the StatefulSet controller after
        # its volumeClaimTemplate (data, redis/statefulset.yaml.j2) and pod 0.
        'redis_queue_claim': 'data-%s-0' % redis_name(name, 'queue'),
        # KEDA reads the queue Redis's password through it.
        'trigger_auth': redis_name(name, 'queue'),
        'config_prefix': '%s-config-' % name,
        # The periodic look at the image (image_probe.check_due).
        'check_prefix': '%s-probe-' % name,
        # An upgrade's Jobs (upgrade.py): a migrate per site, then the one that finishes it, or a restore per
        # site it migrated when it rolls back.
        'migrate_prefix': '%s-migrate-' % name,
        'upgrade_prefix': '%s-upgrade-' % name,
        'rollback_prefix': '%s-rollback-' % name,
        # The nginx configuration (nginx.conf and the server with its sites map).
        'nginx_config': '%s-nginx' % name,
        'component': dict((c, '%s-%s' % (name, c)) for c in COMPONENTS),
        'worker': dict((w, worker_name(name, w)) for w in WORKER_TYPES),
    }


def config_job_name(name, digest):
    """The configuration Job: named by the hash of its inputs, so a change runs it again and nothing else does."""
    return bench_names(name)['config_prefix'] + digest


def check_job_name(name, token):
    """The Job that looks at the bench's image again (image_probe.check_token names each look)."""
    return bench_names(name)['check_prefix'] + hashlib.sha256(token.encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]


def migrate_job_name(name, site, key):
    """The Job that migrates the FrappeSite `site` in the upgrade `key` (upgrade.target_key): one per site and
    target, so a reconcile after a restart finds it done and never runs it again."""
    digest = hashlib.sha256(('%s/%s' % (site, key)).encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]
    return bench_names(name)['migrate_prefix'] + digest


def rollback_job_name(name, site, key):
    """The Job that restores the FrappeSite `site` from the backup its migrate in the upgrade `key` took."""
    digest = hashlib.sha256(('%s/%s' % (site, key)).encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]
    return bench_names(name)['rollback_prefix'] + digest


def upgrade_job_name(name, key):
    """The Job that ends the upgrade `key`: the migrated sites out of maintenance, every site's cache cleared."""
    return bench_names(name)['upgrade_prefix'] + key


def site_names(name):
    """The name of every object the FrappeSite `name` owns or uses (the site Job adds its hash: site_job_name).

    Database, User, Grant, dedicated MariaDB and Ingress keep the Go frappe-operator's names.
    """
    return {
        'database': '%s-db' % name,
        'user': '%s-user' % name,
        'grant': '%s-grant' % name,
        'mariadb': '%s-mariadb' % name,
        'mariadb_root_secret': '%s-mariadb-root' % name,
        'db_secret': '%s-db-credentials' % name,
        'admin_secret': '%s-admin' % name,
        'ingress': '%s-ingress' % name,
        'tls_secret': '%s-tls' % name,
        'job_prefix': '%s-new-site-' % name,
        'drop_job': '%s-drop-site' % name,
    }


# The length of the hash a site or configuration Job's name ends with.
JOB_HASH_LENGTH = 10


def site_job_name(name, digest):
    """The site Job (bench new-site): named by the hash of its inputs."""
    return site_names(name)['job_prefix'] + digest


def drop_job_name(name, uid):
    """The drop Job, named after the FrappeSite's uid: a site deleted, created again and deleted within the
    finished Job's TTL must not find the earlier Job done."""
    base = site_names(name)['drop_job']
    return '%s-%s' % (base, uid[:8]) if uid else base


def database_name(namespace, name):
    """The MariaDB database (and user) of a new site: deterministic per namespace and FrappeSite name (a site
    created again under its name finds its database), unique, a valid MariaDB identifier (17 characters)."""
    return '_' + hashlib.sha256(('%s/%s' % (namespace, name)).encode('utf-8')).hexdigest()[:16]


def backup_names(name):
    """The objects of the SiteBackup `name`: its CronJob, its one-off Jobs (named by a hash: backup_job_name),
    the Secret of a passphrase generated for it, and the ConfigMap of what its Job runs."""
    return {
        'cronjob': '%s-backup' % name,
        # Deletes the SiteBackup's sets when it is deleted with deletionPolicy Delete.
        'forget_job': '%s-forget-sets' % name,
        # The last backup before its site is dropped (final_job_name adds the site's uid).
        'final_prefix': '%s-final-' % name,
        'job_prefix': '%s-backup-' % name,
        'key_secret': '%s-backup-key' % name,
        'script': '%s-backup-script' % name,
    }


def backup_job_name(name, digest):
    """A one-off backup Job: named by the hash of its inputs, so a changed spec takes another backup."""
    return backup_names(name)['job_prefix'] + digest


def restore_names(name):
    """The objects of the SiteRestore `name`: its one Job (a restore runs once), the ConfigMap of what it runs, and,
    when it may replace the site's encryption key (force), the Secret of the one-time pad that seals the replaced
    key on its way out of the Job and the Secret the replaced key is kept in."""
    return {
        'job': '%s-restore' % name,
        'script': '%s-restore-script' % name,
        'key_pad': '%s-key-pad' % name,
        'previous_key': '%s-previous-key' % name,
    }


def site_migration_names(name, uid=''):
    """The objects of the SiteMigration `name`: its migrate Job, and the Job that restores its site when that
    migrate failed (both run once), and the folder under the site's upgrade-backups its backup goes to (with its
    uid: one made again under the same name never finds an earlier one's backup)."""
    return {'job': '%s-migrate' % name, 'rollback_job': '%s-rollback' % name,
            'backup_key': 'site-migration-%s-%s' % (name, uid[:8]) if uid else 'site-migration-%s' % name}


def final_job_name(name, site_uid):
    """The backup a SiteBackup takes before its site is dropped: one per site (its uid), so a retried deletion
    finds it, and a site made again under the same name takes its own."""
    return backup_names(name)['final_prefix'] + site_uid[:8]


def backups_volume_name(site):
    """The volume the sets of a site go to when its SiteBackups name no claim (never the sites volume)."""
    return '%s-backups' % site
