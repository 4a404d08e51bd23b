# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An object checked against the structural openAPIV3Schema of its CRD, as the API server checks it.

Render mode sees no API server, so it checks here what the API server would
refuse at admission: fields the schema does not know (kubectl and the
kubernetes.core modules ask for strict field validation, so they are refused,
not dropped), types, enums, required fields, patterns, lengths, item and
property counts, minimum/maximum and the keys of x-kubernetes-list-type map
lists. Fields under x-kubernetes-preserve-unknown-fields are taken as they are;
a null value is dropped as the API server drops it for a field that is not
nullable. Left out: the CEL rules (x-kubernetes-validations), formats, and
metadata and status (the API server checks metadata itself and ignores status
on create, with the status subresource).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The top-level fields of every object; only spec is checked against the schema.
OBJECT_FIELDS = ('apiVersion', 'kind', 'metadata', 'spec', 'status')


def crd_version_schema(crd, version):
    """The openAPIV3Schema of `version` in a CustomResourceDefinition, or None."""
    for entry in (crd.get('spec') or {}).get('versions') or []:
        if entry.get('name') == version:
            return (entry.get('schema') or {}).get('openAPIV3Schema')
    return None


def object_schema_errors(obj, crds):
    """Messages 'path: problem' for an object checked against the matching CRD of `crds` (a list of
    CustomResourceDefinitions), in document order; an empty list when the API server would take it."""
    group, version = ((obj.get('apiVersion') or '').rpartition('/'))[::2]
    for crd in crds:
        spec = crd.get('spec') or {}
        if spec.get('group') == group and (spec.get('names') or {}).get('kind') == obj.get('kind'):
            schema = crd_version_schema(crd, version)
            break
    else:
        return ['%s: no CustomResourceDefinition for kind %s' % (obj.get('apiVersion'), obj.get('kind'))]
    if schema is None:
        return ['apiVersion: version %s is not served by the CustomResourceDefinition' % version]
    errors = ['%s: unknown field' % key for key in obj if key not in OBJECT_FIELDS]
    spec_schema = (schema.get('properties') or {}).get('spec')
    for field in schema.get('required') or []:
        if field == 'spec' and obj.get('spec') is None:
            errors.append('spec: Required value')
    if spec_schema is not None and obj.get('spec') is not None:
        errors.extend(value_errors(obj['spec'], spec_schema, 'spec'))
    return errors


def _type_of(value):
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, dict):
        return 'object'
    if isinstance(value, list):
        return 'array'
    return type(value).__name__


def _type_matches(value, schema):
    actual = _type_of(value)
    if schema.get('x-kubernetes-int-or-string'):
        return actual in ('integer', 'string')
    wanted = schema.get('type')
    if not wanted:
        return True
    if wanted == 'number':
        return actual in ('integer', 'number')
    if wanted == 'integer' and actual == 'number':
        return float(value).is_integer()
    return actual == wanted


def value_errors(value, schema, path):
    """Messages for one value and everything under it."""
    if value is None:
        return []  # dropped (pruned) when not nullable, taken as it is when nullable
    if not _type_matches(value, schema):
        wanted = 'integer or string' if schema.get('x-kubernetes-int-or-string') else schema.get('type')
        return ['%s: Invalid value: %s: must be of type %s' % (path, _type_of(value), wanted)]
    errors = []
    if 'enum' in schema and value not in schema['enum']:
        errors.append('%s: Unsupported value: %r: supported values: %s'
                      % (path, value, ', '.join(repr(v) for v in schema['enum'])))
    if isinstance(value, str):
        errors.extend(_string_errors(value, schema, path))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if 'minimum' in schema and value < schema['minimum']:
            errors.append('%s: Invalid value: %s: must be greater than or equal to %s' % (path, value, schema['minimum']))
        if 'maximum' in schema and value > schema['maximum']:
            errors.append('%s: Invalid value: %s: must be less than or equal to %s' % (path, value, schema['maximum']))
    elif isinstance(value, dict):
        errors.extend(_object_errors(value, schema, path))
    elif isinstance(value, list):
        errors.extend(_array_errors(value, schema, path))
    return errors


def _string_errors(value, schema, path):
    errors = []
    if 'minLength' in schema and len(value) < schema['minLength']:
        errors.append('%s: Invalid value: %r: should be at least %d chars long' % (path, value, schema['minLength']))
    if 'maxLength' in schema and len(value) > schema['maxLength']:
        errors.append('%s: Too long: may not be more than %d bytes' % (path, schema['maxLength']))
    if 'pattern' in schema and not re.search(schema['pattern'], value):
        errors.append('%s: Invalid value: %r: should match %r' % (path, value, schema['pattern']))
    return errors


