# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A manifest of FrappeBench, FrappeSite, SiteBackup, SiteRestore and SiteMigration objects: where it is found, and its objects by
kind, checked (playbooks/site.yml and render.yml read it with the action vyogotech.frappe.read_manifest)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import copy

API_VERSION = 'vyogo.tech/v1alpha1'
# The CRDs serve the Go frappe-operator's v1 too, with the same schema and no conversion (docs/MIGRATING.md): a v1
# document is read as the v1alpha1 object it is stored as.
API_VERSIONS = (API_VERSION, 'vyogo.tech/v1')
KINDS = ('FrappeBench', 'FrappeSite', 'SiteBackup', 'SiteRestore', 'SiteMigration')
# Where each kind goes in the answer.
GROUPS = {'FrappeBench': 'benches', 'FrappeSite': 'sites', 'SiteBackup': 'backups', 'SiteRestore': 'restores',
          'SiteMigration': 'migrations'}


def manifest_objects(documents, namespace, manifest='the manifest'):
    """{'benches': [...], 'sites': [...], 'backups': [...], 'restores': [...], 'migrations': [...], 'errors': [...]}: each document
    checked (a message per one that is not of KINDS), a v1 List standing for its items, metadata.namespace
    defaulted."""
    objects = []
    for doc in documents or []:
        if not doc:
            continue  # an empty document of the stream
        if isinstance(doc, dict) and doc.get('kind') == 'List':
            objects.extend(doc.get('items') or [])
        else:
            objects.append(doc)
    out = dict([(group, []) for group in GROUPS.values()] + [('errors', [])])
    for index, doc in enumerate(objects):
        metadata = doc.get('metadata') if isinstance(doc, dict) else None
        if (not isinstance(doc, dict) or doc.get('apiVersion') not in API_VERSIONS or doc.get('kind') not in KINDS
                or not isinstance(metadata, dict) or not metadata.get('name')):
            got = (doc.get('apiVersion') or '(no apiVersion)', doc.get('kind') or '(no kind)') if isinstance(doc, dict) \
                else ('(not a mapping)', type(doc).__name__)
            out['errors'].append('Document %d of %s must be a %s %s or %s with metadata.name; got %s %s.'
                                 % (index + 1, manifest, ' or '.join(API_VERSIONS), ', '.join(KINDS[:-1]), KINDS[-1],
                                    got[0], got[1]))
            continue
        doc = copy.deepcopy(doc)
        doc['apiVersion'] = API_VERSION
        if not doc['metadata'].get('namespace'):
            doc['metadata']['namespace'] = namespace
        out[GROUPS[doc['kind']]].append(doc)
    return out


def manifest_candidates(manifest, project_dir, cwd):
    """Where a manifest is looked for: an absolute path as it is; a relative one in the project (the checkout
    holding playbooks/, as AWX and ansible-runner lay it out, which leave $PWD unset or elsewhere), then in the
    directory the controller runs in (cwd, when known)."""
    if os.path.isabs(manifest):
        return [manifest]
    return [os.path.join(project_dir, manifest)] + ([os.path.join(cwd, manifest)] if cwd else [])
