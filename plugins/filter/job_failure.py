# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why the pods of a failed Job failed, from their termination messages; docs in job_failure.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vyogotech.frappe.plugins.module_utils.readiness import job_failure


class FilterModule(object):
    def filters(self):
        return {'job_failure': job_failure}
