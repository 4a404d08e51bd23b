# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What render mode refuses in a manifest before rendering anything; docs in render_refusals.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.plugin_utils.crd_schema import object_schema_errors


def _name(obj):
    return '%s %s/%s' % (obj.get('kind'), obj['metadata'].get('namespace'), obj['metadata'].get('name'))


def render_refusals(benches, sites, crds):
    """A message per problem: each object checked against its CRD schema as the API server would, and each
    site whose bench is not in the manifest (render mode has no cluster to read it from)."""
    errors = []
    for obj in list(benches or []) + list(sites or []):
        errors.extend('%s: %s.' % (_name(obj), e) for e in object_schema_errors(obj, crds or []))
    in_manifest = set((b['metadata'].get('namespace'), b['metadata'].get('name')) for b in benches or [])
    for site in sites or []:
        bench = ((site.get('spec') or {}).get('benchRef') or {}).get('name')
        if not isinstance(bench, str) or not bench:
            continue  # the schema check above names the missing or bad spec.benchRef.name
        namespace = site['metadata'].get('namespace')
        if (namespace, bench) not in in_manifest:
            errors.append('%s: spec.benchRef.name: the FrappeBench %s/%s is not in the manifest, and render mode '
                          'reads no cluster; add the FrappeBench %s to the manifest (in namespace %s).'
                          % (_name(site), namespace, bench, bench, namespace))
    return errors


class FilterModule(object):
    def filters(self):
        return {'render_refusals': render_refusals}
