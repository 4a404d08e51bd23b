# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan of one FrappeSite, from its object and the live state; docs in site_plan.yml.

Like bench_plan: every decision that depends on the live cluster and the
ordered list of templates to render are made here, with the names of
names.py; the role's tasks read the plan and the templates render one object
each from it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import json
import re

from ansible_collections.vyogotech.frappe.plugins.module_utils import readiness
from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import without_owner
from ansible_collections.vyogotech.frappe.plugins.module_utils.prune import controlled_unwanted
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import (
    IMAGE_REFERENCE_PATTERN, bench_spec_errors)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.domain_detection import resolve_domain
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.job_resources import KINDS, job_resources
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_placement import (
    SITES_NODE_LABEL, pod_config, site_job_pods)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.go_operator_fields import (
    current_spelling, site_refusals)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import JOB_HASH_LENGTH, database_name, drop_job_name, site_job_name, \
    site_names
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.plan_input import check_plan_input
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_validation import dns_name_errors, reference_errors, \
    site_name_errors

DB_PORT = 3306
# Kinds of the MariaDB Operator (k8s.mariadb.com/v1alpha1) a site uses.
MARIADB_API = 'k8s.mariadb.com/v1alpha1'
CERT_MANAGER_API = 'cert-manager.io/v1'
SERVER_KINDS = ('MariaDB', 'ExternalMariaDB')
# Keys of a connectionSecretRef Secret: an administrative login to an external server.
CONNECTION_KEYS = ('host', 'username', 'password')
# With provider: external the Secret is the site's own login to a database its
# owner made, keyed as the Go operator reads it (controllers/database/
# external_provider.go GetCredentials, EnsureDatabase): username and password,
# database (else the siteName), host and port (else spec.dbConfig's).
SITE_LOGIN_KEYS = ('username', 'password')
# Of those, what the plan reads the values of (never the password).
SITE_LOGIN_VALUES = ('host', 'port', 'database', 'username', 'type')
SQL_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_$-]{0,63}$')
# The server of a shared site that names none, as the Go operator takes it
# (controllers/database/mariadb_provider.go findOrCreateSharedMariaDB): a
# MariaDB of this name in the site's namespace, which it never makes either.
DEFAULT_SHARED_MARIADB = 'frappe-mariadb'
# On a MariaDB or ExternalMariaDB: the namespaces (comma-separated, or *) whose
# FrappeSites may have a database, user and grant made on it (the operator's
# rights are cluster-wide; the server's namespace has to agree, as with
# Gateway API's ReferenceGrant).
CONSENT_ANNOTATION = 'vyogo.tech/allow-sites-from'


def _or(value, default):
    return value if value else default


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _first(live, key):
    return (live.get(key) or [None])[0]


def _condition(obj, kind='Ready'):
    for c in (_mapping(obj).get('status') or {}).get('conditions') or []:
        if c.get('type') == kind:
            return c
    return None


def _ready(obj):
    c = _condition(obj)
    return bool(c) and c.get('status') == 'True'


def _deleting(obj):
    return bool(_mapping(obj).get('metadata', {}).get('deletionTimestamp'))


def db_config(spec):
    """spec.dbConfig of a FrappeSite spec, with the default server (DEFAULT_SHARED_MARIADB) of a shared MariaDB
    site that names none."""
    db = dict(_mapping(_mapping(spec).get('dbConfig')))
    if _or(db.get('provider'), 'mariadb') == 'mariadb' and _or(db.get('mode'), 'shared') == 'shared' and \
            not db.get('connectionSecretRef') and not db.get('mariadbRef'):
        db['mariadbRef'] = {'name': DEFAULT_SHARED_MARIADB, 'implied': True}
    return db


def _domain_conflicts(site, bench, domain, live):
    """Other sites of the same bench that serve `domain` and came first (older, or same age and a smaller name)."""
    meta = site['metadata']
    me = (meta.get('creationTimestamp') or '9999', meta['name'])
    bench_name = site['spec']['benchRef']['name']
    conflicts = []
    for other in live.get('sites') or []:
        ometa = other.get('metadata') or {}
        if ometa.get('name') == meta['name'] or _deleting(other):
            continue
        ospec = other.get('spec') or {}
        if _mapping(ospec.get('benchRef')).get('name') != bench_name:
            continue
        if (ometa.get('creationTimestamp') or '9999', ometa.get('name')) > me:
            continue
        other_domain, _source = resolve_domain(other, bench)
        # One site directory per siteName on a bench's volume, one route per domain.
        if domain in (other_domain, ospec.get('siteName')) or ospec.get('siteName') == site['spec']['siteName']:
            conflicts.append(ometa['name'])
    return conflicts


