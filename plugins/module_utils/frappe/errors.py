# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error the library raises for input it cannot plan from."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class InvalidInput(ValueError):
    """A FrappeBench, FrappeSite, setting or quantity the library cannot work with; the message names the field
    and the fix. The filters turn it into AnsibleFilterError (module_utils may not import ansible.errors)."""


def refuse_unknown(path, block, allowed, what='field(s)'):
    """Raise InvalidInput naming the keys of mapping `block` (at `path`) that are not in `allowed`."""
    unknown = sorted(str(key) for key in block if key not in allowed)
    if unknown:
        raise InvalidInput('%s has unknown %s %s: use %s' % (path, what, ', '.join(unknown), ', '.join(allowed)))
