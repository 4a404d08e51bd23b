# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's own words from a failed kubernetes.core result; docs in k8s_error_message.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import json
import re

# kubernetes.core puts the response body (a metav1.Status) into msg, as JSON or
# as the repr of its bytes: b'{"kind":"Status",...,"message":"...",...}'.


def _status(msg):
    start, end = msg.find('{'), msg.rfind('}') + 1
    if start < 0 or end <= start:
        return None, msg
    text = msg[start:end]
    if msg[max(start - 2, 0):start] == "b'" and msg[end:end + 1] == "'":
        try:
            text = ast.literal_eval(msg[start - 2:end + 1]).decode('utf-8', 'replace')
        except (ValueError, SyntaxError):
            return None, msg
        start -= 2
    try:
        status = json.loads(text)
    except ValueError:
        return None, msg
    return (status if isinstance(status, dict) else None), msg[:start]


# A module that never got an answer: its msg or traceback (a crash inside the
# client, "MODULE FAILURE") tells of the connection, not of the object.
_UNREACHABLE = re.compile(r"Connection refused|NewConnectionError|Max retries exceeded|timed out|Connection reset")
_HOST = re.compile(r"host='([^']+)', port=(\d+)")


def _unreachable(result):
    text = ' '.join(str(result.get(key) or '') for key in ('msg', 'module_stderr', 'exception'))
    if not _UNREACHABLE.search(text):
        return None
    host = _HOST.search(text)
    reason = 'connection refused' if 'Connection refused' in text else (
        'timed out' if 'timed out' in text else 'the connection failed')
    return 'cannot reach the Kubernetes API server%s (%s); run the reconcile again once it answers' % (
        ' at https://%s:%s' % host.groups() if host else '', reason)


# kubernetes.core's words for a kind the API server does not serve (its CRD is missing).
_NOT_SERVED = re.compile(r"Failed to find exact match for (\S+)\.(\w+) by \[")


def k8s_error_message(result):
    """One readable line: the Status message of the API server's answer, else the module's msg."""
    if not isinstance(result, dict):
        return str(result)
    unreachable = _unreachable(result)
    if unreachable:
        return unreachable
    msg = str(result.get('msg') or '')
    not_served = _NOT_SERVED.search(msg)
    if not_served:
        return 'the cluster does not serve %s %s: its CRD is not installed' % not_served.groups()
    item = result.get('item') if isinstance(result.get('item'), dict) else {}
    if '404 page not found' in msg and item.get('kind'):
        # The path of a kind the server does not serve (kubernetes.core's discovery cache still had it).
        return 'the cluster does not serve %s %s: its CRD is not installed' % (item.get('apiVersion'), item['kind'])
    msg = str(result.get('msg') or result.get('error') or 'the task failed without a message')
    status, prefix = _status(msg)
    if not status or not status.get('message'):
        return msg
    prefix = prefix.rstrip(" :(")
    return '%s: %s' % (prefix, status['message']) if prefix else status['message']


class FilterModule(object):
    def filters(self):
        return {'k8s_error_message': k8s_error_message}
