# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Raw requests and discovery for the modules of this collection.

The connection options and the API client come from kubernetes.core
(``AUTH_ARG_SPEC``, ``get_api_client``); this file only uses the
``kubernetes.client.ApiClient`` that client holds:

* ``api_client_of(module)``: that ApiClient, from kubernetes.core's client;
* ``api_request()``: one raw JSON request that works with both generations of
  the generated client (the legacy ``call_api(path, method, ...)`` one, and the
  ``param_serialize()``/``call_api(method, url, ...)`` one of recent releases
  such as 37.x) and turns transport and HTTP errors into ``K8sClientError`` with a message
  a playbook author can act on;
* discovery helpers: ``discover_resources()``,
  ``find_resource()``, ``subresources_of()``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from urllib.parse import quote

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

try:
    import urllib3

    try:
        from kubernetes.client.exceptions import ApiException
    except ImportError:  # pragma: no cover - very old clients
        from kubernetes.client.rest import ApiException
except ImportError:
    # kubernetes.core's AnsibleK8SModule reports the missing library.
    pass


DEFAULT_REQUEST_TIMEOUT = (20, 120)

CORE_GROUP_NAMES = ('', 'core', 'v1')


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


def api_client_of(module):
    """The kubernetes.client.ApiClient of kubernetes.core's client for the module's options (fails the module).

    kubernetes.core's client reads the server's discovery documents when it
    is made, so an unreachable server or refused credentials show up here.
    """
    host = module.params.get('host') or 'the configured host'
    try:
        k8s = get_api_client(module)
    except CoreException as exc:
        module.fail_json(msg=str(exc))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        module.fail_json(msg='cannot reach the Kubernetes API server at %s: %s' % (host, _connection_reason(exc)))
    except Exception as exc:  # pylint: disable=broad-except
        if getattr(exc, 'status', None) is None:
            raise
        # The dynamic client's errors carry the API server's answer.
        error = translate_api_exception(exc, host, 'GET', 'the discovery documents')
        module.fail_json(msg=str(error), status=error.status)
    if k8s.configuration.verify_ssl is False:
        # The playbook asked for it explicitly; one warning per request is noise.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return k8s.client.client


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
