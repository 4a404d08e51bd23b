# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup sets of a site in storage: where a set goes, how it is kept, which sets retention keeps, how one returns.

A set is what one run of a SiteBackup stored: the files of `bench backup`
under `<prefix>/<namespace>/<site>/<timestamp>/`, the timestamp in UTC as
TIMESTAMP writes it, so the sets of a site sort by time and a person can
find "last night" in a bucket listing. Each file is encrypted with gpg when
the SiteBackup asks for it; `manifest.json`, written last, says what the set
holds (files with sizes and checksums, the apps' versions, the SiteBackup
that made it), so a set without one is an upload that did not finish.

The backup Job imports this file with the bench's Python (run(), called by
roles/frappe_site_backup/files/site-backup.sh), and so does the restore Job
(roles/frappe_site_restore/files/site-restore.sh) to fetch a set, check and
decrypt it, and decide on migrate and the encryption key before the site is
touched: the decisions the tests prove are the ones made in the cluster. The standard library only,
but for boto3, which the bench image ships and only S3 storage imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys

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

    def get_file(self, key, target):
        path = os.path.join(self.root, key)
        if not os.path.isfile(path):
            raise BackupError('%s is not in the backups volume' % key)
        shutil.copyfile(path, target)

    def location(self, prefix):
        return os.path.join(self.root, prefix)


class S3Storage:
    """Sets as objects in a bucket; the manifest is uploaded last, so a set without one did not finish.

    boto3 takes the credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
    (the Job sets them from Secrets): never an argument, never logged.
    """

    def __init__(self, bucket, endpoint=None, region=None, force_path_style=False, ca_file=None, credentials=None):
        import boto3  # the bench image's; only S3 storage needs it
        from botocore.config import Config
        self.bucket = bucket
        # credentials: the names of the environment variables holding them, when not boto3's own.
        keys = {}
        if credentials:
            keys = {'aws_access_key_id': os.environ.get(credentials['accessKeyId']),
                    'aws_secret_access_key': os.environ.get(credentials['secretAccessKey'])}
        self.client = boto3.client('s3', endpoint_url=endpoint or None, region_name=region or None,
                                   verify=ca_file or None,
                                   config=Config(s3={'addressing_style': 'path' if force_path_style else 'auto'},
                                                 retries={'max_attempts': 3}), **keys)

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

    def get_file(self, key, target):
        self._call('fetch %s' % key, self.client.download_file, self.bucket, key, target)


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


def storage_of(where):
    """The storage `where` names: {type: s3, s3: {bucket, endpoint, ...}} or {type: pvc, directory}."""
    if where.get('type') == 's3':
        s3 = where['s3']
        return S3Storage(s3['bucket'], s3.get('endpoint'), s3.get('region'), s3.get('forcePathStyle'),
                         s3.get('caFile'), s3.get('credentials'))
    return DirectoryStorage(where['directory'])


# What restores a site, in the order `bench restore` takes it (frappe/commands/site.py restore): the database
# dump, the two file archives, and the site config whose encryption_key the restored database needs.
RESTORE_KINDS = ('database', 'files', 'private-files', 'site_config_backup')


def choose_set(sets, backup, stamp=''):
    """The set to restore: the one named `stamp`, else the newest complete set the SiteBackup `backup` made."""
    if stamp:
        if stamp not in sets:
            raise BackupError('there is no set %s (sets there: %s)' % (stamp, ', '.join(sorted(sets)) or 'none'))
        if not sets[stamp]:
            raise BackupError('set %s has no manifest: its upload did not finish; pick another set' % stamp)
        return stamp, sets[stamp]
    ours = sorted(name for name, manifest in sets.items() if manifest and manifest.get('siteBackup') == backup)
    if not ours:
        raise BackupError('SiteBackup %s has stored no complete set there yet' % backup)
    return ours[-1], sets[ours[-1]]