def _spec_errors(site, namespace):
    spec = site['spec']
    db = db_config(spec)
    # What the CRD refuses at admission, again: render mode and a manifest never stored see no API server.
    errors = site_name_errors(spec.get('siteName'))
    if spec.get('domain'):
        errors.extend(dns_name_errors('spec.domain', spec['domain']))
    errors.extend(reference_errors(site))
    # The Go operator's fields this collection does not do, each with what to do instead.
    errors.extend(site_refusals(spec))
    for path, ref in (('spec.adminPasswordSecretRef', spec.get('adminPasswordSecretRef')),
                      ('spec.dbConfig.connectionSecretRef', db.get('connectionSecretRef'))):
        other = _mapping(ref).get('namespace')
        if other and other != namespace:
            errors.append('%s.namespace is %s: a pod reads Secrets of its own namespace only; copy the Secret into %s '
                          'and drop the field' % (path, other, namespace))
    try:
        pod_config({'podConfig': spec.get('podConfig')}, (SITES_NODE_LABEL,))
    except InvalidInput as exc:
        errors.append(str(exc))
    bench_ns = _mapping(spec.get('benchRef')).get('namespace')
    if bench_ns and bench_ns != namespace:
        errors.append('spec.benchRef.namespace is %s, but a site must live in the namespace of its bench (%s is '
                      'not): the site Job mounts the bench\'s sites volume, and a claim is only usable in its own '
                      'namespace. Create the FrappeSite in namespace %s.' % (bench_ns, namespace, bench_ns))
    provider = _or(db.get('provider'), 'mariadb')
    if provider == 'postgres':
        errors.append('spec.dbConfig.provider: postgres is not provisioned by this collection yet (Frappe supports '
                      'it, but its sites here are created on MariaDB). Use provider: mariadb.')
    elif provider == 'sqlite':
        errors.append('spec.dbConfig.provider: sqlite is only supported by Frappe from version 16 for development '
                      'sites, and not by this collection. Use provider: mariadb.')
    mode = _or(db.get('mode'), 'shared')
    if db.get('image') and not re.match(IMAGE_REFERENCE_PATTERN, str(db['image'])):
        errors.append('spec.dbConfig.image %r is not an image reference a kubelet accepts: for example '
                      'docker.io/library/mariadb:11.4' % (db['image'],))
    if provider == 'external':
        errors.extend(_external_errors(spec, db, mode))
    elif db.get('connectionSecretRef') and mode == 'dedicated':
        errors.append('spec.dbConfig: connectionSecretRef names an external server, which contradicts mode: '
                      'dedicated (a server of its own). Remove one of them.')
    if provider != 'external' and db.get('connectionSecretRef') and db.get('mariadbRef'):
        errors.append('spec.dbConfig: set either mariadbRef (a server of the MariaDB Operator) or '
                      'connectionSecretRef (an external server), not both.')
    longest = len(site_job_name(site['metadata']['name'], 'x' * JOB_HASH_LENGTH))
    if longest > 63:
        errors.append('metadata.name %s is too long: the site Job is named <name>-new-site-<hash>, and a Job name has '
                      'at most 63 characters. Use a name of at most 43 characters (siteName may stay as it is).'
                      % site['metadata']['name'])
    policy = _or(spec.get('deletionPolicy'), 'Retain')
    if policy not in ('Retain', 'Delete'):
        errors.append('spec.deletionPolicy must be Retain or Delete, got %r.' % policy)
    return errors


def _external_errors(spec, db, mode):
    """What contradicts provider: external, a database its owner made and gives the site a login to."""
    errors = []
    if not db.get('connectionSecretRef'):
        errors.append('spec.dbConfig.provider: external needs spec.dbConfig.connectionSecretRef: a Secret with the '
                      'keys username and password of the site\'s login, database (default: the siteName), and host '
                      'and port unless spec.dbConfig.host and port give them.')
    if db.get('mariadbRef'):
        errors.append('spec.dbConfig: provider: external is a database outside the MariaDB Operator, so mariadbRef '
                      'contradicts it. Remove one of them.')
    if mode == 'dedicated':
        errors.append('spec.dbConfig: provider: external is a database its owner made, which contradicts mode: '
                      'dedicated (a server this collection runs for the site). Remove mode.')
    if db.get('port') not in (None, '') and not _tcp_port(str(db['port'])):
        errors.append('spec.dbConfig.port %r is no TCP port (1 to 65535).' % (db['port'],))
    if _or(spec.get('deletionPolicy'), 'Retain') == 'Delete':
        errors.append('spec.deletionPolicy Delete cannot drop a database of provider: external: the site has only '
                      'its own login to it, and its owner made it. Use deletionPolicy: Retain and drop the database '
                      'yourself when the site is gone.')
    return errors


def _tcp_port(text):
    return bool(re.match(r'^[0-9]{1,5}$', text)) and 0 < int(text) < 65536


def _secret_text(secret, key):
    """The value of `key` in a Secret read from the API (base64 data), or None when absent or not text."""
    value = _mapping(_mapping(secret).get('data')).get(key)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True).decode('utf-8').strip()
    except (binascii.Error, TypeError, ValueError):
        return None


def _site_login_server(plan, site, live, server):
    """provider: external: the database, its host and the site's login, from the Secret and spec.dbConfig.

    The Secret's non-empty values win over spec.dbConfig's, as in the Go operator. Until the Secret is read the
    database is the one the status recorded, else the siteName (the Go operator's default)."""
    spec, namespace = site['spec'], plan['namespace']
    db = _mapping(spec.get('dbConfig'))
    secret_name = db['connectionSecretRef']['name']
    secret = _first(live, 'connection_secret')
    data = _mapping(_mapping(secret).get('data'))
    values = dict((key, _secret_text(secret, key)) for key in SITE_LOGIN_VALUES)
    # A key that is there but gives no text (not base64 of UTF-8, or empty) is not taken as absent.
    unreadable = [key for key in SITE_LOGIN_VALUES if key in data and not values[key]]
    recorded = _mapping(site.get('status')).get('databaseName')
    host = values['host'] or str(db.get('host') or '')
    port = values['port'] or str(db.get('port') or DB_PORT)
    # Not read (no Secret) or not readable: the recorded one, which the site keeps; absent: the siteName.
    unknown = secret is None or 'database' in unreadable
    database = values['database'] or (recorded if unknown and recorded else spec['siteName'])
    # Where the name came from, for the messages: the Secret's key database, the status, or the default.
    source = 'secret' if values['database'] else ('recorded' if unknown and recorded else 'siteName')
    server.update(via='site-login', host=host, secret=secret_name, database=database, database_source=source,
                  username=values['username'])
    server['port'] = int(port) if _tcp_port(port) else DB_PORT
    keys = 'username and password of the site\'s login, database (default: the siteName), host and port (unless ' \
        'spec.dbConfig.host and port give them)'
    missing = [k for k in SITE_LOGIN_KEYS if k not in data]
    problem = None
    if secret is None:
        server['pending'] = ('ConnectionSecretNotFound', 'The Secret %s named by spec.dbConfig.connectionSecretRef '
                             'does not exist in namespace %s. Create it with the keys %s%s.' % (
                                 secret_name, namespace, keys,
                                 '; its database is %s, where the site was made (status.databaseName)' % recorded
                                 if recorded else ''))
        return server
    if missing:
        problem = 'lacks the key(s) %s; it needs %s' % (', '.join(missing), keys)
    elif unreadable:
        problem = 'holds no text under the key(s) %s' % ', '.join(unreadable)
    elif (values['type'] or 'mariadb').lower() not in ('mariadb', 'mysql'):
        problem = ('gives the type %r: sites here are made on MariaDB (type mariadb or mysql, or no key type); '
                   'PostgreSQL is not provisioned by this collection yet' % values['type'])
    elif not host:
        problem = 'has no key host, and spec.dbConfig.host is empty: give the database server\'s address in one of them'
    elif not _tcp_port(port):
        problem = 'gives the port %r, which is no TCP port (1 to 65535)' % port
    elif not SQL_NAME.match(database):
        problem = ('names the database %r%s, which is not a plain identifier (letters, digits, _, $, -; at most 64): '
                   'set its key database' % (database, ' (the siteName, as no key database is given)'
                                             if source == 'siteName' else ''))
    elif values['username'] != database:
        # Frappe v15's frappe.connect (frappe/__init__.py) logs in as a user
        # named like the database (user=db_name); site_config's db_user is v16's.
        problem = ('gives the username %r for the database %r: Frappe version 15 logs in to a site\'s database as a '
                   'user named like the database (frappe/__init__.py connect). Make the user %s on the server with '
                   'ALL on that database, and name it in the Secret' % (values['username'], database, database))
    if problem:
        server['pending'] = ('ConnectionSecretInvalid', 'The Secret %s %s.' % (secret_name, problem))
    return server


