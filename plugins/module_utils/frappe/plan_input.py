# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every reconcile plan filter checks of its input before it plans."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

MODES = ('apply', 'render')


def check_plan_input(filter_name, kind, obj, mode, settings, settings_name):
    """Refuse an object without metadata and spec, an unknown mode, or settings that are not a mapping."""
    if not isinstance(obj, dict) or not isinstance(obj.get('metadata'), dict) or not isinstance(obj.get('spec'), dict):
        raise InvalidInput('%s expects a %s object with metadata and spec' % (filter_name, kind))
    if mode not in MODES:
        raise InvalidInput('%s: mode must be apply or render, got %r' % (filter_name, mode))
    if not isinstance(settings, dict):
        raise InvalidInput('%s: settings must be the mapping of the role settings (%s)' % (filter_name, settings_name))


def site_job_reads(obj, label, kinds=()):
    """The reads a reconcile of a kind that runs Jobs on a site begins with: the namespace's FrappeSites and
    FrappeBenches (the site by its name or siteName, and its bench), the custom resources of `kinds` ((key, kind)),
    and its Jobs and their pods (labelled `label`=its name)."""
    name, namespace = obj['metadata']['name'], obj['metadata']['namespace']
    selector = ['%s=%s' % (label, name)]
    return [{'key': key, 'api_version': 'vyogo.tech/v1alpha1', 'kind': kind, 'namespace': namespace}
            for key, kind in (('sites', 'FrappeSite'), ('benches', 'FrappeBench')) + tuple(kinds)] + [
        {'key': 'jobs', 'api_version': 'batch/v1', 'kind': 'Job', 'namespace': namespace, 'label_selectors': selector},
        {'key': 'pods', 'api_version': 'v1', 'kind': 'Pod', 'namespace': namespace, 'label_selectors': selector}]


def refused_input(plan, kind, errors, meta, mode):
    """Whether the plan of the `kind` object `meta` is refused: its spec's errors, or no uid in apply mode (owner
    references need it); the messages go to plan['errors']."""
    if errors:
        plan['errors'].append('%s %s/%s cannot be reconciled: %s Nothing was changed.'
                              % (kind, meta['namespace'], meta['name'], ' '.join(errors)))
    elif mode == 'apply' and not meta.get('uid'):
        plan['errors'].append('In apply mode the role needs the live %s (metadata.uid is missing).' % kind)
    return bool(plan['errors'])
