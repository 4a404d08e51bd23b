# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup sets of a site in storage: where a set goes, how it is stored, and which sets retention keeps.

A set is what one run of a SiteBackup stored: the files of `bench backup`
under `<prefix>/<namespace>/<site>/<timestamp>/`, the timestamp in UTC as
TIMESTAMP writes it, so the sets of a site sort by time and a person can
find "last night" in a bucket listing. Each file is encrypted with gpg when
the SiteBackup asks for it; `manifest.json`, written last, says what the set
holds (files with sizes and checksums, the apps' versions, the SiteBackup
that made it), so a set without one is an upload that did not finish.

The backup Job imports this file with the bench's Python (run(), called by
roles/frappe_site_backup/files/site-backup.sh): the decisions the tests prove
are the ones that store and prune in the cluster. The standard library only,
but for boto3, which the bench image ships and only S3 storage imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess

# A set's name: its start in UTC, to the second (20261203T021500Z).
TIMESTAMP = '%Y%m%dT%H%M%SZ'

# The SiteBackup's retention fields, and the period each keeps one set of.
PERIODS = (('keepDaily', 'day'), ('keepWeekly', 'week'), ('keepMonthly', 'month'))
RETENTION_FIELDS = ('keepLast',) + tuple(field for field, _period in PERIODS)


def set_stamp(moment):
    """The name of the set started at `moment` (an aware or UTC datetime)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.strftime(TIMESTAMP)


def parse_stamp(stamp):
    """The UTC datetime a set's name stands for, or None for a name no SiteBackup wrote."""
    try:
        return datetime.datetime.strptime(stamp, TIMESTAMP)
    except (TypeError, ValueError):
        return None


def site_prefix(prefix, namespace, site):
    """Where the sets of one site live in a bucket or a volume: `<prefix>/<namespace>/<site>/`."""
    parts = [part for part in (prefix or '').split('/') if part] + [namespace, site]
    return '/'.join(parts) + '/'


def set_prefix(prefix, namespace, site, stamp):
    """Where one set lives: `<prefix>/<namespace>/<site>/<timestamp>/`."""
    return site_prefix(prefix, namespace, site) + stamp + '/'


def _period(moment, period):
    if period == 'day':
        return moment.date()
    if period == 'week':
        return moment.isocalendar()[:2]
    return (moment.year, moment.month)


def retention(stamps, policy):
    """Which sets to keep and which to prune, as restic's `forget` decides with the same keep counts.

    `stamps` are the names of the sets one SiteBackup made; `policy` its
    `retention` (keepLast, keepDaily, keepWeekly, keepMonthly: how many of
    the newest sets, and of the newest sets of that many days, ISO weeks and
    months that have one, to keep). Returns (keep, prune): `keep` maps each
    kept name to the rules that keep it, newest first; `prune` lists the rest,
    oldest first. Without any count everything is kept. The newest set is
    always kept, and a name no SiteBackup wrote (parse_stamp None) is neither
    kept nor pruned: it is not this policy's to judge.
    """
    policy = policy or {}
    ours = sorted((stamp for stamp in set(stamps) if parse_stamp(stamp) is not None), reverse=True)
    counts = dict((field, int(policy.get(field) or 0)) for field in RETENTION_FIELDS)
    if not any(counts.values()):
        return dict((stamp, ['all']) for stamp in ours), []
    keep = dict((stamp, []) for stamp in ours)
    for stamp in ours[:counts['keepLast']]:
        keep[stamp].append('last')
    for field, period in PERIODS:
        seen = []
        for stamp in ours:
            if len(seen) >= counts[field]:
                break
            key = _period(parse_stamp(stamp), period)
            if key not in seen:
                seen.append(key)
                keep[stamp].append(period)
    if ours and not keep[ours[0]]:
        keep[ours[0]].append('newest')
    kept = dict((stamp, reasons) for stamp, reasons in keep.items() if reasons)
    return kept, sorted(stamp for stamp in ours if stamp not in kept)


# The files `bench backup` writes (frappe/utils/backups.py BackupGenerator: <YYYYmmdd_HHMMSS>-<site, dots as
# underscores>-<what>), with -partial when DocTypes were included or excluded and -enc when Frappe's own backup
# encryption is on.
BENCH_FILE = re.compile(r'^(?P<taken>\d{8}_\d{6})-(?P<site>.+?)-(?P<partial>partial-)?'
                        r'(?P<kind>database|files|private-files|site_config_backup)(?P<enc>-enc)?'
                        r'(?P<ext>\.sql\.gz|\.tar|\.tgz|\.json)$')
MANIFEST = 'manifest.json'
GPG_SUFFIX = '.gpg'