def _server(plan, site, live, settings):
    """Where the database lives and who provisions it: the MariaDB Operator, or the site Job itself."""
    spec, namespace = site['spec'], plan['namespace']
    db = db_config(spec)
    n = plan['names']
    server = {'via': 'operator', 'dedicated': False, 'host': '', 'port': DB_PORT, 'ref': None,
              'admin': None, 'pending': None}
    if db.get('provider') == 'external':
        return _site_login_server(plan, site, live, server)
    if db.get('connectionSecretRef'):
        secret_name = db['connectionSecretRef']['name']
        secret = _first(live, 'connection_secret')
        server.update(via='connection-secret', admin={'secret': secret_name, 'username_key': 'username',
                                                      'password_key': 'password'})
        missing = [k for k in CONNECTION_KEYS if k not in _mapping(_mapping(secret).get('data'))]
        if secret is None:
            server['pending'] = ('ConnectionSecretNotFound', 'The Secret %s named by spec.dbConfig.connectionSecretRef '
                                 'does not exist in namespace %s. Create it with the keys host, port (optional, '
                                 'default 3306), username and password of an administrative login.'
                                 % (secret_name, namespace))
        elif missing:
            server['pending'] = ('ConnectionSecretInvalid', 'The Secret %s lacks the key(s) %s; it needs host, port '
                                 '(optional), username and password.' % (secret_name, ', '.join(missing)))
        return server
    if plan['mariadb_operator_unserved']:
        server['pending'] = (
            'MariaDBOperatorMissing',
            'The MariaDB Operator is not installed (the cluster does not serve %s). Either install it '
            '(https://github.com/mariadb-operator/mariadb-operator) and point spec.dbConfig.mariadbRef at a MariaDB '
            'or ExternalMariaDB, or give spec.dbConfig.connectionSecretRef: a Secret with host, port, username and '
            'password of a MariaDB server, on which the site Job creates the database itself.' % MARIADB_API)
        return server
    ref_spec = _mapping(db.get('mariadbRef'))
    if _or(db.get('mode'), 'shared') == 'dedicated':
        ref = {'name': n['mariadb'], 'namespace': namespace, 'kind': 'MariaDB'}
        server.update(dedicated=True, storage_size=str(_or(db.get('storageSize'), settings['default_storage_size'])),
                      resources=_mapping(db.get('resources')), image=str(db.get('image') or ''))
        obj = _first(live, 'dedicated_mariadb')
    else:
        ref = {'name': ref_spec['name'], 'namespace': _or(ref_spec.get('namespace'), namespace),
               'kind': _or(ref_spec.get('kind'), 'MariaDB')}
        obj = _first(live, 'server')
    server['ref'] = ref
    if ref['kind'] not in SERVER_KINDS:
        plan['errors'].append('spec.dbConfig.mariadbRef.kind must be MariaDB or ExternalMariaDB, got %r.' % ref['kind'])
        return server
    ospec = _mapping(_mapping(obj).get('spec'))
    if ref['kind'] == 'ExternalMariaDB':
        server['host'] = ospec.get('host', '')
        server['port'] = int(ospec.get('port') or DB_PORT)
        password_ref = _mapping(ospec.get('passwordSecretKeyRef'))
        if ref['namespace'] == namespace and password_ref.get('name'):
            server['admin'] = {'secret': password_ref['name'], 'password_key': password_ref.get('key', 'password'),
                               'username': ospec.get('username') or 'root'}
    else:
        server['host'] = '%s.%s.svc.%s' % (ref['name'], ref['namespace'], settings['cluster_domain'])
        server['port'] = int(ospec.get('port') or DB_PORT)
    if obj is None and not server['dedicated'] and ref_spec.get('implied'):
        server['pending'] = ('DatabaseServerNotFound', 'The MariaDB %s/%s does not exist: a shared site that names no '
                             'server in spec.dbConfig.mariadbRef uses the MariaDB %s of its namespace, as the Go '
                             'operator does. Create it (%s), or set spec.dbConfig.mariadbRef, connectionSecretRef or '
                             'mode: dedicated. Nothing of the site is written until then.'
                             % (namespace, DEFAULT_SHARED_MARIADB, DEFAULT_SHARED_MARIADB, MARIADB_API))
    elif obj is None and not server['dedicated']:
        server['pending'] = ('DatabaseServerNotFound', 'The %s %s/%s named by spec.dbConfig.mariadbRef does not exist: '
                             'create it (k8s.mariadb.com/v1alpha1), or point spec.dbConfig.mariadbRef (name, kind, '
                             'namespace) at one that does. Nothing of the site is written until it exists.'
                             % (ref['kind'], ref['namespace'], ref['name']))
    elif not _ready(obj) and obj is not None:
        c = _condition(obj) or {}
        server['pending'] = ('DatabaseServerNotReady', 'The %s %s/%s is not Ready yet%s.' % (
            ref['kind'], ref['namespace'], ref['name'],
            (': %s' % c.get('message')) if c.get('message') else ''))
    elif obj is None:
        server['pending'] = ('DatabaseServerNotReady', 'The dedicated MariaDB %s is being created.' % n['mariadb'])
    return server


def consents(obj, namespace):
    """Whether the server object `obj` lets FrappeSites of `namespace` use it (CONSENT_ANNOTATION)."""
    annotations = _mapping(_mapping(_mapping(obj).get('metadata')).get('annotations'))
    allowed = [n.strip() for n in str(annotations.get(CONSENT_ANNOTATION) or '').split(',')]
    return '*' in allowed or namespace in allowed


