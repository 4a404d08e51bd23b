# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU and memory of the one-off Jobs run on a bench: the one place both roles take them from.

A FrappeBench sets them in spec.jobResources, shaped like the Go
frappe-operator's JobResources (api/v1/job_resources.go): an entry per kind of
Job, each {requests, limits}, and `default` for every kind without its own.
A Job takes its kind's entry, else `default`, else the built-in sizing below;
an entry replaces the built-in one whole (as in the Go operator), so what it
leaves out Kubernetes defaults (a request without a limit has no limit, a
limit without a request is also the request).

The bench role sizes its configuration Job with this; the site role sizes the
site and drop Jobs with it, from the bench it reads: one function, one answer.
Later Jobs (backups, migrations) add their kind here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.quantity import requests_above_limits

# The kinds of Job there are, and what runs in each:
#   siteInit     the site Job: bench new-site, which installs frappe and every
#                app of the bench (ERPNext) in one Python process.
#   maintenance  the configuration Job (bench set-config -g, a few short
#                Python processes) and the drop Job (a mariadb client, mv).
#   backup       a SiteBackup's Jobs: bench backup (mariadb-dump piped through
#                gzip, tar of the files), then gpg and the upload.
#   benchInit    the configuration Job (the Go operator's name for the Job that
#                prepares a bench); without an entry it takes maintenance's.
#   migration    an upgrade's and a SiteMigration's Jobs (bench migrate, the
#                restore of a failed one); without an entry, maintenance's.
#   restore      a SiteRestore's Job; without an entry, backup's.
KINDS = ('siteInit', 'maintenance', 'backup', 'benchInit', 'migration', 'restore')
# The kind whose entry (and built-in sizing) a kind takes when it has none: the
# Go operator's finer kinds keep what a bench sized before they existed.
FALLBACK = {'benchInit': 'maintenance', 'migration': 'maintenance', 'restore': 'backup'}
FIELD = 'spec.jobResources'

# Built-in sizing, used when the bench sets neither the kind nor `default`
# (docs/FRAPPEBENCH.md, "Job resources", says why these sizes).
DEFAULTS = {
    # new-site with ERPNext holds a large Python process for minutes (every
    # DocType synced, install hooks, fixtures): the request is what it holds
    # most of that time, so it is only placed where that much is free; the
    # limit is the Go operator's siteInit limit, room for the peaks.
    'siteInit': {'requests': {'cpu': '250m', 'memory': '1Gi'},
                 'limits': {'cpu': '2', 'memory': '3Gi'}},
    # bench set-config imports Frappe once per call; the drop Job runs a
    # mariadb client. One CPU keeps their Python start-up quick.
    'maintenance': {'requests': {'cpu': '100m', 'memory': '256Mi'},
                    'limits': {'cpu': '1', 'memory': '512Mi'}},
    # The Go operator's backup sizing: the dump and gzip stream, tar and gpg
    # hold little memory; one CPU keeps a large dump's compression going.
    'backup': {'requests': {'cpu': '100m', 'memory': '256Mi'},
               'limits': {'cpu': '1', 'memory': '1Gi'}},
}


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _entry(spec, kind):
    """(field path, entry) the Job of `kind` takes from a bench spec, or (None, None) for the built-in sizing."""
    configured = _mapping(_mapping(spec).get('jobResources'))
    for key in (kind, FALLBACK.get(kind), 'default'):
        if key is None:
            continue
        entry = configured.get(key)
        if isinstance(entry, dict) and (entry.get('requests') or entry.get('limits')):
            return '%s.%s' % (FIELD, key), entry
    return None, None


def job_resources(spec, kind):
    """The resources ({requests, limits}) of a Job of `kind` on the bench of `spec`."""
    if kind not in KINDS:
        raise InvalidInput('job_resources: kind must be one of %s, got %r' % (', '.join(KINDS), kind))
    _path, entry = _entry(spec, kind)
    if entry is None:
        return copy.deepcopy(DEFAULTS[FALLBACK.get(kind, kind)])
    return dict((part, dict(entry[part])) for part in ('requests', 'limits') if entry.get(part))


def job_resources_errors(spec):
    """What would keep a Job's pod from being created: a request above its limit in an entry of spec.jobResources.

    The quantities themselves are checked with the other resources
    (bench_spec_errors); one that does not parse is left to that message.
    """
    configured = _mapping(_mapping(spec).get('jobResources'))
    return [error for key in ('default',) + KINDS
            for error in requests_above_limits('%s.%s' % (FIELD, key), configured.get(key), 'the Job')]
