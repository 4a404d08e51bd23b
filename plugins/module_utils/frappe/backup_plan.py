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

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_sets import RETENTION_FIELDS
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import backup_names, backups_volume_name

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
        'args': bench_backup_args(given, '/tmp/backup-set'),
        'storage': where,
        'retention': dict((field, int(given['retention'][field])) for field in RETENTION_FIELDS
                          if (given.get('retention') or {}).get(field) is not None),
        # On by default for S3: a bucket is reached from outside the cluster.
        'encryption': {'enabled': bool(encryption.get('enabled', kind == 's3')),
                       'secret': secret or {'name': backup_names(name)['key_secret'], 'key': 'passphrase'},
                       'generated': not secret},
        'deletionPolicy': given.get('deletionPolicy') or 'Retain',
    }, errors