def _refers_to(obj, ref):
    """Whether a Database, User or Grant of the MariaDB Operator is on the server `ref`."""
    obj = _mapping(obj)
    mref = _mapping(_mapping(obj.get('spec')).get('mariaDbRef'))
    return bool(mref) and mref.get('name') == ref['name'] and _or(mref.get('kind'), 'MariaDB') == ref['kind'] and \
        _or(mref.get('namespace'), _mapping(obj.get('metadata')).get('namespace')) == ref['namespace']


def _consent(plan, server, live):
    """The consent a server in another namespace gives the site, or None for a server of its own namespace.

    `existing`: the site's Database, User or Grant is already on that server
    (made before the rule, or while consent was given); such a site keeps being
    reconciled, with a warning, and nothing is dropped there without consent.
    """
    ref, namespace = server['ref'], plan['namespace']
    if server['via'] != 'operator' or not ref or server['dedicated'] or ref['namespace'] == namespace:
        return None
    obj = _first(live, 'server')
    given = obj is not None and consents(obj, namespace)
    existing = any(_refers_to(o, ref) for key in ('database', 'user', 'grant') for o in live.get(key) or [])
    where = '%s %s/%s' % (ref['kind'], ref['namespace'], ref['name'])
    fix = ('the owner of namespace %s adds the annotation %s (a comma-separated list of namespaces, or *) naming %s '
           'to %s: kubectl annotate %s %s -n %s %s=%s (add %s to a list already there)'
           % (ref['namespace'], CONSENT_ANNOTATION, namespace, where, ref['kind'].lower(), ref['name'],
              ref['namespace'], CONSENT_ANNOTATION, namespace, namespace))
    if given:
        message = '%s in namespace %s lets FrappeSites of namespace %s use it (annotation %s).' % (
            where, ref['namespace'], namespace, CONSENT_ANNOTATION)
    elif obj is None:
        message = ('spec.dbConfig.mariadbRef names %s, in another namespace, which does not exist; once it does, %s.'
                   % (where, fix))
    else:
        message = ('spec.dbConfig.mariadbRef names %s, in another namespace, which does not let FrappeSites of '
                   'namespace %s use it: %s. Or use a server in namespace %s.' % (where, namespace, fix, namespace))
    return {'given': given, 'existing': existing, 'server': where, 'annotation': CONSENT_ANNOTATION,
            'fix': fix, 'message': message}


def _live_spec(live, key):
    """The spec of the live object read under `key`, else {}."""
    return _mapping(_mapping(_first(live, key)).get('spec'))


def _database(plan, site, live, settings, server):
    """Database, User, Grant (MariaDB Operator) and whether they are Ready."""
    n, policy = plan['names'], plan['deletion_policy']
    db_name = plan['database_name']
    # Under Retain the operator must never drop anything when an object goes;
    # under Delete it drops what it can (a MariaDB), the drop Job the rest.
    # Never across namespaces without the consent of the server's namespace.
    consent = plan.get('consent')
    cleanup = 'Delete' if policy == 'Delete' and server['ref'] and server['ref']['kind'] == 'MariaDB' and \
        (consent is None or consent['given']) else 'Skip'
    # The User already there keeps its name and password Secret, whoever made
    # it: a new password would no longer match the site_config.json of its site.
    live_user = _live_spec(live, 'user')
    password_ref = _mapping(live_user.get('passwordSecretKeyRef'))
    database = {'name': db_name, 'user': live_user.get('name') or db_name, 'cleanup_policy': cleanup,
                'password_secret': {'name': password_ref.get('name') or n['db_secret'],
                                    'key': password_ref.get('key') or 'password'},
                'max_user_connections': int(settings['max_user_connections']),
                'character_set': 'utf8mb4', 'collate': 'utf8mb4_unicode_ci'}
    if server['via'] == 'site-login':
        database.update(user=server['username'] or db_name,
                        password_secret={'name': server['secret'], 'key': 'password'},
                        ready=server['pending'] is None)
        database.update(zip(('reason', 'message'), server['pending'] or (
            'ExternalDatabase', 'Database %s on %s:%s is its owner\'s; the site Job installs the site into it, '
            'logging in as %s (Secret %s).' % (db_name, server['host'], server['port'], database['user'],
                                               server['secret']))))
        return database
    if server['via'] != 'operator' or server['ref'] is None:
        ready = server['pending'] is None
        reason, message = server['pending'] or (
            'ExternalServer', 'The site Job creates database %s and its user on the server of Secret %s.'
            % (db_name, server['admin']['secret'] if server['admin'] else ''))
        database.update(ready=ready and server['via'] == 'connection-secret', reason=reason, message=message)
        return database
    objs = [('Database', _first(live, 'database')), ('User', _first(live, 'user')), ('Grant', _first(live, 'grant'))]
    waiting = []
    for kind, obj in objs:
        if not _ready(obj):
            c = _condition(obj) or {}
            waiting.append('%s %s%s' % (kind, n[kind.lower() if kind != 'Database' else 'database'],
                                        (' (%s)' % c.get('message')) if c.get('message') else ''))
    if server['pending']:
        database.update(ready=False, reason=server['pending'][0], message=server['pending'][1])
    elif waiting:
        database.update(ready=False, reason='Provisioning',
                        message='Waiting for the MariaDB Operator to make ready: %s.' % '; '.join(waiting))
    else:
        database.update(ready=True, reason='Ready', message='Database %s, its user and grant are ready on %s %s/%s.'
                        % (db_name, server['ref']['kind'], server['ref']['namespace'], server['ref']['name']))
    return database