class BackupError(Exception):
    """What went wrong, in words for the SiteBackup's status."""


def bench_files(directory):
    """The files the newest `bench backup` run left in `directory`, by kind; it must have its database dump.

    The newest by Frappe's own timestamp: a SiteBackup's backupPath may hold
    earlier runs (bench backup removes old files only from its default
    directory).
    """
    found = {}
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        match = BENCH_FILE.match(name)
        if match:
            found.setdefault(match.group('taken'), {})[match.group('kind')] = name
    files = found[max(found)] if found else {}
    if 'database' not in files:
        raise BackupError('bench backup left no database dump in %s' % directory)
    return files


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def encrypt(path, passphrase_file):
    """`path` encrypted with gpg (AES256, the passphrase read from a file, never from argv), as path + .gpg."""
    target = path + GPG_SUFFIX
    proc = subprocess.run(['gpg', '--batch', '--yes', '--quiet', '--pinentry-mode', 'loopback', '--symmetric',
                           '--cipher-algo', 'AES256', '--passphrase-file', passphrase_file, '--output', target, path],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackupError('gpg could not encrypt %s: %s' % (os.path.basename(path), proc.stderr.strip()[-500:]))
    return target


def decrypt(path, passphrase_file, target):
    proc = subprocess.run(['gpg', '--batch', '--yes', '--quiet', '--pinentry-mode', 'loopback', '--decrypt',
                           '--passphrase-file', passphrase_file, '--output', target, path],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackupError('gpg could not decrypt %s (a different key?): %s' % (
            os.path.basename(path), proc.stderr.strip()[-500:]))
    return target


def _manifest(path):
    """A set's manifest, or None when it has none a reader can use (a copy that did not finish)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


class DirectoryStorage:
    """Sets as directories under a mounted volume; a set appears whole (written aside, then renamed)."""

    def __init__(self, root):
        self.root = root

    def put_set(self, prefix, files):
        final = os.path.join(self.root, prefix)
        partial = final.rstrip('/') + '.partial'
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        for name, path in files:
            shutil.copyfile(path, os.path.join(partial, name))
        os.rename(partial, final)

    def sets(self, prefix):
        """Names of the sets under `prefix`, each with its manifest (None when it has none)."""
        base = os.path.join(self.root, prefix)
        found = {}
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            if os.path.isdir(os.path.join(base, name)) and not name.endswith('.partial'):
                found[name] = _manifest(os.path.join(base, name, MANIFEST))
        return found

    def delete_set(self, prefix):
        shutil.rmtree(os.path.join(self.root, prefix))

    def location(self, prefix):
        return os.path.join(self.root, prefix)


class S3Storage:
    """Sets as objects in a bucket; the manifest is uploaded last, so a set without one did not finish.

    boto3 takes the credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
    (the Job sets them from Secrets): never an argument, never logged.
    """

    def __init__(self, bucket, endpoint=None, region=None, force_path_style=False, ca_file=None):
        import boto3  # the bench image's; only S3 storage needs it
        from botocore.config import Config
        self.bucket = bucket
        self.client = boto3.client('s3', endpoint_url=endpoint or None, region_name=region or None,
                                   verify=ca_file or None,
                                   config=Config(s3={'addressing_style': 'path' if force_path_style else 'auto'},
                                                 retries={'max_attempts': 3}))

    def _call(self, what, call, *args, **kwargs):
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return call(*args, **kwargs)
        except ClientError as exc:
            raise self._refused(what, exc)
        except (BotoCoreError, S3UploadFailedError) as exc:
            # An upload's error names S3's code in its text ("An error occurred (NoSuchBucket) ...").
            raise BackupError('S3 could not %s in bucket %s: %s' % (what, self.bucket, exc))

    def _refused(self, what, exc):
        error = exc.response.get('Error', {})
        return BackupError('S3 refused to %s in bucket %s: %s (%s)' % (
            what, self.bucket, error.get('Code', ''), error.get('Message', '')))

    def put_set(self, prefix, files):
        # A bucket is never made here: a missing one is the user's to create (and some servers would
        # create it on the first upload, without the settings the user meant it to have).
        # A listing, not a HEAD: its error has a body, so wrong credentials are named as S3 names them.
        from botocore.exceptions import ClientError
        try:
            self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        except ClientError as exc:
            if exc.response.get('Error', {}).get('Code') == 'NoSuchBucket':
                raise BackupError('the bucket %s does not exist (NoSuchBucket): create it, or name an existing one in '
                                  'spec.storage.s3.bucket' % self.bucket)
            raise self._refused('find the bucket', exc)
        for name, path in files:
            self._call('store %s' % name, self.client.upload_file, path, self.bucket, prefix + name)

    def sets(self, prefix):
        from botocore.exceptions import ClientError
        found = {}
        paginator = self.client.get_paginator('list_objects_v2')
        pages = self._call('list the sets', lambda: list(paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter='/')))
        for page in pages:
            for common in page.get('CommonPrefixes') or []:
                name = common['Prefix'][len(prefix):].strip('/')
                try:
                    body = self.client.get_object(Bucket=self.bucket, Key=common['Prefix'] + MANIFEST)['Body']
                    found[name] = json.loads(body.read())
                except (ClientError, ValueError):
                    found[name] = None  # no manifest: an upload that did not finish
        return found

    def delete_set(self, prefix):
        keys = [o['Key'] for page in self.client.get_paginator('list_objects_v2').paginate(
            Bucket=self.bucket, Prefix=prefix) for o in page.get('Contents') or []]
        for start in range(0, len(keys), 1000):
            self._call('prune %s' % prefix, self.client.delete_objects, Bucket=self.bucket,
                       Delete={'Objects': [{'Key': key} for key in keys[start:start + 1000]]})

    def location(self, prefix):
        return 's3://%s/%s' % (self.bucket, prefix)


def store(storage, source, config, now=None, passphrase_file=None, apps=None):
    """Store the set `bench backup` left in `source`, then prune this SiteBackup's sets by its retention.

    `config`: prefix, namespace, site, backup (the SiteBackup's name), retention.
    Nothing is pruned unless the new set is stored whole; only sets whose
    manifest names this SiteBackup are judged. Returns what the status says.
    """
    files = bench_files(source)
    stamp = set_stamp(now or datetime.datetime.now(datetime.timezone.utc))
    prefix = set_prefix(config.get('prefix'), config['namespace'], config['site'], stamp)
    stored, entries = [], []
    for kind, name in sorted(files.items()):
        path = os.path.join(source, name)
        if passphrase_file:
            path = encrypt(path, passphrase_file)
        stored_name = name + (GPG_SUFFIX if passphrase_file else '')
        stored.append((stored_name, path))
        entries.append({'kind': kind, 'name': stored_name, 'benchName': name, 'size': os.path.getsize(path),
                        'sha256': _sha256(path)})
    manifest = {'format': 1, 'site': config['site'], 'namespace': config['namespace'], 'siteBackup': config['backup'],
                'set': stamp, 'encrypted': bool(passphrase_file), 'apps': apps or [], 'files': entries}
    manifest_path = os.path.join(source, MANIFEST)
    with open(manifest_path, 'w') as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    storage.put_set(prefix, stored + [(MANIFEST, manifest_path)])
    site = site_prefix(config.get('prefix'), config['namespace'], config['site'])
    ours = dict((name, m) for name, m in storage.sets(site).items() if m and m.get('siteBackup') == config['backup'])
    keep, prune = retention(list(ours), config.get('retention'))
    for name in prune:
        storage.delete_set(site + name + '/')
    return {'set': stamp, 'location': storage.location(prefix), 'kept': sorted(keep, reverse=True),
            'pruned': prune}


def _apps(config):
    """The apps' versions for the manifest: what `bench version --format json` wrote to appsFile, else apps."""
    path = config.get('appsFile')
    if path and os.path.exists(path):
        try:
            with open(path) as handle:
                return [dict((k, app.get(k)) for k in ('app', 'version')) for app in json.load(handle)]
        except (ValueError, AttributeError, TypeError):
            return []
    return config.get('apps') or []


def run(argv):
    """What the backup Job's store step does: `store SOURCE_DIR CONFIG_JSON`.

    Returns (exit code, the outcome as JSON text); the Job's script prints the
    text and leaves it as the container's termination message, which the
    SiteBackup's status reads (backup_plan.run_outcome).
    """
    if len(argv) != 3 or argv[0] != 'store':
        return 2, json.dumps({'error': 'usage: store SOURCE_DIR CONFIG_JSON'})
    with open(argv[2]) as handle:
        config = json.load(handle)
    try:
        if config['storage'].get('type') == 's3':
            s3 = config['storage']['s3']
            storage = S3Storage(s3['bucket'], s3.get('endpoint'), s3.get('region'), s3.get('forcePathStyle'),
                                s3.get('caFile'))
        else:
            storage = DirectoryStorage(config['storage']['directory'])
        outcome = store(storage, argv[1], config, passphrase_file=config.get('passphraseFile') or None,
                        apps=_apps(config))
    except BackupError as exc:
        return 1, json.dumps({'error': str(exc)}, sort_keys=True)
    return 0, json.dumps(outcome, sort_keys=True)
