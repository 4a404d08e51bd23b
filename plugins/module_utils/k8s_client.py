# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared Kubernetes client code for the modules of this collection.

The modules here talk to the API server with the ``kubernetes`` Python
client directly (no dynamic client, no discovery cache), so this file holds:

* ``AUTH_ARG_SPEC``: the connection options, named and read from the
  environment like the kubernetes.core modules do;
* ``get_api_client(module)``: a ``kubernetes.client.ApiClient`` built from
  those options, a kubeconfig, or the pod's service account;
* ``api_request()``: one raw JSON request that works with both generations of
  the generated client (the legacy ``call_api(path, method, ...)`` one, and the
  ``param_serialize()``/``call_api(method, url, ...)`` one of recent releases
  such as 37.x) and turns transport and HTTP errors into ``K8sClientError`` with a message
  a playbook author can act on;
* discovery helpers: ``discover_group()``, ``discover_resources()``,
  ``find_resource()``, ``subresources_of()``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import traceback
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback, missing_required_lib

KUBERNETES_IMPORT_ERROR = None
try:
    import kubernetes
    import kubernetes.client
    import kubernetes.config
    import urllib3

    try:
        from kubernetes.client.exceptions import ApiException
    except ImportError:  # pragma: no cover - very old clients
        from kubernetes.client.rest import ApiException
    try:
        from kubernetes.config.config_exception import ConfigException
    except ImportError:  # pragma: no cover
        ConfigException = Exception
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


AUTH_ARG_SPEC = {
    'kubeconfig': {
        'type': 'raw',
        'fallback': (env_fallback, ['K8S_AUTH_KUBECONFIG']),
    },
    'context': {
        'type': 'str',
        'fallback': (env_fallback, ['K8S_AUTH_CONTEXT']),
    },
    'host': {
        'type': 'str',
        'fallback': (env_fallback, ['K8S_AUTH_HOST']),
    },
    'api_key': {
        'type': 'str',
        'no_log': True,
        'fallback': (env_fallback, ['K8S_AUTH_API_KEY']),
    },
    'username': {
        'type': 'str',
        'fallback': (env_fallback, ['K8S_AUTH_USERNAME']),
    },
    'password': {
        'type': 'str',
        'no_log': True,
        'fallback': (env_fallback, ['K8S_AUTH_PASSWORD']),
    },
    'validate_certs': {
        'type': 'bool',
        'aliases': ['verify_ssl'],
        'fallback': (env_fallback, ['K8S_AUTH_VERIFY_SSL', 'K8S_AUTH_VALIDATE_CERTS']),
    },
    'ca_cert': {
        'type': 'path',
        'aliases': ['ssl_ca_cert'],
        'fallback': (env_fallback, ['K8S_AUTH_SSL_CA_CERT', 'K8S_AUTH_CA_CERT']),
    },
    'client_cert': {
        'type': 'path',
        'aliases': ['cert_file'],
        'fallback': (env_fallback, ['K8S_AUTH_CERT_FILE', 'K8S_AUTH_CLIENT_CERT']),
    },
    'client_key': {
        'type': 'path',
        'aliases': ['key_file'],
        'no_log': False,
        'fallback': (env_fallback, ['K8S_AUTH_KEY_FILE', 'K8S_AUTH_CLIENT_KEY']),
    },
    'proxy': {
        'type': 'str',
        'fallback': (env_fallback, ['K8S_AUTH_PROXY']),
    },
    'impersonate_user': {
        'type': 'str',
        'fallback': (env_fallback, ['K8S_AUTH_IMPERSONATE_USER']),
    },
    'impersonate_groups': {
        'type': 'list',
        'elements': 'str',
        'fallback': (env_fallback, ['K8S_AUTH_IMPERSONATE_GROUPS']),
    },
}

# For AnsibleModule(required_together=...): basic auth needs both.
AUTH_REQUIRED_TOGETHER = [('username', 'password')]

# (connect, read) seconds: a black-holed address must not hang a reconcile.
DEFAULT_REQUEST_TIMEOUT = (20, 120)

CORE_GROUP_NAMES = ('', 'core', 'v1')

DEFAULT_KUBECONFIG = '~/.kube/config'


def auth_argument_spec():
    """A fresh copy of AUTH_ARG_SPEC, safe to merge into a module's spec."""
    return copy.deepcopy(AUTH_ARG_SPEC)