def fetch_set(storage, config, workdir, passphrase_file=None):
    """Fetch one set into `workdir`, each file checked against its manifest's checksum and decrypted.

    `config`: prefix, namespace, site (whose sets), backup (the SiteBackup),
    stamp (empty: its newest). Returns the set's name, location, the local
    path of each kind of file (RESTORE_KINDS) and the apps' versions.
    """
    base = site_prefix(config.get('prefix'), config['namespace'], config['site'])
    stamp, manifest = choose_set(storage.sets(base), config['backup'], config.get('stamp') or '')
    files = {}
    for entry in manifest.get('files') or []:
        target = os.path.join(workdir, entry['name'])
        storage.get_file(base + stamp + '/' + entry['name'], target)
        if _sha256(target) != entry.get('sha256'):
            raise BackupError('%s of set %s does not match the checksum its manifest records: the set is damaged; '
                              'restore another set' % (entry['name'], stamp))
        if entry['name'].endswith(GPG_SUFFIX):
            if not passphrase_file:
                raise BackupError('set %s is encrypted, and the SiteBackup has no passphrase to decrypt it' % stamp)
            plain = os.path.join(workdir, entry['benchName'])
            decrypt(target, passphrase_file, plain)
            os.remove(target)
            target = plain
        files[entry['kind']] = target
    if 'database' not in files:
        raise BackupError('set %s holds no database dump' % stamp)
    return {'set': stamp, 'location': storage.location(base + stamp + '/'), 'files': files,
            'apps': manifest.get('apps') or []}


def fetch_sources(sources, workdir):
    """The files of a restore given file by file (the Go operator's SiteRestore sources), fetched into `workdir`.

    `sources` maps a kind (RESTORE_KINDS) to {type: local, path} (relative to
    the bench directory: used where it is) or {type: s3, s3, key}.
    """
    files = {}
    for kind, source in sorted(sources.items()):
        if source['type'] == 'local':
            if not os.path.isfile(source['path']):
                raise BackupError('%s is no file on the sites volume (the %s source)' % (source['path'], kind))
            files[kind] = source['path']
        else:
            # A directory per kind: two sources may share a file name; the name keeps its extension, which
            # bench restore reads (.sql.gz, .tar, .tgz).
            os.makedirs(os.path.join(workdir, kind), exist_ok=True)
            target = os.path.join(workdir, kind, os.path.basename(source['key']))
            storage_of({'type': 's3', 's3': source['s3']}).get_file(source['key'], target)
            files[kind] = target
    return {'set': '', 'location': '', 'files': files, 'apps': []}


def _version_key(version):
    return tuple(int(part) for part in re.findall(r'\d+', str(version or ''))[:3])


def dump_frappe_version(path):
    """The Frappe version a dump names in the header `bench backup` writes first (frappe/utils/backups.py
    take_dump: `-- version = X`, or `Backup generated by Frappe X` with --old-backup-metadata), else ''."""
    import gzip
    try:
        with (gzip.open(path, 'rt') if path.endswith('.gz') else open(path)) as handle:
            head = handle.read(512)
    except (OSError, UnicodeDecodeError, EOFError):
        return ''
    match = re.search(r'^-- (?:version = |Backup generated by Frappe )(\S+)', head, re.MULTILINE)
    return match.group(1) if match else ''


def compare_versions(set_apps, bench_apps, force=False):
    """Whether the restored site needs `bench migrate`, and why a restore is refused (without force).

    A set of older code is migrated to the bench's; a set of newer code (its
    schema ahead of the bench's), or of apps the bench lacks, is refused
    unless forced. Without versions (a dump from elsewhere, no header) the site
    is migrated: on a schema that matches the code, migrate changes nothing.
    """
    bench = dict((app.get('app'), app.get('version')) for app in bench_apps or [])
    newer, older, missing = [], [], []
    for app in set_apps or []:
        name, version = app.get('app'), app.get('version')
        if name not in bench:
            missing.append(name)
        elif _version_key(version) > _version_key(bench[name]):
            newer.append('%s %s (bench: %s)' % (name, version, bench[name]))
        elif _version_key(version) < _version_key(bench[name]):
            older.append(name)
    refusals = []
    if newer and not force:
        refusals.append('the backup was taken on newer code than the bench runs: %s. Its schema is ahead of the code: '
                        'upgrade the bench image first, or set spec.force: true to restore it anyway'
                        % ', '.join(newer))
    if missing and not force:
        refusals.append('the backed-up site has apps the bench lacks: %s. Add them to the bench image first, or set '
                        'spec.force: true to restore it anyway' % ', '.join(missing))
    # What the restored schema is made for: the bench's code once migrated; else the set's own, which is the
    # bench's or, forced, newer or of apps the bench lacks.
    schema = dict(bench)
    if set_apps and not older:
        schema.update((app.get('app'), app.get('version')) for app in set_apps)
    return {'migrate': bool(older) or not set_apps, 'older': older, 'newer': newer, 'missing': missing,
            'refusals': refusals, 'schema': dict((a, v) for a, v in schema.items() if a and v)}


def _read_json(path):
    with open(path) as handle:
        return json.load(handle)


