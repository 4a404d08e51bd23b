# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fields of the Go frappe-operator's FrappeBench that are accepted but not acted on.

Manifests written for the Go frappe-operator keep working; the role warns
once per bench with every such field and the reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# field path -> why it changes nothing (yet). A migrating user is told once
# per bench, so nothing is lost silently.
IGNORED = {
    'spec.appsJSON': 'the apps come from the image (build it with them, for example with frappe_docker\'s apps.json)',
    'spec.fpmConfig': 'the apps come from the image; no package repository is used',
    'spec.gitConfig': 'the apps come from the image; nothing is installed from Git',
    'spec.domainConfig': 'FrappeSite reconciliation, which resolves site domains, is not implemented yet',
}


def bench_ignored_fields(spec):
    """'<field>: <why>' for every field of `spec` that is accepted but ignored."""
    spec = spec if isinstance(spec, dict) else {}
    notes = ['%s: %s' % (field, why) for field, why in IGNORED.items()
             if spec.get(field.split('.', 1)[1]) not in (None, '', {}, [])]
    if ((spec.get('redisConfig') or {}).get('type') or 'redis') == 'dragonfly':
        notes.append('spec.redisConfig.type dragonfly: the in-cluster cache and queue run Redis '
                     '(spec.redisConfig.image); point spec.redisConfig.connectionSecretRef at a Dragonfly server to use one')
    return notes
