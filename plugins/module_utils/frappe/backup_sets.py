# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup sets of a site in storage: where a set goes and which sets retention keeps.

A set is what one run of a SiteBackup stored: the files of `bench backup`
under `<prefix>/<namespace>/<site>/<timestamp>/`, the timestamp in UTC as
TIMESTAMP writes it, so the sets of a site sort by time and a person can
find "last night" in a bucket listing.

Standard library only: the backup Job runs the same decisions in the bench's
Python, so what the tests prove is what prunes in the cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

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
