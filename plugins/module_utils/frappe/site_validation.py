# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a FrappeSite may name: its site, its domain and the Kubernetes objects it refers to.

The one place these rules live. The CRD (config/crd/bases/vyogo.tech_frappesites.yaml)
repeats them as patterns, lengths and CEL rules, so the API server refuses a
bad FrappeSite before it is stored; the site plan (site_plan.py) applies
them too, so render mode and a manifest given to playbooks/site.yml are
refused the same way, and a domain made from the bench's suffix (which only
the plan sees) is checked like spec.domain.
tests/unit/plugins/module_utils/frappe/test_site_names.py holds the CRD's
copies to these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import DNS1035_LABEL, \
    MAX_BENCH_NAME_LENGTH

# A DNS name (RFC 1123): labels of lower-case letters, digits and '-', each of
# 1 to 63 characters, not starting or ending with '-'; at most 253 in all.
_LABEL = r'[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'
DNS_NAME_PATTERN = r'^%s(\.%s)*$' % (_LABEL, _LABEL)
MAX_DNS_NAME_LENGTH = 253

# The longest file name Frappe makes from a site name: bench backup writes
# <YYYYmmdd_HHMMSS>-<site with dots as _>-site_config_backup-enc.json when
# backups are encrypted (frappe/utils/backups.py, version 15:
# BackupGenerator.set_backup_file_name, todays_date and site_slug). A file
# name has at most 255 bytes (ext4, xfs, overlayfs).
BACKUP_FILE_PREFIX = '20240101_000000-'
BACKUP_FILE_SUFFIX = '-site_config_backup-enc.json'
MAX_FILE_NAME_LENGTH = 255
MAX_SITE_NAME_LENGTH = MAX_FILE_NAME_LENGTH - len(BACKUP_FILE_PREFIX) - len(BACKUP_FILE_SUFFIX)

# What a bench keeps under sites/ next to the site directories; a site of that
# name would be (or, with deletionPolicy Delete, archive) the bench's own file:
# - assets: the apps' built files and their links, made by bench build
#   (frappe/build.py) and baked into the frappe/erpnext image;
# - .build: the time of the last build (frappe/build.py);
# - apps.txt: the installed apps, one a line (frappe.get_all_apps, frappe/__init__.py);
# - apps.json: the apps and their sources, written by bench (bench/bench.py) and
#   frappe_docker's image build;
# - common_site_config.json: the bench-wide configuration (frappe.get_site_config);
# - currentsite.txt: the default site of `bench use` (frappe/commands/site.py);
# - archived_sites: where the drop Job moves a dropped site (roles/frappe_site/files/drop-site.sh).
# Entries starting with '.' or holding '_' are no DNS names (the pattern above
# refuses them already); they are listed so the list says what is there.
RESERVED_SITE_NAMES = ('assets', '.build', 'apps.txt', 'apps.json', 'common_site_config.json', 'currentsite.txt',
                       'archived_sites')

# Kubernetes object names (k8s.io/apimachinery/pkg/util/validation).
DNS1123_SUBDOMAIN = r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
DNS1123_LABEL = r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
# A key of a Secret's data.
SECRET_KEY = r'^[-._a-zA-Z0-9]+$'

# kind of name: (pattern, max length, what it is, in words)
RULES = {
    'subdomain': (DNS1123_SUBDOMAIN, 253, 'a DNS-1123 subdomain (lower-case letters, digits, "-" and ".", starting '
                  'and ending with a letter or digit; at most 253 characters)'),
    'label': (DNS1123_LABEL, 63, 'a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a '
              'letter or digit; at most 63 characters)'),
    'bench': (DNS1035_LABEL, MAX_BENCH_NAME_LENGTH, 'the name of a FrappeBench (lower-case letters, digits and "-", '
              'starting with a letter; at most %d characters)' % MAX_BENCH_NAME_LENGTH),
    'secret-key': (SECRET_KEY, 253, 'a Secret key (letters, digits, "-", "_" and "."; at most 253 characters)'),
}