def _object_errors(value, schema, path):
    errors = []
    properties = schema.get('properties') or {}
    extra = schema.get('additionalProperties')
    for field in schema.get('required') or []:
        if value.get(field) is None:
            errors.append('%s.%s: Required value' % (path, field))
    if 'minProperties' in schema and len(value) < schema['minProperties']:
        errors.append('%s: Invalid value: should have at least %d properties' % (path, schema['minProperties']))
    if 'maxProperties' in schema and len(value) > schema['maxProperties']:
        errors.append('%s: Too many: %d: must have at most %d items' % (path, len(value), schema['maxProperties']))
    for key, item in value.items():
        where = '%s.%s' % (path, key)
        if key in properties:
            errors.extend(value_errors(item, properties[key], where))
        elif isinstance(extra, dict):
            errors.extend(value_errors(item, extra, where))
        elif extra is True or schema.get('x-kubernetes-preserve-unknown-fields'):
            continue
        else:
            errors.append('%s: unknown field' % where)
    return errors


def _array_errors(value, schema, path):
    errors = []
    if 'minItems' in schema and len(value) < schema['minItems']:
        errors.append('%s: Invalid value: %d: should have at least %d items' % (path, len(value), schema['minItems']))
    if 'maxItems' in schema and len(value) > schema['maxItems']:
        errors.append('%s: Too many: %d: must have at most %d items' % (path, len(value), schema['maxItems']))
    items = schema.get('items')
    for index, item in enumerate(value):
        if isinstance(items, dict):
            errors.extend(value_errors(item, items, '%s[%d]' % (path, index)))
    keys = schema.get('x-kubernetes-list-map-keys') or []
    if schema.get('x-kubernetes-list-type') == 'map' and keys:
        seen = set()
        for index, item in enumerate(value):
            if isinstance(item, dict):
                key = tuple(repr(item.get(k)) for k in keys)
                if key in seen:
                    errors.append('%s[%d]: Duplicate value: %s' % (path, index, ', '.join(
                        '%s=%s' % (k, item.get(k)) for k in keys)))
                seen.add(key)
    elif schema.get('x-kubernetes-list-type') == 'set':
        seen = []
        for index, item in enumerate(value):
            if item in seen:
                errors.append('%s[%d]: Duplicate value: %r' % (path, index, item))
            seen.append(item)
    return errors


# What render mode refuses in a manifest before rendering anything (the filter render_refusals).
def _object_name(obj):
    return '%s %s/%s' % (obj.get('kind'), obj['metadata'].get('namespace'), obj['metadata'].get('name'))


def _dict(value):
    return value if isinstance(value, dict) else {}


def render_refusals(benches, sites, crds, backups=None, restores=None, migrations=None):
    """A message per problem: each object checked against its CRD schema as the API server would, each site
    whose bench is not in the manifest (render mode has no cluster to read it from), and each SiteBackup,
    SiteRestore or SiteMigration whose site is not in it."""
    errors = []
    for obj in list(benches or []) + list(sites or []) + list(backups or []) + list(restores or []) + list(
            migrations or []):
        errors.extend('%s: %s.' % (_object_name(obj), e) for e in object_schema_errors(obj, crds or []))
    for backup in list(backups or []) + list(restores or []) + list(migrations or []):
        field = 'spec.siteRef.name' if backup.get('kind') == 'SiteMigration' else 'spec.site'
        spec = _dict(backup.get('spec'))
        wanted = _dict(spec.get('siteRef')).get('name') if field == 'spec.siteRef.name' else spec.get('site')
        namespace = backup['metadata'].get('namespace')
        if not isinstance(wanted, str) or not wanted:
            continue  # the schema check above names the missing spec.site
        if not [s for s in sites or [] if s['metadata'].get('namespace') == namespace and wanted in (
                s['metadata'].get('name'), (s.get('spec') or {}).get('siteName'))]:
            errors.append('%s: %s: no FrappeSite %s (by name or siteName) in namespace %s of the manifest, and '
                          'render mode reads no cluster; add the FrappeSite to the manifest.'
                          % (_object_name(backup), field, wanted, namespace))
    in_manifest = set((b['metadata'].get('namespace'), b['metadata'].get('name')) for b in benches or [])
    for site in sites or []:
        # A benchRef that is not a mapping (the Go operator's examples write its name alone) is named above.
        bench = _dict(_dict(site.get('spec')).get('benchRef')).get('name')
        if not isinstance(bench, str) or not bench:
            continue  # the schema check above names the missing or bad spec.benchRef.name
        namespace = site['metadata'].get('namespace')
        if (namespace, bench) not in in_manifest:
            errors.append('%s: spec.benchRef.name: the FrappeBench %s/%s is not in the manifest, and render mode '
                          'reads no cluster; add the FrappeBench %s to the manifest (in namespace %s).'
                          % (_object_name(site), namespace, bench, bench, namespace))
    return errors