def key_action(backup_config, site_config, force=False):
    """What happens to the site's encryption_key: restored, replaced, kept, or a refusal (BackupError).

    Frappe encrypts stored passwords with site_config's encryption_key, and
    bench restore never writes it (frappe/commands/site.py _restore): a
    database read with another key fails with "Encryption key is invalid" on
    each of them (frappe/utils/password.py decrypt). So the backed-up site's
    key comes back, unless the site has another one, which only force replaces.
    """
    theirs = (backup_config or {}).get('encryption_key')
    ours = (site_config or {}).get('encryption_key')
    if not theirs:
        return 'kept'
    if not ours or ours == theirs:
        return 'restored'
    if force:
        return 'replaced'
    raise BackupError(
        "the backed-up site's encryption_key differs from the one of this site: the restored database's stored "
        "passwords need the backed-up key, and what this site stores now needs its own. To restore and replace the "
        "key (moving a site into a new FrappeSite, or replacing a site's data), set spec.force: true: the site's "
        "current site_config.json is kept beside it")


def keep_site_config(site_dir, keep_as):
    """A copy of the site's site_config.json as it is now, readable by its owner only."""
    shutil.copyfile(os.path.join(site_dir, 'site_config.json'), os.path.join(site_dir, keep_as))
    os.chmod(os.path.join(site_dir, keep_as), 0o600)


def write_site_key(site_dir, key):
    """Set encryption_key in the site's site_config.json.

    Written the way Frappe's update_site_config writes it (frappe/installer.py
    _update_config_file: indent 1, sorted keys), through a file renamed over
    the old one, so a failure leaves the old config whole.
    """
    path = os.path.join(site_dir, 'site_config.json')
    config = _read_json(path)
    config['encryption_key'] = key
    with open(path + '.restoring', 'w') as handle:
        handle.write(json.dumps(config, indent=1, sort_keys=True))
    os.rename(path + '.restoring', path)


def _keystream(pad, length):
    """`length` bytes drawn from the one-time pad text (SHAKE-256, so any alphabet and any key length)."""
    return bytearray(hashlib.shake_256(pad.encode('utf-8')).digest(length))


def _tag(key, pad):
    return hmac.new(pad.encode('utf-8'), key.encode('utf-8'), hashlib.sha256).hexdigest()[:32]


def seal_key(key, pad):
    """The key, XORed with the pad's keystream, as hex, and a tag (HMAC-SHA-256 under the pad) that tells a wrong pad:
    safe in a pod's termination message, which anyone who may read the pod sees, while the pad stays in its Secret."""
    data = bytearray(key.encode('utf-8'))
    return '%s:%s' % (''.join('%02x' % (b ^ s) for b, s in zip(data, _keystream(pad, len(data)))), _tag(key, pad))


def unseal_key(sealed, pad):
    """seal_key undone with the same pad; ValueError for another pad or a damaged text."""
    text, _colon, tag = sealed.partition(':')
    data = bytearray.fromhex(text)
    key = bytes(bytearray(b ^ s for b, s in zip(data, _keystream(pad, len(data))))).decode('utf-8', 'replace')
    if not hmac.compare_digest(_tag(key, pad), tag):
        raise ValueError('the one-time pad does not unseal this key (another pad, or a damaged text)')
    return key


def _pad(config):
    """The one-time pad the SiteRestore's Secret gives (config keyPadFile), or '' when it is not mounted."""
    path = config.get('keyPadFile')
    if not path or not os.path.isfile(path):
        return ''
    with open(path) as handle:
        return handle.read().strip()