class K8sClientError(Exception):
    """An error with a message meant for the playbook author.

    ``status`` is the HTTP status when the API server answered, else None.
    """

    def __init__(self, msg, status=None, body=None):
        super(K8sClientError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.body = body

    def __str__(self):
        return self.msg


class K8sNotFoundError(K8sClientError):
    """The API server answered 404 Not Found."""


class _RepeatedHeader(str):
    """A header name that may occur several times in one request.

    ApiClient keeps default headers in a dict; Kubernetes reads one
    Impersonate-Group header per group, so each group needs its own key.
    Equality and hashing by identity make equal names distinct dict keys.
    """

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

def _kubeconfig_paths(value):
    return [os.path.expanduser(p) for p in value.split(os.pathsep) if p]


def _describe_kubeconfig(kubeconfig, context):
    if isinstance(kubeconfig, dict):
        where = 'the kubeconfig given as a dict'
    else:
        where = 'kubeconfig %s' % kubeconfig
    if context:
        where += ' (context %s)' % context
    return where


def _load_kubeconfig(configuration, kubeconfig, context):
    """Load a kubeconfig (dict, path, or KUBECONFIG / ~/.kube/config) into configuration."""
    try:
        if isinstance(kubeconfig, dict):
            kubernetes.config.load_kube_config_from_dict(
                config_dict=kubeconfig, context=context,
                client_configuration=configuration, persist_config=False)
            return
        if kubeconfig is None:
            kubeconfig = os.environ.get('KUBECONFIG') or DEFAULT_KUBECONFIG
        if not isinstance(kubeconfig, str):
            raise K8sClientError(
                'kubeconfig must be a path or a dict, got %s' % type(kubeconfig).__name__)
        paths = _kubeconfig_paths(kubeconfig)
        if not any(os.path.exists(p) for p in paths):
            raise K8sClientError('kubeconfig %s does not exist' % kubeconfig)
        kubernetes.config.load_kube_config(
            config_file=os.pathsep.join(paths), context=context,
            client_configuration=configuration, persist_config=False)
    except K8sClientError:
        raise
    except Exception as exc:  # ConfigException, YAML, exec plugin, malformed dict ...
        raise K8sClientError('cannot load %s: %s' % (_describe_kubeconfig(kubeconfig, context), exc))


def _default_kubeconfig_available():
    if os.environ.get('KUBECONFIG'):
        return True
    return os.path.exists(os.path.expanduser(DEFAULT_KUBECONFIG))


def _normalise_host(host):
    host = host.strip().rstrip('/')
    if '://' not in host:
        host = 'https://' + host
    return host


def build_configuration(params):
    """Build a kubernetes.client.Configuration from module parameters.

    Order:
    1. ``host`` without ``kubeconfig``/``context``: only the parameters are used
       (api_key, username/password, client_cert/client_key, or nothing, e.g.
       for an authenticating proxy such as ``kubectl proxy``).
    2. ``kubeconfig`` (path or dict), ``context``, ``KUBECONFIG`` or an existing
       ``~/.kube/config``: that kubeconfig, then the parameters override it.
    3. Otherwise the pod's service account (in-cluster config).
    """
    host = params.get('host')
    kubeconfig = params.get('kubeconfig')
    context = params.get('context')
    if host:
        host = _normalise_host(host)

    for option in ('ca_cert', 'client_cert', 'client_key'):
        path = params.get(option)
        if path and not os.path.isfile(path):
            raise K8sClientError('%s file %s does not exist' % (option, path))
    if params.get('client_key') and not params.get('client_cert'):
        raise K8sClientError('client_key needs client_cert')
    if bool(params.get('username')) != bool(params.get('password')):
        raise K8sClientError('username and password must be given together')

    configuration = kubernetes.client.Configuration()
    if host and kubeconfig is None and not context:
        configuration.host = host
    elif kubeconfig is not None or context or _default_kubeconfig_available():
        _load_kubeconfig(configuration, kubeconfig, context)
    else:
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise K8sClientError(
                'no Kubernetes connection configured: give host (with api_key, client_cert/client_key '
                'or username/password), or kubeconfig, or set KUBECONFIG or create %s, or run in a pod '
                'with a service account (in-cluster config: %s)' % (DEFAULT_KUBECONFIG, exc))

    if host:
        configuration.host = host
    # The token goes under 'authorization': clients generated with the legacy
    # template read only that key, newer ones read 'BearerToken' or 'authorization'.
    # Replacing the whole dict (and the refresh hook) drops a kubeconfig or
    # service-account token that would otherwise win.
    api_key = params.get('api_key')
    if api_key:
        if not api_key.lower().startswith('bearer '):
            api_key = 'Bearer ' + api_key
        configuration.api_key = {'authorization': api_key}
        configuration.api_key_prefix = {}
        configuration.refresh_api_key_hook = None
    elif params.get('username') and params.get('password'):
        configuration.username = params['username']
        configuration.password = params['password']
        configuration.api_key = {'authorization': configuration.get_basic_auth_token()}
        configuration.api_key_prefix = {}
        configuration.refresh_api_key_hook = None
    if params.get('validate_certs') is not None:
        configuration.verify_ssl = params['validate_certs']
    if params.get('ca_cert'):
        configuration.ssl_ca_cert = params['ca_cert']
    if params.get('client_cert'):
        configuration.cert_file = params['client_cert']
        configuration.key_file = params.get('client_key')
    if params.get('proxy'):
        configuration.proxy = params['proxy']
    if not configuration.host:
        raise K8sClientError('no API server address: give host or a kubeconfig with a server')
    return configuration


def impersonation_headers(params):
    """(name, value) pairs for the Impersonate-User / Impersonate-Group headers."""
    headers = []
    if params.get('impersonate_user'):
        headers.append(('Impersonate-User', params['impersonate_user']))
    for group in params.get('impersonate_groups') or []:
        if group:
            headers.append((_RepeatedHeader('Impersonate-Group'), group))
    return headers


def check_kubernetes_library(module):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)