# Every field of a FrappeSite that names a Kubernetes object (or a key in one), and its kind of name.
# A MariaDB's name is also the host name of its Service (<name>.<namespace>.svc): a label, checked with its kind.
REFERENCE_FIELDS = (
    ('spec.benchRef.name', 'bench'),
    ('spec.benchRef.namespace', 'label'),
    ('spec.dbConfig.mariadbRef.name', 'subdomain'),
    ('spec.dbConfig.mariadbRef.namespace', 'label'),
    ('spec.dbConfig.connectionSecretRef.name', 'subdomain'),
    ('spec.adminPasswordSecretRef.name', 'subdomain'),
    ('spec.adminPasswordSecretRef.key', 'secret-key'),
    ('spec.tls.secretName', 'subdomain'),
    ('spec.tls.issuer', 'subdomain'),
    ('spec.ingressClassName', 'subdomain'),
    ('spec.ingress.className', 'subdomain'),
    ('spec.ingress.tls.secretName', 'subdomain'),
    ('spec.ingress.tls.issuer', 'subdomain'),
)


def _get(obj, path):
    for part in path.split('.'):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def dns_name_errors(field, value):
    """Why `value` (a site or domain name) is no DNS name, as messages naming `field`; [] when it is one."""
    if not isinstance(value, str) or not re.match(DNS_NAME_PATTERN, value) or len(value) > MAX_DNS_NAME_LENGTH:
        long_labels = [p for p in str(value).split('.') if len(p) > 63]
        why = ('its label %s has %d characters, at most 63 fit' % (long_labels[0], len(long_labels[0]))
               if long_labels else 'it has %d characters, at most %d fit' % (len(str(value)), MAX_DNS_NAME_LENGTH)
               if len(str(value)) > MAX_DNS_NAME_LENGTH else
               'use lower-case letters, digits, "-" and ".", each label starting and ending with a letter or digit')
        return ['%s %r is not a DNS name: %s.' % (field, value, why)]
    return []


def site_name_errors(site_name):
    """Why spec.siteName cannot be a site directory of a bench; [] when it can."""
    errors = dns_name_errors('spec.siteName', site_name)
    if site_name in RESERVED_SITE_NAMES:
        errors.append('spec.siteName %r is the bench\'s own entry sites/%s (%s are kept there); choose another '
                      'siteName.' % (site_name, site_name, ', '.join(RESERVED_SITE_NAMES)))
    if isinstance(site_name, str) and len(site_name) > MAX_SITE_NAME_LENGTH:
        errors.append('spec.siteName has %d characters, at most %d fit: Frappe names its backups %s<site with dots '
                      'as _>%s, and a file name has at most %d bytes. Choose a shorter siteName.'
                      % (len(site_name), MAX_SITE_NAME_LENGTH, BACKUP_FILE_PREFIX, BACKUP_FILE_SUFFIX,
                         MAX_FILE_NAME_LENGTH))
    return errors


def reference_errors(site):
    """Why a field of the FrappeSite naming a Kubernetes object cannot be such a name; [] when all can."""
    errors = []
    for field, kind in REFERENCE_FIELDS:
        value = _get(site, field)
        if value is None or value == '':
            continue
        pattern, longest, words = RULES[kind]
        if not isinstance(value, str) or not re.match(pattern, value) or len(value) > longest:
            errors.append('%s %r must be %s.' % (field, value, words))
    ref = _get(site, 'spec.dbConfig.mariadbRef') or {}
    named = [e for e in errors if e.startswith('spec.dbConfig.mariadbRef.name ')]
    if not named and isinstance(ref, dict) and (ref.get('kind') or 'MariaDB') == 'MariaDB' and \
            isinstance(ref.get('name'), str) and ref['name'] and \
            not (re.match(DNS1123_LABEL, ref['name']) and len(ref['name']) <= 63):
        errors.append('spec.dbConfig.mariadbRef.name %r must be %s: the site reaches a MariaDB at its Service '
                      '<name>.<namespace>.svc.' % (ref['name'], RULES['label'][2]))
    return errors
