# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documents a role's objects.yaml.j2 rendered, paired with the plan steps; docs in rendered_objects.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def rendered_objects(documents, steps):
    """[{'stage', 'object'}] for each step of the plan, refused unless each document is the object its step names."""
    documents = [doc for doc in documents or [] if doc is not None]
    steps = list(steps or [])
    if len(documents) != len(steps):
        raise AnsibleFilterError('rendered_objects: the plan has %d steps, the templates rendered %d objects'
                                 % (len(steps), len(documents)))
    out = []
    for step, doc in zip(steps, documents):
        kind = doc.get('kind') if isinstance(doc, dict) else None
        name = (doc.get('metadata') or {}).get('name') if isinstance(doc, dict) else None
        if (kind, name) != (step.get('kind'), step.get('name')):
            raise AnsibleFilterError('rendered_objects: %s rendered %s %s where the plan has %s %s'
                                     % (step.get('template'), kind, name, step.get('kind'), step.get('name')))
        out.append({'stage': step.get('stage'), 'object': doc})
    return out


class FilterModule(object):
    def filters(self):
        return {'rendered_objects': rendered_objects}