def _bench(plan, site, live, uid):
    """What the site takes from its bench's status (published by the bench role) and spec (apps)."""
    bench = _first(live, 'bench')
    if bench is None:
        return {'found': False, 'name': _mapping(site['spec'].get('benchRef')).get('name', ''), 'ready': False,
                'ready_message': '', 'configured': False, 'image': '', 'sites_claim': '',
                'sites_access_mode': 'ReadWriteMany', 'frontend': {}, 'routes': {}, 'realtime_hosts': [], 'upgrade': {},
                'pull_policy': 'IfNotPresent', 'pull_secrets': [], 'apps': [], 'object': None,
                'job_resources': dict((kind, job_resources({}, kind)) for kind in KINDS),
                'pods': site_job_pods(None, uid, site)}
    status = _mapping(bench.get('status'))
    config = _condition(bench, 'ConfigReady') or {}
    image_config = _mapping(bench.get('spec', {}).get('imageConfig'))
    return {
        'found': True,
        'name': bench['metadata']['name'],
        'ready': _ready(bench),
        'ready_message': (_condition(bench) or {}).get('message', ''),
        'configured': config.get('status') == 'True' and bool(status.get('image')) and bool(status.get('sitesClaim')),
        'image': status.get('image', ''),
        'sites_claim': status.get('sitesClaim', ''),
        'sites_access_mode': status.get('sitesAccessMode') or 'ReadWriteMany',
        'frontend': _mapping(status.get('frontend')),
        'routes': _mapping(status.get('routes')),
        'realtime_hosts': status.get('realtimeHosts') or [],
        # The bench's upgrade record, whose migrate of this site the site's status.schema records (upgrade.py).
        'upgrade': _mapping(status.get('upgrade')),
        'pull_policy': _or(image_config.get('pullPolicy'), 'IfNotPresent'),
        'pull_secrets': _or(image_config.get('pullSecrets'), []),
        # frappe is installed by bench new-site itself.
        # (spec.appsJSON, the Go operator's older spelling, read as apps: go_operator_fields.py)
        'apps': [a['name'] for a in current_spelling(bench.get('spec') or {})[0].get('apps') or []
                 if isinstance(a, dict) and a.get('name') and a['name'] != 'frappe'],
        # The site and drop Jobs are sized like every Job of the bench (spec.jobResources).
        'job_resources': dict((kind, job_resources(bench.get('spec'), kind)) for kind in KINDS),
        # Where its Jobs run: the bench's spec.podConfig and the sites volume's node (pod_placement.py).
        'pods': site_job_pods(bench, uid, site),
        'object': bench,
    }


def _tls(spec):
    """The site's TLS settings: spec.ingress.tls when given, else spec.tls."""
    return _mapping(_mapping(spec.get('ingress')).get('tls')) or _mapping(spec.get('tls'))


def _ingress(plan, site):
    spec = site['spec']
    ingress = _mapping(spec.get('ingress'))
    if not ingress.get('enabled'):
        return None
    tls = _tls(spec)
    annotations = dict(_mapping(ingress.get('annotations')))
    if tls.get('enabled') and tls.get('issuer'):
        annotations.setdefault('cert-manager.io/cluster-issuer', tls['issuer'])
    return {
        'class_name': _or(ingress.get('className'), _or(spec.get('ingressClassName'), '')),
        'annotations': annotations,
        'tls': bool(tls.get('enabled')),
        'tls_secret': _or(tls.get('secretName'), plan['names']['tls_secret']),
        'issuer': tls.get('issuer', ''),
    }


def _job(plan, settings, new_site_script):
    """The site Job: named by the hash of its inputs, so a change runs it again and nothing else does."""
    bench, database, server = plan['bench'], plan['database'], plan['server']
    inputs = {
        'site': plan['site_name'], 'db_name': database['name'], 'db_host': server['host'], 'db_port': server['port'],
        'via': server['via'], 'apps': plan['apps'], 'image': bench['image'], 'host_name': plan['host_name'],
        'admin_secret': plan['admin_password'], 'db_secret': plan['database']['password_secret'],
        'script': new_site_script,
        'claim': bench['sites_claim'],
        # A Job's pod template cannot change: new resources are a new Job.
        'resources': bench['job_resources']['siteInit'],
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]
    return {'name': site_job_name(plan['name'], digest), 'hash': digest, 'script': new_site_script,
            'resources': bench['job_resources']['siteInit']}


def _job_state(live, name):
    for job in live.get('jobs') or []:
        if job['metadata']['name'] == name:
            return readiness.job_finished(job) or 'Running'
    return 'Missing'


PRUNABLE = (
    ('jobs', 'batch/v1', 'Job'),
    ('ingresses', 'networking.k8s.io/v1', 'Ingress'),
)


