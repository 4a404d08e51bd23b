# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's own words from a failed kubernetes.core result; docs in k8s_error_message.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import json

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


def k8s_error_message(result):
    """One readable line: the Status message of the API server's answer, else the module's msg."""
    if not isinstance(result, dict):
        return str(result)
    msg = str(result.get('msg') or result.get('error') or 'the API server refused the request')
    status, prefix = _status(msg)
    if not status or not status.get('message'):
        return msg
    prefix = prefix.rstrip(" :(")
    return '%s: %s' % (prefix, status['message']) if prefix else status['message']


class FilterModule(object):
    def filters(self):
        return {'k8s_error_message': k8s_error_message}