def prepare_restore(config, now=None):
    """Fetch what the restore needs and decide, before anything of the site is touched.

    Refusals (a set newer than the code, a different key without force, a
    damaged or missing set) raise BackupError: the site stays as it is.
    Returns the decisions the later steps follow (written as prepared.json).
    """
    workdir = config['workdir']
    if not os.path.isdir(workdir):
        os.makedirs(workdir)
    if config.get('set'):
        source = config['set']
        fetched = fetch_set(storage_of(source['storage']), source, workdir, source.get('passphraseFile') or None)
    else:
        fetched = fetch_sources(config['sources'], workdir)
    files = fetched['files']
    apps = fetched['apps']
    if not apps:
        version = dump_frappe_version(files['database'])
        apps = [{'app': 'frappe', 'version': version}] if version else []
    bench_apps = _read_json(config['benchAppsFile']) if config.get('benchAppsFile') else []
    versions = compare_versions(apps, bench_apps, config.get('force'))
    if versions['refusals']:
        raise BackupError('; '.join(versions['refusals']))
    site_dir = os.path.join('sites', config['site'])
    if not os.path.isfile(os.path.join(site_dir, 'site_config.json')):
        raise BackupError('site %s has no site_config.json on the sites volume: the FrappeSite must be created (Ready) '
                          'before it is restored into' % config['site'])
    backup_config = _read_json(files['site_config_backup']) if files.get('site_config_backup') else {}
    key = key_action(backup_config, _read_json(os.path.join(site_dir, 'site_config.json')), config.get('force'))
    kept, sealed = '', ''
    if key == 'replaced':
        # The last decision taken: the config as it is before anything of the restore (maintenance included).
        kept = 'site_config.before-restore.%s.json' % set_stamp(now or datetime.datetime.now(datetime.timezone.utc))
        keep_site_config(site_dir, kept)
        # The replaced key, for the Secret the reconcile keeps it in: the Job may not write Secrets, so it leaves
        # the key sealed with the pad in its outcome, and the reconcile, which may read the pad, unseals it.
        pad = _pad(config)
        if pad:
            sealed = seal_key(_read_json(os.path.join(site_dir, kept))['encryption_key'], pad)
    return {'set': fetched['set'], 'location': fetched['location'], 'files': files, 'migrate': versions['migrate'],
            'olderApps': versions['older'], 'encryptionKey': key, 'keptConfig': kept, 'previousKeySealed': sealed,
            'schemaVersions': versions['schema']}


def finish_key(config, prepared):
    """After bench restore: the backed-up site's encryption_key into the site's config, as prepare decided."""
    if prepared['encryptionKey'] in ('restored', 'replaced'):
        key = _read_json(prepared['files']['site_config_backup'])['encryption_key']
        write_site_key(os.path.join('sites', config['site']), key)
    return prepared['encryptionKey']


def forget(storage, config):
    """Delete every set the SiteBackup config['backup'] made (its deletionPolicy Delete); nothing else.

    Only sets whose manifest names it: other SiteBackups' sets of the site,
    files a person put there and unfinished uploads (no manifest to say whose)
    stay.
    """
    base = site_prefix(config.get('prefix'), config['namespace'], config['site'])
    ours = sorted(name for name, manifest in storage.sets(base).items()
                  if manifest and manifest.get('siteBackup') == config['backup'])
    for name in ours:
        storage.delete_set(base + name + '/')
    return {'deleted': ours, 'location': storage.location(base)}


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
    """What the backup and restore Jobs' Python steps do, by the first argument.

    `store SOURCE_DIR CONFIG_JSON`: store the set bench backup left and prune
    (the backup Job). `forget CONFIG_JSON`: delete every set of the SiteBackup
    (its deletionPolicy Delete). `prepare CONFIG_JSON`: fetch, check and decide a restore,
    writing prepared.json into its workdir. `finish-key CONFIG_JSON`: the
    encryption key as prepared decided (after bench restore). Returns (exit
    code, the outcome as JSON text); the Job's script prints the text and
    leaves a failure's as the container's termination message, which the
    status reads (backup_plan.run_outcome).
    """
    usage = {'store': 3, 'prepare': 2, 'finish-key': 2, 'forget': 2}
    if not argv or usage.get(argv[0]) != len(argv):
        return 2, json.dumps({'error': 'usage: store SOURCE_DIR CONFIG_JSON | forget CONFIG_JSON | '
                                       'prepare CONFIG_JSON | finish-key CONFIG_JSON'})
    config = _read_json(argv[-1])
    try:
        if argv[0] == 'store':
            outcome = store(storage_of(config['storage']), argv[1], config,
                            passphrase_file=config.get('passphraseFile') or None, apps=_apps(config))
        elif argv[0] == 'forget':
            outcome = forget(storage_of(config['storage']), config)
        elif argv[0] == 'prepare':
            outcome = prepare_restore(config)
            with open(os.path.join(config['workdir'], 'prepared.json'), 'w') as handle:
                json.dump(outcome, handle, sort_keys=True)
        else:
            outcome = {'encryptionKey': finish_key(config, _read_json(
                os.path.join(config['workdir'], 'prepared.json')))}
    except BackupError as exc:
        return 1, json.dumps({'error': str(exc)}, sort_keys=True)
    return 0, json.dumps(outcome, sort_keys=True)


def main(argv):
    """`backup_sets.py COMMAND ARGS...` in a Job: run()'s outcome printed and left as the container's
    termination message (what the status reads); its exit code the process's."""
    code, text = run(argv)
    sys.stdout.write(text + '\n')
    if os.access('/dev/termination-log', os.W_OK):
        with open('/dev/termination-log', 'w') as handle:
            handle.write(text[:4000])
    return code


if __name__ == '__main__':
    raise SystemExit(main(sys.argv[1:]))