def site_plan(site, live=None, settings=None, mode='apply', new_site_script='', drop_site_script=''):
    """The whole reconcile plan of one site; see site_plan.yml."""
    check_plan_input('site_plan', 'FrappeSite', site, mode, settings, 'frappe_site_settings')
    live = live or {}
    apply = mode == 'apply'
    meta, spec = site['metadata'], site['spec']
    name, namespace = meta['name'], meta['namespace']
    status = _mapping(site.get('status'))
    plan = {'name': name, 'namespace': namespace, 'names': site_names(name), 'errors': [], 'warnings': [],
            'site_name': spec.get('siteName', ''), 'deleting': bool(meta.get('deletionTimestamp')),
            'deletion_policy': _or(spec.get('deletionPolicy'), 'Retain'), 'render': [], 'delete': [],
            # Asked of the API server in the read (k8s_multi_info api_groups, roles/frappe_site/vars/main.yml).
            'mariadb_operator_unserved': apply and not (live.get('api_groups') or {}).get(MARIADB_API),
            'cert_manager_unserved': apply and not (live.get('api_groups') or {}).get(CERT_MANAGER_API)}
    if not _mapping(spec.get('benchRef')).get('name') or not spec.get('siteName'):
        plan['errors'].append('FrappeSite %s/%s needs spec.benchRef.name and spec.siteName.' % (namespace, name))
        return plan
    errors = _spec_errors(site, namespace)
    if errors:
        plan['errors'].append('FrappeSite %s/%s cannot be reconciled: %s Nothing was changed.'
                              % (namespace, name, ' '.join(errors)))
        return plan
    if apply and not meta.get('uid'):
        plan['errors'].append('In apply mode the role needs the live FrappeSite (metadata.uid is missing); apply the '
                              'manifest first or use playbooks/site.yml, which does.')
        return plan
    # Never changed once chosen: the recorded name, else that of the Database
    # already there (a site of the Go frappe-operator, or one retained and
    # created again), else a new one.
    plan['database_name'] = status.get('databaseName') or _live_spec(live, 'database').get('name') or \
        database_name(namespace, name)
    plan['labels'] = {
        'app.kubernetes.io/name': 'frappe',
        'app.kubernetes.io/instance': spec['benchRef']['name'],
        'app.kubernetes.io/part-of': 'frappe',
        'app.kubernetes.io/managed-by': settings['managed_by'],
        'app.kubernetes.io/component': 'site',
        'vyogo.tech/bench': spec['benchRef']['name'],
        'vyogo.tech/site': name,
    }
    plan['owner_references'] = [] if not apply else [{
        'apiVersion': settings['api_version'], 'kind': settings['kind'], 'name': name, 'uid': meta.get('uid'),
        'controller': True, 'blockOwnerDeletion': True}]
    bench = _bench(plan, site, live, settings['run_as_user'])
    plan['bench'] = bench
    # What bench new-site installs: spec.apps (the Go operator's field), else every app of the bench.
    wanted = [a for a in spec.get('apps') or [] if a != 'frappe']
    missing = [a for a in wanted if a not in bench['apps']]
    # A bench that lists no apps says nothing of what its image carries: bench new-site tells.
    if missing and bench['found'] and bench['apps']:
        plan['errors'].append('FrappeSite %s/%s cannot be reconciled: spec.apps names %s, which FrappeBench %s does not '
                              'carry (its apps: %s). Build the bench\'s image with them and list them in its spec.apps, '
                              'or take them out of the site\'s. Nothing was changed.'
                              % (namespace, name, ', '.join(missing), bench['name'], ', '.join(bench['apps']) or 'none'))
        return plan
    plan['apps'] = wanted or bench['apps']
    # The bench refuses such a spec too; its Jobs here would never start either.
    job_errors = [e for e in bench_spec_errors(bench['object']) if e.startswith('spec.jobResources')] \
        if bench['object'] else []
    if job_errors:
        plan['errors'].append('FrappeSite %s/%s cannot be reconciled: FrappeBench %s sizes its Jobs wrongly: %s. Fix '
                              'the bench. Nothing was changed.' % (namespace, name, bench['name'], '; '.join(job_errors)))
        return plan
    domain, source = resolve_domain(site, bench.get('object') or {})
    # Said only where the bench asks for detection (the CRD defaults autoDetect
    # to true); the status records the source either way.
    if source == 'sitename-default' and _mapping(_mapping((bench.get('object') or {}).get('spec')).get(
            'domainConfig')).get('autoDetect'):
        detection = _mapping(_mapping(bench['object'].get('status')).get('domainDetection'))
        plan['warnings'].append('FrappeSite %s/%s is served on its siteName %s: it sets no spec.domain, its bench no '
                                'domainConfig.suffix, and no domain was detected (%s).' % (
                                    namespace, name, spec['siteName'],
                                    detection.get('source') or 'the bench has not recorded a detection yet'))
    if source == 'bench-suffix':
        made = dns_name_errors('the domain made from spec.siteName and the bench\'s domainConfig.suffix', domain)
        if made:
            plan['errors'].append('FrappeSite %s/%s cannot be reconciled: %s Set spec.domain, or a shorter siteName or '
                                  'suffix of FrappeBench %s. Nothing was changed.'
                                  % (namespace, name, ' '.join(made), bench['name']))
            return plan
    plan['domain'] = {'resolved': domain, 'source': source}
    conflicts = _domain_conflicts(site, bench.get('object') or {}, domain, live)
    if conflicts:
        plan['errors'].append('FrappeSite %s/%s cannot be reconciled: its siteName %s or its domain %s is already taken '
                              'by FrappeSite %s of the same bench (one site directory per siteName, one site per '
                              'domain). Give it another spec.siteName or spec.domain. Nothing was changed.'
                              % (namespace, name, spec['siteName'], domain, ', '.join(conflicts)))
        return plan
    plan['ingress'] = _ingress(plan, site)
    # Served with TLS by the site's Ingress, or (without one) by whatever the
    # owner put in front of the bench, as spec.tls.enabled says.
    scheme = 'https' if _tls(spec).get('enabled') else 'http'
    plan['site_url'] = '%s://%s' % (scheme, domain)
    # Frappe's get_url (frappe/utils/data.py) builds the links made outside a
    # request (mails, PDFs, OAuth redirects, webhooks) from site_config's
    # host_name, else http://<site name>: a site served with TLS or on another
    # domain needs it; one on its own name over http does not, and a host_name
    # left from an earlier domain or TLS setting is removed (new-site.sh).
    plan['host_name'] = plan['site_url'] if scheme == 'https' or domain != spec['siteName'] else ''
    # Frappe picks the site by X-Frappe-Site-Name, which the bench's nginx sets
    # from the Host: another domain needs its entry in the bench's map.
    plan['route_ready'] = domain == spec['siteName'] or bench['routes'].get(domain) == spec['siteName']
    plan['route_request'] = '%s=%s' % (spec['siteName'], domain)
    # socket.io calls back <Origin> on the site's host: the bench's socket.io pods
    # must resolve it (their hostAliases); else the site asks the bench too.
    plan['realtime_ready'] = domain in bench['realtime_hosts'] and spec['siteName'] in bench['realtime_hosts']
    admin_ref = _mapping(spec.get('adminPasswordSecretRef'))
    plan['admin_password'] = {'name': admin_ref.get('name') or plan['names']['admin_secret'],
                              'key': admin_ref.get('key') or 'password', 'generate': not admin_ref}
    server = _server(plan, site, live, settings)
    plan['server'] = server
    if server['via'] == 'site-login' and _first(live, 'connection_secret') is not None:
        recorded = status.get('databaseName')
        if recorded and recorded != server['database']:
            plan['errors'].append(
                'FrappeSite %s/%s: the Secret %s now names the database %s%s, but the site was made on %s '
                '(status.databaseName), and a site never moves between databases. Put database: %s back into the '
                'Secret; to move the site, back it up (SiteBackup) and restore it into a new FrappeSite. Nothing was '
                'changed.' % (namespace, name, server['secret'], server['database'],
                              ' (the siteName, as it has no key database)'
                              if server['database_source'] == 'siteName' else '', recorded, recorded))
            return plan
        plan['database_name'] = server['database']
    elif server['via'] == 'site-login':
        # Without the Secret (missing, or render mode): the recorded database, else the siteName.
        plan['database_name'] = server['database']
    if server['via'] == 'site-login' and not apply:
        plan['warnings'].append('FrappeSite %s/%s: the database name and address of provider: external come from '
                                'Secret %s, which rendering does not read; the rendered site Job assumes database %s '
                                'at %r. Reconcile with playbooks/site.yml instead.'
                                % (namespace, name, server['secret'], server['database'], server['host']))
    if plan['errors']:
        return plan
    if apply and plan['deletion_policy'] == 'Delete' and server['via'] == 'operator' and server['ref'] and \
            server['ref']['kind'] == 'ExternalMariaDB' and server['admin'] is None and server['pending'] is None:
        plan['errors'].append(
            'FrappeSite %s/%s: deletionPolicy Delete needs to drop the database on ExternalMariaDB %s/%s itself (the '
            'MariaDB Operator does not clean up on an ExternalMariaDB), with the login of that ExternalMariaDB, whose '
            'password Secret a Job can only read in the site\'s own namespace. Put the ExternalMariaDB in namespace '
            '%s, or use deletionPolicy: Retain and drop the database by hand. Nothing was changed.'
            % (namespace, name, server['ref']['namespace'], server['ref']['name'], namespace))
        return plan
    # A database on a server of another namespace needs that namespace's
    # consent (CONSENT_ANNOTATION on the server object). Render mode sees no
    # server and writes nothing: checked against the live cluster only.
    plan['consent'] = _consent(plan, server, live) if apply else None
    consent = plan['consent']
    if consent and not consent['given']:
        if not consent['existing'] and not plan['deleting']:
            plan['errors'].append('FrappeSite %s/%s cannot be reconciled: %s Nothing was changed.'
                                  % (namespace, name, consent['message']))
            return plan
        if plan['deleting'] and plan['deletion_policy'] == 'Delete' and consent['existing']:
            plan['errors'].append(
                'FrappeSite %s/%s has deletionPolicy Delete, but its database is on %s, whose namespace does not '
                'let FrappeSites of namespace %s use it: nothing is dropped there without consent, and the site '
                'keeps its finalizer. Either %s, or keep the database: kubectl patch frappesite %s -n %s --type '
                'merge -p \'{"spec":{"deletionPolicy":"Retain"}}\'.'
                % (namespace, name, consent['server'], namespace, consent['fix'], name, namespace))
            return plan
        if consent['existing']:
            plan['warnings'].append('FrappeSite %s/%s: its database is already on %s, so it keeps being reconciled, '
                                    'but nothing is dropped there: %s' % (namespace, name, consent['server'],
                                                                          consent['message']))
    plan['database'] = _database(plan, site, live, settings, server)
    # Adopted names reach SQL (the drop Job) and bench's arguments: only plain
    # identifiers. The Secret of provider: external was checked in its reading.
    for what in ('name', 'user'):
        if server['via'] != 'site-login' and not SQL_NAME.match(plan['database'][what]):
            plan['errors'].append(
                'FrappeSite %s/%s: the database %s %r (taken from the existing %s %s) is not a plain identifier '
                '(letters, digits, _, $, -; at most 64). Rename it, or delete that object to get a new database. '
                'Nothing was changed.' % (namespace, name, what, plan['database'][what],
                                          'Database' if what == 'name' else 'User',
                                          plan['names']['database' if what == 'name' else 'user']))
    if plan['errors']:
        return plan
    plan['job'] = _job(plan, settings, new_site_script)
    plan['job']['state'] = _job_state(live, plan['job']['name'])
    # What a completed site Job reported (status.schema) is read once, from its pod: site_status.
    plan['job']['outcome_read'] = _mapping(status.get('schema')).get('job') == plan['job']['name']
    # Named after this FrappeSite's uid: a site deleted, created again and deleted
    # within the finished Job's TTL must not find the earlier Job done.
    uid = meta.get('uid') or ''
    plan['drop_job'] = {'name': drop_job_name(name, uid),
                        'script': drop_site_script, 'resources': bench['job_resources']['maintenance']}
    n = plan['names']
    live_kinds = [kind for kind, key in (('MariaDB', 'dedicated_mariadb'), ('Database', 'database'),
                                         ('User', 'user'), ('Grant', 'grant')) if _first(live, key) is not None]
    plan['live_database_kinds'] = live_kinds
    plan['live_database_objects'] = any(k in live_kinds for k in ('Database', 'User', 'Grant'))
    plan['secrets'] = {
        'db': _first(live, 'db_secret') is not None or plan['database']['password_secret']['name'] != n['db_secret'],
        'admin': (_first(live, 'admin_secret') is not None) if plan['admin_password']['generate'] else True,
    }
    plan['secret_problem'] = _secret_problem(plan, live, admin_ref) if apply else None
    if plan['ingress'] and plan['ingress']['tls'] and plan['ingress']['issuer'] and plan['cert_manager_unserved']:
        plan['warnings'].append('FrappeSite %s/%s asks cert-manager for a certificate (tls.issuer %s), but the cluster '
                                'does not serve cert-manager.io: the Ingress refers to Secret %s, which nothing creates.'
                                ' Install cert-manager or create the Secret.'
                                % (namespace, name, plan['ingress']['issuer'], plan['ingress']['tls_secret']))
    if plan['ingress'] and apply and not bench['frontend'].get('service'):
        plan['ingress_waiting'] = True
    else:
        plan['ingress_waiting'] = False
    if not apply and server['ref'] and server['ref']['kind'] == 'ExternalMariaDB':
        plan['warnings'].append('FrappeSite %s/%s: the address of ExternalMariaDB %s comes from the live object; the '
                                'rendered site Job has an empty DB_HOST. Reconcile with playbooks/site.yml instead.'
                                % (namespace, name, server['ref']['name']))
    # Nothing is written for a database nobody can provision yet, nor while a
    # reference names something that does not exist: the status says what to create.
    plan['missing_references'] = _missing_references(plan, server) if apply else []
    plan['provision'] = apply and not (server['via'] == 'operator' and plan['mariadb_operator_unserved']) and \
        not plan['missing_references']
    plan['job_allowed'] = bool(apply and bench['configured'] and plan['database']['ready'] and not plan['secret_problem'])
    plan['render'] = _render_plan(plan, apply)
    # Decided from; the plan carries only what the templates and status use.
    bench.pop('object', None)
    wanted = set((s['kind'], s['name']) for s in plan['render'])
    if plan['ingress'] and plan['ingress_waiting']:
        # Not rendered while the bench's Service is unknown; the live one keeps serving.
        wanted.add(('Ingress', n['ingress']))
    plan['delete'] = controlled_unwanted(live, PRUNABLE, wanted, meta.get('uid')) if apply and not plan['deleting'] else []
    plan['owner_fixes'] = _outliving_owned(plan, live, meta.get('uid')) if apply else []
    return plan


