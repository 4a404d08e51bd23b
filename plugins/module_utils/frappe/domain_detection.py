# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain suffix of a bench's sites when neither the site nor the bench names one.

The bench reconcile reads the objects named by detection_reads and records what
detect_suffix finds in its status (status.domainDetection); every site of the
bench and the bench's nginx map then take the same suffix from there
(site_plan.resolve_domain).

Order, first match wins:
1. the Service named by spec.domainConfig.ingressControllerRef;
2. OpenShift's ingresses.config.openshift.io object cluster (spec.domain);
3. the ingress controller Services the Go frappe-operator looks at
   (controllers/domain_detector.go), in its order.
A Service counts only with a wildcard (*.<suffix>) in its
external-dns.alpha.kubernetes.io/hostname annotation. Unlike the Go operator,
neither a plain host name there nor a load balancer's host name is taken: the
Go operator keeps their last two labels, which gives elb.amazonaws.com-style
provider domains (or the parent of an apps domain) that serve no site.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

EXTERNAL_DNS_HOSTNAME = 'external-dns.alpha.kubernetes.io/hostname'
OPENSHIFT_INGRESS_API = 'config.openshift.io/v1'
# The Services the Go frappe-operator looks at, in its order: (namespace, name).
INGRESS_CONTROLLER_SERVICES = (
    ('ingress-nginx', 'ingress-nginx-controller'),
    ('ingress-nginx', 'nginx-ingress-controller'),
    ('traefik', 'traefik'),
    ('kube-system', 'traefik'),
)
DNS_NAME = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
MAX_DOMAIN = 253


def _mapping(value):
    return value if isinstance(value, dict) else {}


def domain_config(bench):
    return _mapping(_mapping(_mapping(bench).get('spec')).get('domainConfig'))


def auto_detect(bench):
    """Whether the sites of `bench` may get a detected suffix: on unless domainConfig.autoDetect is false
    (the CRD's default true, and the Go operator's nil is true)."""
    return domain_config(bench).get('autoDetect') is not False


def detection_wanted(bench):
    """Detection runs only where it can matter: no domainConfig.suffix and autoDetect not false."""
    return auto_detect(bench) and not domain_config(bench).get('suffix')


def detection_reads(bench):
    """The k8s_multi_info reads of detection, in its order (none when it is not wanted)."""
    if not detection_wanted(bench):
        return []
    reads = []
    ref = _mapping(domain_config(bench).get('ingressControllerRef'))
    if ref.get('name'):
        reads.append({'key': 'domain_ingress_controller', 'api_version': 'v1', 'kind': 'Service',
                      'namespace': ref.get('namespace') or _mapping(bench.get('metadata')).get('namespace', ''),
                      'name': ref['name'], 'optional': True})
    # Cluster-scoped: no namespace. A cluster without the group answers unserved.
    # Every read is optional: one the operator may not make finds nothing.
    reads.append({'key': 'domain_openshift_ingress', 'api_version': OPENSHIFT_INGRESS_API, 'kind': 'Ingress',
                  'name': 'cluster', 'optional': True})
    for index, (namespace, name) in enumerate(INGRESS_CONTROLLER_SERVICES):
        reads.append({'key': 'domain_service_%d' % index, 'api_version': 'v1', 'kind': 'Service',
                      'namespace': namespace, 'name': name, 'optional': True})
    return reads


def suffix_of(value, wildcard_only):
    """The DNS suffix in `value` ('*.apps.example.com' -> 'apps.example.com'), or ''.

    With wildcard_only (an external-dns hostname annotation, a comma-separated
    list) only a '*.' entry counts: a plain host name is one host, not a zone.
    """
    for entry in (value or '').split(','):
        entry = entry.strip().lower().rstrip('.')
        if entry.startswith('*.'):
            entry = entry[2:]
        elif wildcard_only:
            continue
        entry = entry.lstrip('.')
        if entry and len(entry) <= MAX_DOMAIN and DNS_NAME.match(entry):
            return entry
    return ''


def _service_suffix(live, key):
    for svc in live.get(key) or []:
        annotations = _mapping(_mapping(svc.get('metadata')).get('annotations'))
        suffix = suffix_of(annotations.get(EXTERNAL_DNS_HOSTNAME), wildcard_only=True)
        if suffix:
            return suffix
    return ''


def detect_suffix(bench, live):
    """{'suffix', 'source'} from the objects detection_reads read (live: key -> objects).

    source names the object the suffix came from, or says that nothing was
    detected (or that detection is off); suffix is '' then.
    """
    if not auto_detect(bench):
        return {'suffix': '', 'source': 'domainConfig.autoDetect is false'}
    if domain_config(bench).get('suffix'):
        return {'suffix': '', 'source': 'domainConfig.suffix is set'}
    live = live or {}
    for read in detection_reads(bench):
        key = read['key']
        if key == 'domain_openshift_ingress':
            for obj in live.get(key) or []:
                suffix = suffix_of(_mapping(obj.get('spec')).get('domain'), wildcard_only=False)
                if suffix:
                    return {'suffix': suffix, 'source': 'ingresses.config.openshift.io/cluster'}
            continue
        suffix = _service_suffix(live, key)
        if suffix:
            return {'suffix': suffix, 'source': 'Service %s/%s' % (read['namespace'], read['name'])}
    looked_at = ', '.join('Service %s/%s' % (r['namespace'], r['name']) if r['kind'] == 'Service'
                          else 'ingresses.config.openshift.io/cluster' for r in detection_reads(bench))
    return {'suffix': '', 'source': 'nothing detected (looked at %s)' % looked_at}


def resolve_domain(site, bench, detected=None):
    """(domain, source): spec.domain; else siteName + the bench's domainConfig.suffix; else siteName + the suffix
    detected for the bench (`detected`, else the one its status records) unless domainConfig.autoDetect is false;
    else siteName. The sources are named as the Go frappe-operator names them."""
    spec = site['spec']
    if spec.get('domain'):
        return spec['domain'], 'explicit'
    for suffix, source in ((domain_config(bench).get('suffix'), 'bench-suffix'),
                           (_detected_suffix(bench, detected), 'auto-detected')):
        if suffix:
            suffix = suffix.strip('.')
            if spec['siteName'] == suffix or spec['siteName'].endswith('.' + suffix):
                return spec['siteName'], source
            return '%s.%s' % (spec['siteName'], suffix), source
    return spec['siteName'], 'sitename-default'


def _detected_suffix(bench, detected=None):
    if not auto_detect(bench):
        return ''
    if detected is None:
        detected = _mapping(_mapping(_mapping(bench).get('status')).get('domainDetection'))
    return _mapping(detected).get('suffix') or ''