def get_api_client(module):
    """Return a kubernetes.client.ApiClient for the module's auth options (fails the module on error)."""
    check_kubernetes_library(module)
    try:
        configuration = build_configuration(module.params)
    except K8sClientError as exc:
        module.fail_json(msg=str(exc))
    if configuration.verify_ssl is False:
        # The playbook asked for it explicitly; one warning per request is noise.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    api_client = kubernetes.client.ApiClient(configuration)
    for name, value in impersonation_headers(module.params):
        api_client.set_default_header(name, value)
    return api_client


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

def _server_message(body):
    """The ``message`` of a metav1.Status body, else the (shortened) body."""
    if body is None:
        return ''
    if isinstance(body, bytes):
        body = body.decode('utf-8', 'replace')
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict) and data.get('message'):
        return data['message']
    body = str(body).strip()
    return body[:500]


def _connection_reason(exc):
    """A short reason for a urllib3/socket failure, without object reprs."""
    reason = getattr(exc, 'reason', None) or exc
    text = str(reason)
    # urllib3: "<urllib3.connection.HTTPSConnection object at 0x..>: Failed to ..."
    # or "HTTPSConnection(host='h', port=1): Failed to establish a new connection: ..."
    for marker in ('>: ', '): '):
        if marker in text and text.index(marker) < 120:
            text = text.split(marker, 1)[1]
            break
    name = type(reason).__name__
    if 'SSL' in name or 'CERTIFICATE' in text.upper():
        text = 'TLS error: %s (check ca_cert, client_cert/client_key or validate_certs)' % text
    return text


def _default_permission(method, path):
    verb = {'GET': 'get', 'PATCH': 'patch', 'PUT': 'update', 'POST': 'create', 'DELETE': 'delete'}.get(method, method.lower())
    return '%s on %s' % (verb, path)


def translate_api_exception(exc, host, method, path, permission=None):
    """Turn an ApiException into a K8sClientError (K8sNotFoundError for 404)."""
    status = getattr(exc, 'status', None)
    body = getattr(exc, 'body', None)
    message = _server_message(body)
    reason = getattr(exc, 'reason', None) or ''
    if status == 0 or status is None:
        # The client raises status 0 for TLS errors and for requests it cannot build.
        text = str(reason).replace('\n', ': ')
        if 'SSL' in text:
            return K8sClientError('cannot reach the Kubernetes API server at %s: %s' % (host, _connection_reason(Exception(text))))
        return K8sClientError('request %s %s to %s failed: %s' % (method, path, host, text or exc))
    if status == 401:
        return K8sClientError(
            'the API server at %s rejected the credentials (401 Unauthorized): the token, client certificate '
            'or username/password is missing, invalid or expired%s' % (host, ': ' + message if message else ''),
            status=status, body=body)
    if status == 403:
        return K8sClientError(
            'forbidden: the account needs %s (403 Forbidden from %s%s)'
            % (permission or _default_permission(method, path), host, ': ' + message if message else ''),
            status=status, body=body)
    if status == 404:
        return K8sNotFoundError('%s %s: 404 Not Found%s' % (method, path, ': ' + message if message else ''),
                                status=status, body=body)
    return K8sClientError(
        'the API server at %s answered %s %s to %s %s%s'
        % (host, status, reason, method, path, ': ' + message if message else ''),
        status=status, body=body)


def _is_legacy_client(api_client):
    """True for clients generated with the legacy template (no ApiClient.param_serialize)."""
    return not hasattr(api_client, 'param_serialize')