def _outliving_owned(plan, live, uid):
    """Merge patches that take the site off what must outlive it, where a reference to it is found.

    The role never renders one there; the Ansible Operator SDK's proxy adds
    one to whatever a role creates, and a reconcile stopped between the create
    and the patch that takes it off leaves it (found here the next time).
    """
    keys = ['database', 'user', 'grant', 'dedicated_mariadb']
    if plan['database']['password_secret']['name'] == plan['names']['db_secret']:
        keys.append('db_secret')
    if plan['admin_password']['generate']:
        keys.append('admin_secret')
    fixes = [without_owner(obj, uid) for key in keys for obj in live.get(key) or []]
    return [fix for fix in fixes if fix]


# Reasons of a reference to something that does not exist (or, for the connection Secret, cannot be used).
MISSING_SERVER_REASONS = ('DatabaseServerNotFound', 'ConnectionSecretNotFound', 'ConnectionSecretInvalid')


def _missing_references(plan, server):
    """The fields whose object does not exist: nothing of the site is written until it does."""
    missing = []
    if not plan['bench']['found']:
        missing.append('spec.benchRef.name')
    if server['pending'] and server['pending'][0] in MISSING_SERVER_REASONS:
        missing.append('spec.dbConfig.connectionSecretRef.name' if server['via'] in ('connection-secret', 'site-login')
                       else 'spec.dbConfig.mariadbRef.name')
    if plan['secret_problem'] and plan['secret_problem'][0] == 'AdminSecretNotFound':
        missing.append('spec.adminPasswordSecretRef.name')
    return missing


