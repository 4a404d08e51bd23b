# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""kubernetes.core's client for this collection's modules, and its errors in words a playbook author can act on.

Every module of the collection reaches the API server through kubernetes.core's
client (``AUTH_ARG_SPEC``, ``get_api_client``) and the dynamic client it holds:
resources are found by its discovery, objects read, created and patched, and
the status subresource patched, through it. This file only

* makes that client for a module (``client_of``) and finds a kind's resource
  with kubernetes.core's own lookup (``resource_of``: kind, plural, singular or
  short name), saying whether the group version or the kind is not served;
* runs one request (``call``) and turns the client's transport and HTTP errors
  into ``K8sClientError`` with a message that names the RBAC rule a 403 means,
  the credentials a 401 means, or that the server could not be reached.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

try:
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
except ImportError:
    # kubernetes.core's AnsibleK8SModule reports the missing library.
    pass


DEFAULT_REQUEST_TIMEOUT = (20, 120)


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


def client_of(module):
    """kubernetes.core's client for the module's options (fails the module).

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
    return k8s


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


def call(client, method, path, permission, request, *args, **kwargs):
    """request(*args, **kwargs), one call of the dynamic client, as a plain dict (None for an empty answer).

    method and path only name the request in a message. Raises
    K8sNotFoundError on 404 and K8sClientError on any other failure;
    ``permission`` describes the RBAC rule a 403 means, e.g.
    ``"patch on frappebenches/status (API group vyogo.tech) in namespace x"``.
    """
    host = client.configuration.host
    kwargs.setdefault('_request_timeout', DEFAULT_REQUEST_TIMEOUT)
    try:
        answer = request(*args, **kwargs)
    except ApiException as exc:
        raise translate_api_exception(exc, host, method, path, permission)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise K8sClientError('cannot reach the Kubernetes API server at %s: %s' % (host, _connection_reason(exc)))
    if answer is None or hasattr(answer, 'to_dict'):
        return answer.to_dict() if answer is not None else None
    # The dynamic client hands back the raw data of an answer that is not JSON.
    data = answer.decode('utf-8', 'replace') if isinstance(answer, bytes) else str(answer)
    if not data.strip():
        return None
    raise K8sClientError('the API server at %s sent a response to %s %s that is not JSON: %s'
                         % (host, method, path, data[:200]))


def resource_of(client, api_version, kind):
    """The dynamic client's resource for kind in api_version, found as kubernetes.core finds it.

    A group version the API server does not serve and a kind it does not
    serve there are told apart (a CRD not installed, or a wrong kind).
    """
    try:
        return client.resource(kind, api_version)
    except ResourceNotUniqueError:
        raise K8sClientError('kind %s is ambiguous in %s: give its exact kind' % (kind, api_version))
    except ResourceNotFoundError:
        pass
    except ApiException as exc:
        raise translate_api_exception(exc, client.configuration.host, 'GET', 'the discovery documents')
    try:
        served = client.client.resources.search(api_version=api_version)
    except ResourceNotFoundError:
        served = []
    if not served:
        raise K8sClientError('apiVersion %s is not served by the API server (is its CustomResourceDefinition '
                             'installed?)' % api_version)
    raise K8sClientError('kind %s is not served in %s' % (kind, api_version))