def api_request(api_client, method, path, body=None, content_type=None, permission=None,
                timeout=DEFAULT_REQUEST_TIMEOUT):
    """Send one request; return the decoded JSON body (or None when empty).

    Raises K8sNotFoundError on 404 and K8sClientError on any other failure.
    ``permission`` describes the RBAC rule a 403 means, e.g.
    ``"patch on frappebenches/status (API group vyogo.tech) in namespace x"``.
    """
    method = method.upper()
    host = api_client.configuration.host
    headers = {'Accept': 'application/json', 'Content-Type': content_type or 'application/json'}
    try:
        if _is_legacy_client(api_client):
            response = api_client.call_api(
                path, method, header_params=headers, body=body,
                auth_settings=['BearerToken'], _preload_content=False,
                _return_http_data_only=True, _request_timeout=timeout)
            data = response.data
        else:
            request = api_client.param_serialize(
                method, path, header_params=headers, body=body, auth_settings=['BearerToken'])
            response = api_client.call_api(*request, _request_timeout=timeout)
            data = response.read()
            if not 200 <= response.status <= 299:
                raise ApiException(http_resp=response)
    except ApiException as exc:
        raise translate_api_exception(exc, host, method, path, permission)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise K8sClientError('cannot reach the Kubernetes API server at %s: %s' % (host, _connection_reason(exc)))
    if not data:
        return None
    if isinstance(data, bytes):
        data = data.decode('utf-8')
    try:
        return json.loads(data)
    except ValueError:
        raise K8sClientError('the API server at %s sent a response to %s %s that is not JSON: %s'
                             % (host, method, path, data[:200]))


# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------

def is_core_group(group):
    return group is None or group.strip().lower() in CORE_GROUP_NAMES


def group_version_path(group, version):
    """/api/v1 for the core group, /apis/<group>/<version> otherwise."""
    if is_core_group(group):
        return '/api/%s' % quote(version, safe='')
    return '/apis/%s/%s' % (quote(group, safe=''), quote(version, safe=''))


def split_api_version(api_version):
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    api_version = (api_version or '').strip()
    if not api_version or api_version.count('/') > 1:
        raise ValueError('api_version must look like <group>/<version> or v1, got %r' % api_version)
    if '/' in api_version:
        group, version = api_version.split('/', 1)
        if not group or not version:
            raise ValueError('api_version must look like <group>/<version> or v1, got %r' % api_version)
        return group, version
    return '', api_version


def discover_group(api_client, group):
    """The APIGroup served for ``group`` as a dict, or None when not served.

    For the core group ("", "core" or "v1") the /api APIVersions answer is
    returned in APIGroup shape: name "", versions, preferredVersion.
    """
    if is_core_group(group):
        try:
            data = api_request(api_client, 'GET', '/api', permission='get on the non-resource URL /api')
        except K8sNotFoundError:
            return None
        versions = [{'groupVersion': v, 'version': v} for v in (data or {}).get('versions') or []]
        return {
            'kind': 'APIGroup',
            'name': '',
            'versions': versions,
            'preferredVersion': versions[0] if versions else None,
        }
    path = '/apis/%s' % quote(group.strip(), safe='')
    try:
        data = api_request(api_client, 'GET', path, permission='get on the non-resource URL %s' % path)
    except K8sNotFoundError:
        return None
    return data


def discover_resources(api_client, group, version):
    """The APIResource dicts served in group/version, or None when not served.

    Subresources appear as their own entries named "<plural>/<subresource>".
    """
    path = group_version_path(group, version)
    try:
        data = api_request(api_client, 'GET', path, permission='get on the non-resource URL %s' % path)
    except K8sNotFoundError:
        return None
    return list((data or {}).get('resources') or [])


def find_resource(resources, kind):
    """The top-level APIResource for ``kind`` (not a subresource), or None.

    Matches the kind exactly first, then case-insensitively the kind, the
    plural name, the singular name and the short names.
    """
    top = [r for r in resources or [] if '/' not in r.get('name', '')]
    for resource in top:
        if resource.get('kind') == kind:
            return resource
    wanted = (kind or '').lower()
    for resource in top:
        names = [resource.get('kind', ''), resource.get('name', ''), resource.get('singularName', '')]
        names += resource.get('shortNames') or []
        if wanted in [n.lower() for n in names if n]:
            return resource
    return None


def subresources_of(resources, plural):
    """Names of the subresources of ``plural`` (e.g. ['scale', 'status'])."""
    prefix = plural + '/'
    return sorted(r['name'][len(prefix):] for r in resources or [] if r.get('name', '').startswith(prefix))


def served_versions(group_info):
    return [v.get('version') for v in (group_info or {}).get('versions') or [] if v.get('version')]


def preferred_version(group_info):
    preferred = (group_info or {}).get('preferredVersion') or {}
    return preferred.get('version')


def object_path(group, version, plural, name=None, namespace=None, subresource=None):
    path = group_version_path(group, version)
    if namespace:
        path += '/namespaces/%s' % quote(namespace, safe='')
    path += '/%s' % quote(plural, safe='')
    if name:
        path += '/%s' % quote(name, safe='')
    if subresource:
        path += '/%s' % quote(subresource, safe='')
    return path