def _secret_problem(plan, live, admin_ref):
    """(reason, message) when a password Secret the site Job needs is missing or lacks its key, else None."""
    namespace = plan['namespace']
    checks = [(_first(live, 'admin_secret'), plan['admin_password'], plan['admin_password']['generate'],
               'spec.adminPasswordSecretRef' if admin_ref else 'the generated Administrator password')]
    if plan['database']['password_secret']['name'] == plan['names']['db_secret']:
        checks.append((_first(live, 'db_secret'), plan['database']['password_secret'], True,
                       'the generated database password'))
    for secret, ref, generated, what in checks:
        if secret is None:
            if generated:
                continue  # created in this reconcile, before the Job
            return ('AdminSecretNotFound', 'The Secret %s named by %s does not exist in namespace %s; create it with '
                    'the key %s.' % (ref['name'], what, namespace, ref['key']))
        if ref['key'] not in _mapping(secret.get('data')):
            return ('PasswordSecretInvalid', 'The Secret %s (%s) has no key %s, which the site Job reads; add it. A '
                    'generated Secret is never replaced: if nothing uses it, delete it and the next reconcile makes '
                    'a new one.' % (ref['name'], what, ref['key']))
    return None


def _render_plan(plan, apply):
    steps = []
    n = plan['names']

    def add(stage, kind, name, template, **variables):
        variables['name'] = name
        steps.append({'stage': stage, 'kind': kind, 'name': name, 'template': template, 'vars': variables})

    server = plan['server']
    if server['via'] == 'operator' and server['ref'] and (not apply or not plan['mariadb_operator_unserved']):
        if server['dedicated']:
            add('database', 'MariaDB', n['mariadb'], 'database/mariadb.yaml.j2')
        add('database', 'Database', n['database'], 'database/database.yaml.j2')
        add('database', 'User', n['user'], 'database/user.yaml.j2')
        add('database', 'Grant', n['grant'], 'database/grant.yaml.j2')
    # Rendered always, applied once the plan allows it (job_allowed).
    add('site', 'Job', plan['job']['name'], 'site/job.yaml.j2')
    if plan['ingress'] and not plan['ingress_waiting']:
        add('ingress', 'Ingress', n['ingress'], 'ingress/ingress.yaml.j2')
    return steps


def site_reads(site):
    """What a reconcile of `site` reads, in one k8s_multi_info run: a key per read; see site_reads.yml."""
    meta, spec = site['metadata'], site['spec']
    name, namespace = meta['name'], meta['namespace']
    n = site_names(name)
    db = db_config(spec)
    selector = ['vyogo.tech/site=%s' % name]

    def one(key, api_version, kind, obj_name, obj_namespace=namespace):
        return {'key': key, 'api_version': api_version, 'kind': kind, 'namespace': obj_namespace, 'name': obj_name}

    reads = [
        one('bench', 'vyogo.tech/v1alpha1', 'FrappeBench', _mapping(spec.get('benchRef')).get('name', '')),
        # Every site of the namespace: two sites of a bench must not claim one domain.
        {'key': 'sites', 'api_version': 'vyogo.tech/v1alpha1', 'kind': 'FrappeSite', 'namespace': namespace},
        # Single objects by name: each read is one object, not a list to search.
        one('database', MARIADB_API, 'Database', n['database']),
        one('user', MARIADB_API, 'User', n['user']),
        one('grant', MARIADB_API, 'Grant', n['grant']),
        one('db_secret', 'v1', 'Secret', n['db_secret']),
        one('admin_secret', 'v1', 'Secret', _or(_mapping(spec.get('adminPasswordSecretRef')).get('name'),
                                                n['admin_secret'])),
        {'key': 'jobs', 'api_version': 'batch/v1', 'kind': 'Job', 'namespace': namespace, 'label_selectors': selector},
        {'key': 'ingresses', 'api_version': 'networking.k8s.io/v1', 'kind': 'Ingress', 'namespace': namespace,
         'label_selectors': selector},
    ]
    if db.get('connectionSecretRef'):
        reads.append(one('connection_secret', 'v1', 'Secret', db['connectionSecretRef'].get('name', '')))
        if db.get('provider') == 'external':
            # The plan records the database and checks the login's name; the password stays in the Secret.
            reads[-1]['secret_values'] = list(SITE_LOGIN_VALUES)
    elif _or(db.get('mode'), 'shared') == 'dedicated':
        reads.append(one('dedicated_mariadb', MARIADB_API, 'MariaDB', n['mariadb']))
    elif db.get('mariadbRef'):
        ref = db['mariadbRef']
        reads.append(one('server', MARIADB_API, _or(ref.get('kind'), 'MariaDB'), ref.get('name', ''),
                         _or(ref.get('namespace'), namespace)))
    return reads
