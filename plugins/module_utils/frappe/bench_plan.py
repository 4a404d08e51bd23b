# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile plan of one FrappeBench, from its object and the live state; docs in bench_plan.yml.

Every decision that depends on the live cluster and the ordered list of
templates to render are made here, in one place, with the names of names.py:
the role's tasks read the plan, and the templates render one object each from
it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re
import time

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.image_probe import (
    bench_image, check_due, check_token)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import find_site
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.site_migration import migrating_sites
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.upgrade import (
    render_sites, render_status, sites_of_bench, upgrade_plan, upgrade_settings)

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.bench_validation import (
    bench_real_ip, bench_spec_errors, require_bench_object)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.quantity import k8s_quantity
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.lease import lease_renewed
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import (
    JOB_HASH_LENGTH, WORKER_TYPES, bench_names, check_job_name, config_job_name)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.domain_detection import (
    detect_suffix, detection_reads, resolve_domain)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.autoscaling import declared_queues, worker_autoscaling
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.scaling_activity import keda_scaler_errors
from ansible_collections.vyogotech.frappe.plugins.module_utils.owners import without_owner
from ansible_collections.vyogotech.frappe.plugins.module_utils.prune import controlled_unwanted
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.job_resources import job_resources
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.component_resources import (
    WORKER_KEYS as WORKER_RESOURCE_KEYS, component_resources)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.component_scaling import (
    web_scaling, worker_budget)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_security import security_contexts
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.go_operator_fields import (
    bench_ignored_fields, current_spelling)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.pod_placement import (
    SITES_NODE_LABEL, SPREAD, placement, pod_config, spread_constraints, with_volume_node)
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.plan_input import check_plan_input

ACCESS_MODES = ('ReadWriteMany', 'ReadWriteOnce')
DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class'
# Delete: the sites volume goes with the bench; anything else keeps it.
SITES_DELETION_ANNOTATION = 'vyogo.tech/sites-deletion-policy'
REDIS_PORT = '6379'
# The API group and version of KEDA's ScaledObject and TriggerAuthentication.
KEDA_API = 'keda.sh/v1alpha1'
# Where KEDA runs and the name of its operator's leader-election Lease: the
# defaults of the bench role's frappe_bench_keda_namespace and
# frappe_bench_keda_lease (a unit test keeps them equal), for a caller that
# reads for benches without the role's settings (playbooks/site.yml).
KEDA_NAMESPACE = 'keda'
KEDA_LEASE = 'operator.keda.sh'
SOCKETIO_PORT = 9000
# The image's CMD, frappe_docker's start.sh: gunicorn on 8000, --timeout=120.
GUNICORN_PORT = 8000
GUNICORN_TIMEOUT = 120
# How long a stopping web pod keeps serving while the Service lets go of it.
ENDPOINT_DRAIN_SECONDS = 5
STOP_MARGIN_SECONDS = 10


def _or(value, default):
    """Jinja's default(x, true): a missing or empty value takes the default."""
    return value if value else default


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _components(plan, spec, bench_dir):
    """gunicorn, nginx, socketio and scheduler: what each runs, how many (component_scaling.py) and its size."""
    scaling = web_scaling(spec, plan['keda'] and plan['keda_operator_alive'] is not False)
    resources, live_replicas = plan['resources'], plan['live_replicas']
    components = [
        # The image's CMD (frappe_docker's start.sh: gunicorn on 8000). Its
        # command line sets no --graceful-timeout: gunicorn reads this one from
        # GUNICORN_CMD_ARGS, so a stopping pod finishes requests as long as
        # the command's --timeout lets them run.
        {'name': 'gunicorn', 'args': [], 'port': GUNICORN_PORT, 'port_name': 'http', 'needs_config': True,
         'env': [{'name': 'GUNICORN_CMD_ARGS', 'value': '--graceful-timeout=%d' % GUNICORN_TIMEOUT}],
         # The Service drops a terminating pod asynchronously: it keeps taking requests for a moment.
         'pre_stop': ['sleep', str(ENDPOINT_DRAIN_SECONDS)],
         'termination_grace': ENDPOINT_DRAIN_SECONDS + GUNICORN_TIMEOUT + STOP_MARGIN_SECONDS},
        # Debian's nginx of the image with the bench's own configuration
        # (nginx_config below), not the image's nginx-entrypoint.sh template.
        # SIGTERM stops nginx at once; quit (SIGQUIT) lets it finish the
        # requests it has: the preStop asks for that and waits until it exits.
        {'name': 'nginx', 'args': ['nginx', '-c', '%s/%s' % (NGINX_CONFIG_DIR, NGINX_MAIN_FILE)], 'port': NGINX_PORT,
         'port_name': 'http', 'needs_config': False, 'nginx_config': True,
         'pre_stop': ['sh', '-c', 'sleep %d; nginx -c %s/%s -s quit; while [ -e %s/nginx.pid ]; do sleep 1; done'
                      % (ENDPOINT_DRAIN_SECONDS, NGINX_CONFIG_DIR, NGINX_MAIN_FILE, NGINX_RUN_DIR)],
         'termination_grace': ENDPOINT_DRAIN_SECONDS + NGINX_PROXY_READ_TIMEOUT + STOP_MARGIN_SECONDS},
        {'name': 'socketio', 'args': ['node', '%s/apps/frappe/socketio.js' % bench_dir], 'port': SOCKETIO_PORT,
         'port_name': 'socketio', 'needs_config': True},
        # Exactly one scheduler: a second one would fire every scheduled job twice.
        {'name': 'scheduler', 'args': ['bench', 'schedule'], 'port': 0, 'recreate': True, 'needs_config': True},
    ]
    for component in components:
        name, settings = component['name'], scaling[component['name']]
        deployment = plan['names']['component'][name]
        replicas = settings['replicas']
        if settings['providerManaged'] and live_replicas.get(deployment) is not None:
            # The autoscaler owns the count once the Deployment exists: never written back.
            replicas = live_replicas[deployment]
        component.update({'replicas': replicas, 'scaling': settings, 'resources': resources[name],
                          'budget': settings['budget']})
        for warning in settings['warnings']:
            plan['warnings'].append('FrappeBench %s/%s: %s' % (plan['namespace'], plan['name'], warning))
    return components


def _selector(plan, component):
    return {'vyogo.tech/bench': plan['name'], 'app.kubernetes.io/component': component}


def _pods(plan, spec, settings):
    """Where every pod of the bench runs (pod_placement.py) and what a drain may take of each process.

    plan['pods']: labels (spec.podConfig's, on every pod) and placement (nodeSelector, affinity, tolerations) of a
    pod that does not mount the sites volume (Redis, the image probe), sites_labels and sites_placement of one that
    does. Gunicorn, nginx and the
    workers spread over nodes and zones when the volume is ReadWriteMany.
    """
    reserved = list(plan['labels']) + ['app.kubernetes.io/component', SITES_NODE_LABEL]
    config = pod_config(spec, reserved)
    sites_affinity, sites_labels = config['affinity'], dict(config['labels'])
    if plan['sites']['access_mode'] == 'ReadWriteOnce':
        sites_affinity = with_volume_node(sites_affinity, SITES_NODE_LABEL, plan['names']['sites'])
        sites_labels[SITES_NODE_LABEL] = plan['names']['sites']
    plan['pods'] = {'labels': config['labels'], 'placement': placement(config, config['affinity']),
                    'sites_labels': sites_labels, 'sites_placement': placement(config, sites_affinity)}
    spread = plan['sites']['access_mode'] == 'ReadWriteMany'
    for component in plan['components']:
        component['spread'] = spread_constraints(_selector(plan, component['name'])) \
            if spread and component['name'] in SPREAD else []
    for worker_type, worker in plan['workers'].items():
        worker.update({'resources': plan['resources'][WORKER_RESOURCE_KEYS[worker_type]],
                       'budget': worker_budget(worker),
                       'spread': spread_constraints(_selector(plan, 'worker-' + worker_type)) if spread else []})


# The nginx of the bench runs Debian's nginx (frappe_docker installs the
# package, images/production/Containerfile) with this collection's own
# configuration, mounted from a ConfigMap: nginx.conf (the process) includes
# frappe.conf (the server, following frappe_docker's
# resources/core/nginx/nginx-template.conf directive by directive). Nothing of
# it depends on which template or entrypoint an image date ships.
NGINX_PORT = 8080
DNS_NAME = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
NGINX_CONFIG_DIR = '/etc/nginx/frappe'
NGINX_MAIN_FILE = 'nginx.conf'
NGINX_SERVER_FILE = 'frappe.conf'
# An emptyDir for the pid file and the temporary files: writable by the frappe
# uid whatever the image's ownership of /run and /var/lib/nginx.
NGINX_RUN_DIR = '/tmp/nginx'
# frappe_docker's nginx-entrypoint.sh defaults of PROXY_READ_TIMEOUT and CLIENT_MAX_BODY_SIZE.
NGINX_PROXY_READ_TIMEOUT = 120
NGINX_CLIENT_MAX_BODY_SIZE = '50m'


def _routes(plan, bench, live):
    """The sites of this bench: domain -> siteName of those served on another domain than their name, and every host.

    Frappe serves the site directory named by X-Frappe-Site-Name, which nginx
    sets from $host; such a domain would reach no site without the map. A
    domain two sites claim goes to the older one (the younger is refused).
    `hosts` holds every site name and domain: the names socket.io calls back.
    """
    sites = sites_of_bench(plan['name'], plan['namespace'], live.get('sites'))
    sites.sort(key=lambda s: (s['metadata'].get('creationTimestamp') or '', s['metadata']['name']))
    routes = {}
    hosts = set()
    for site in sites:
        # This reconcile's detection: the one the sites read once it is in the status.
        domain, _source = resolve_domain(site, bench, plan['domain_detection'])
        # Both go into nginx's configuration: only DNS names (the FrappeSite CRD's
        # pattern admits no other; render mode skips a site it would refuse).
        if not (DNS_NAME.match(domain) and DNS_NAME.match(site['spec']['siteName'])):
            continue
        hosts.update((domain, site['spec']['siteName']))
        if domain != site['spec']['siteName'] and domain not in routes:
            routes[domain] = site['spec']['siteName']
    return {'map': routes, 'hosts': sorted(hosts)}


def _nginx(plan, spec, live):
    """What the nginx configuration and the socket.io pods need (templates components/nginx-*.j2)."""
    names = plan['names']
    real_ip = bench_real_ip(spec)
    service = [s for s in live.get('services') or [] if _mapping(s.get('metadata')).get('name') ==
               names['component']['nginx']]
    cluster_ip = _mapping((service[0] if service else {}).get('spec')).get('clusterIP') or ''
    return {
        'config_map': names['nginx_config'],
        'config_dir': NGINX_CONFIG_DIR,
        'main_file': NGINX_MAIN_FILE,
        'server_file': NGINX_SERVER_FILE,
        'run_dir': NGINX_RUN_DIR,
        'port': NGINX_PORT,
        'backend': '%s:%d' % (names['component']['gunicorn'], GUNICORN_PORT),
        'socketio': '%s:%d' % (names['component']['socketio'], SOCKETIO_PORT),
        'proxy_read_timeout': NGINX_PROXY_READ_TIMEOUT,
        'client_max_body_size': NGINX_CLIENT_MAX_BODY_SIZE,
        'routes': plan['routes']['map'],
        'real_ip': real_ip,
        # socket.io calls back <Origin>/api/method/frappe.realtime.get_user_info
        # (frappe realtime/middlewares/authenticate.js, realtime/utils.js
        # get_url); nginx sets Origin to http://<host>:<port>, and these
        # aliases send every such host to the nginx Service. Its address is
        # only known once it exists: the first reconcile creates it, and its
        # creation starts the next one (watchDependentResources), which adds them.
        'host_aliases': [{'ip': cluster_ip, 'hostnames': plan['routes']['hosts']}]
        if cluster_ip and cluster_ip != 'None' and plan['routes']['hosts'] else [],
    }


def _bench_id(bench):
    """spec.benchId, else the one the bench already uses, else <namespace>.<name> (a namespace holds no dot)."""
    meta, spec, status = bench['metadata'], bench['spec'], _mapping(bench.get('status'))
    recorded = _or(status.get('benchId'), '')
    default = meta['name'] if status.get('phase') else '%s.%s' % (meta['namespace'], meta['name'])
    return _or(spec.get('benchId'), _or(recorded, default)), recorded


def _storage(plan, bench, live, settings, apply):
    """Class, access mode and size of the sites volume; an existing claim keeps what it is."""
    spec, name, namespace = bench['spec'], plan['name'], plan['namespace']
    claim = (live.get('sites_claim') or [None])[0]
    classes = live.get('storage_classes') or []
    wanted = _or(spec.get('storageClassName'), '')
    found = None
    for sc in classes:
        annotations = _or(sc['metadata'].get('annotations'), {})
        if (wanted and sc['metadata']['name'] == wanted) or (
                not wanted and annotations.get(DEFAULT_CLASS_ANNOTATION, '') == 'true'):
            found = sc
            break
    if apply and not claim and wanted and found is None:
        plan['errors'].append(
            'spec.storageClassName: StorageClass %s does not exist. Pick one of %s (kubectl get storageclass), '
            'or remove the field to use the cluster default.'
            % (wanted, _or(', '.join(sc['metadata']['name'] for sc in classes), '(none)')))
    override = _or(_mapping(bench['metadata'].get('annotations')).get(settings['access_mode_annotation']), '')
    if override and override not in ACCESS_MODES:
        plan['errors'].append('metadata.annotations[%s] must be ReadWriteMany or ReadWriteOnce.'
                              % settings['access_mode_annotation'])
    if override in ACCESS_MODES:
        mode = override
    elif not apply or re.search('|'.join(settings['rwx_provisioner_patterns']), (found or {}).get('provisioner', '')):
        mode = 'ReadWriteMany'
    else:
        mode = 'ReadWriteOnce'
    wanted_size = str(_or(spec.get('storageSize'), settings['default_storage_size']))
    if claim:
        live_spec = claim.get('spec') or {}
        mode = live_spec['accessModes'][0]
        class_name = _or(live_spec.get('storageClassName'), '') if wanted else ''
        live_size = (live_spec.get('resources') or {}).get('requests', {}).get('storage', '0')
        size = live_size if k8s_quantity(live_size) >= k8s_quantity(wanted_size, 'spec.storageSize') else wanted_size
        if wanted and wanted != live_spec.get('storageClassName', ''):
            plan['warnings'].append(
                'FrappeBench %s/%s: spec.storageClassName is %s, but the sites volume %s already exists with class %s; '
                'the class of a claim cannot change, so it is kept. Move the data to a new claim to change it.'
                % (namespace, name, wanted, plan['names']['sites'], _or(live_spec.get('storageClassName'), '(none)')))
    else:
        class_name, size = wanted, wanted_size
        if apply and mode == 'ReadWriteOnce':
            plan['warnings'].append(
                'FrappeBench %s/%s: StorageClass %s (provisioner %s) does not look ReadWriteMany-capable, so the sites '
                'volume is ReadWriteOnce and every bench pod must run on the node that mounts it. Use an RWX class (NFS, '
                'CephFS, EFS, Azure Files, Filestore, Longhorn) in spec.storageClassName, or set the annotation %s: '
                'ReadWriteMany if the class supports it.'
                % (namespace, name, (found or {}).get('metadata', {}).get('name', '(cluster default)'),
                   (found or {}).get('provisioner', 'unknown'), settings['access_mode_annotation']))
    # Owned by the bench only when asked: by default deleting the bench keeps the data.
    policy = _mapping(bench['metadata'].get('annotations')).get(SITES_DELETION_ANNOTATION) or 'Retain'
    return {'exists': bool(claim), 'access_mode': mode, 'class_name': class_name, 'size': size,
            'owned': policy == 'Delete'}


# PodSecurity's enforce label on the namespace: "restricted" forbids a root
# container, so the opt-in chown of the sites volume cannot run there.
POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce'
VOLUME_FIX_FIELD = 'spec.sitesVolume.fixPermissions'
OWN_THE_EXPORT = (
    'Make the storage hand the volume to uid %(uid)s: an NFS export owned by %(uid)s:%(uid)s (or all_squash with '
    'anonuid=%(uid)s,anongid=%(uid)s), an EFS access point with posixUser and creationInfo uid/gid %(uid)s, a CSI '
    'driver that honours fsGroup (fsGroupPolicy File)')


def _volume_fix(plan, bench, live, settings, apply, check_script):
    """Whether a root init container chowns the sites volume (opt-in), and what to tell a user whose volume is not writable."""
    uid = settings['run_as_user']
    fix = _mapping(bench['spec'].get('sitesVolume')).get('fixPermissions', False)
    if not isinstance(fix, bool):
        raise InvalidInput('%s must be true or false, got %r' % (VOLUME_FIX_FIELD, fix))
    own = OWN_THE_EXPORT % {'uid': uid}
    if fix:
        namespace = (live.get('namespace') or [{}])[0]
        level = _mapping(_mapping(namespace.get('metadata')).get('labels')).get(POD_SECURITY_ENFORCE_LABEL, '')
        if apply and level == 'restricted':
            raise InvalidInput(
                '%s needs a root init container that chowns the sites volume to uid %s, and namespace %s enforces '
                'PodSecurity restricted (label %s=restricted), which admits no root container. %s, then remove '
                '%s; or run the bench in a namespace that enforces baseline. Nothing was changed.'
                % (VOLUME_FIX_FIELD, uid, plan['namespace'], POD_SECURITY_ENFORCE_LABEL, own, VOLUME_FIX_FIELD))
        remedy = ('%s is set, so a root init container chowned it, yet it is still not writable: the storage refuses '
                  'root (NFS root_squash). %s.' % (VOLUME_FIX_FIELD, own))
    else:
        remedy = ('Its storage ignores fsGroup (NFS and many ReadWriteMany provisioners do). %s; or set %s: true on '
                  'the FrappeBench, which chowns it in a root init container (not where the namespace enforces '
                  'PodSecurity restricted).' % (own, VOLUME_FIX_FIELD))
    return {'fix_permissions': fix, 'remedy': remedy, 'uid': uid, 'check_script': check_script}


def _redis(plan, bench, live, settings, apply):
    spec, name, namespace = bench['spec'], plan['name'], plan['namespace']
    redis_config = _or(spec.get('redisConfig'), {})
    secret_ref = _or(redis_config.get('connectionSecretRef'), {})
    secret = _or(secret_ref.get('name'), '')
    if secret and _or(secret_ref.get('namespace'), namespace) != namespace:
        plan['errors'].append(
            'spec.redisConfig.connectionSecretRef.namespace must be the bench namespace (%s): KEDA '
            'TriggerAuthentications and pod environment can only read Secrets of their own namespace. Copy the Secret '
            'into %s or drop the namespace field.' % (namespace, namespace))
    secret_version = ''
    if secret and apply:
        found = live.get('redis_secret') or []
        keys = _or((found[0] if found else {}).get('data'), {})
        if not found or 'host' not in keys or 'port' not in keys:
            plan['errors'].append(
                'spec.redisConfig.connectionSecretRef names Secret %s/%s, which %s: create it with keys host and port '
                '(and password, username when the Redis needs them).'
                % (namespace, secret, 'does not exist' if not found else 'lacks the key host or port'))
        if found:
            secret_version = found[0]['metadata'].get('resourceVersion', '')
    queue = [s for s in live.get('statefulsets') or [] if s['metadata']['name'] == plan['names']['redis_queue']]
    # A queue Redis from before queues were persistent keeps its jobs in memory:
    # any change to it restarts it and loses them, so it stays as it is (no
    # volume, no password) until its owner moves it (docs/FRAPPEBENCH.md).
    in_memory = bool(not secret and queue and not (queue[0].get('spec') or {}).get('volumeClaimTemplates'))
    queue_storage = str(_or(redis_config.get('storageSize'), settings['default_queue_storage_size']))
    if queue and not in_memory and not secret:
        template = (queue[0]['spec']['volumeClaimTemplates'][0].get('spec') or {})
        live_storage = str(((template.get('resources') or {}).get('requests') or {}).get('storage', ''))
        if live_storage and k8s_quantity(live_storage) != k8s_quantity(queue_storage, 'spec.redisConfig.storageSize'):
            # Kubernetes refuses any change to a StatefulSet's volumeClaimTemplates.
            plan['errors'].append(
                'spec.redisConfig.storageSize cannot change from %s to %s on the existing queue Redis %s: the volume '
                'size of a StatefulSet is fixed when it is created. Set it back to %s. To grow the volume, resize the '
                'claim %s (kubectl patch pvc, on a StorageClass with allowVolumeExpansion), then run '
                'kubectl delete statefulset --cascade=orphan -n %s %s so the next reconcile recreates it with the new '
                'size (the pod and its queued jobs stay). Nothing was changed.'
                % (live_storage, queue_storage, plan['names']['redis_queue'], live_storage,
                   plan['names']['redis_queue_claim'], namespace, plan['names']['redis_queue']))
    plan['redis'] = {
        'secret': secret,
        'secret_version': secret_version,
        'queue_address': '%s.%s.svc.%s:%s' % (plan['names']['redis_queue'], namespace, settings['cluster_domain'], REDIS_PORT),
        'queue_in_memory': in_memory,
        'password_secret': plan['names']['redis_password'],
        'image': _or(redis_config.get('image'), settings['default_redis_image']),
        'servers': [] if secret else [
            {'role': 'cache', 'storage': '', 'keep_live': False,
             'args': ['--save', '', '--appendonly', 'no', '--maxmemory',
                      str(k8s_quantity(_or(redis_config.get('maxMemory'), settings['default_cache_max_memory']),
                                       'spec.redisConfig.maxMemory')),
                      '--maxmemory-policy', 'allkeys-lru', '--requirepass', '$(REDIS_PASSWORD)']},
            {'role': 'queue', 'storage': queue_storage,
             'keep_live': in_memory,
             'args': ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
                      '--requirepass', '$(REDIS_PASSWORD)']}],
        # Where Frappe finds Redis and whether it needs the password; the
        # configuration Job's script builds the URLs.
        'endpoints': {} if secret else {
            'cache': {'host': plan['names']['redis_cache'], 'port': REDIS_PORT, 'auth': True},
            'queue': {'host': plan['names']['redis_queue'], 'port': REDIS_PORT, 'auth': not in_memory}},
    }


def _workers(plan, bench, live, settings, apply):
    # Asked of the API server in the read (k8s_multi_info api_groups, roles/frappe_bench/vars/main.yml).
    served = bool((live.get('api_groups') or {}).get(KEDA_API)) if apply else bool(settings['keda_available'])
    lease = (live.get('keda_lease') or [None])[0]
    alive = lease_renewed(lease or {}, grace_seconds=settings['keda_lease_grace_seconds']) if apply else None
    plan['keda'] = served
    plan['keda_operator_alive'] = alive
    # Workers at zero would never wake without the operator, or while it cannot
    # read their queue: they run static replicas until it is back (or reads it
    # again), then KEDA gets them again.
    plan['workers'] = worker_autoscaling(
        bench['spec'], keda_available=served and alive is not False, bench_id=plan['id'],
        scaler_errors=keda_scaler_errors(live.get('scaledobjects') or []))
    unscaled = [w for w in plan['workers'].values() if w['enabled'] and not w['kedaManaged']]
    warnings = []
    if unscaled:
        why = ('the KEDA operator is not running: its Lease %s/%s was not renewed in time'
               % (settings['keda_namespace'], settings['keda_lease'])
               if served and alive is False else 'the API group keda.sh is not served')
        warnings.append(
            'KEDA is not available (%s), so worker(s) %s run with static replicas (%s) instead of scaling to zero; '
            'install KEDA and reconcile again to hand them over'
            % (why, ', '.join(w['type'] for w in unscaled), ', '.join(str(w['staticReplicas']) for w in unscaled)))
    consumed = set(q for w in plan['workers'].values() for q in w['queues'])
    idle = sorted(q for q in declared_queues(bench['spec']) if q not in consumed)
    if idle:
        warnings.append('spec.queues declares %s, which no worker consumes: jobs enqueued there wait until a worker '
                        'lists it in its queues' % ', '.join(idle))
    # The filter words the missing KEDA once per worker; it is said once, above.
    for worker in plan['workers'].values():
        for warning in worker['warnings']:
            if not warning.startswith('KEDA is not available') and warning not in warnings:
                warnings.append(warning)
    if warnings:
        plan['warnings'].append('FrappeBench %s/%s: %s' % (plan['namespace'], plan['name'], '; '.join(warnings)))


def _config(plan, settings, config_script, live, assets_script=''):
    # A Job's pod template cannot change: new resources are a new Job.
    resources = job_resources(plan['spec'], 'benchInit')
    inputs = {
        'bench_id': plan['id'],
        'redis': plan['redis']['endpoints'],
        'secret': plan['redis']['secret'],
        'secret_version': plan['redis']['secret_version'],
        'image': plan['image'],
        'socketio_port': SOCKETIO_PORT,
        # Frappe's `workers` (spec.queues): a changed queue is a new Job, and a
        # new hash rolls every process that caches get_queues_timeout.
        'workers': declared_queues(plan['spec']),
        'volume': plan['volume'],
        'script': config_script,
        'resources': resources,
        'assets_script': assets_script,
    }
    # The same bytes as Ansible's to_json | hash('sha256'): names stay what they were.
    digest = hashlib.sha256(json.dumps(inputs).encode('utf-8')).hexdigest()[:JOB_HASH_LENGTH]
    job = config_job_name(plan['name'], digest)
    done = any(
        c.get('type') == 'Complete' and c.get('status') == 'True'
        for j in live.get('jobs') or [] if j['metadata']['name'] == job
        for c in (j.get('status') or {}).get('conditions') or [])
    plan['config'] = {'script': config_script, 'assets_script': assets_script, 'hash': digest, 'job': job,
                      'done': done, 'resources': resources, 'workers': inputs['workers']}


def _check(plan, probe, script, now):
    """The periodic look at the image (image_probe.check_due) when the last one, `probe`, is
    spec.upgrade.checkInterval old: {'job', 'script'}, else None. A tag such as version-15 moves, and the pods run
    a pinned digest."""
    interval = upgrade_settings(plan['spec'])['check_interval']
    now = time.time() if now is None else now
    if not check_due(probe, interval, now):
        return None
    return {'job': check_job_name(plan['name'], check_token(probe, interval, now)), 'script': script}


def _is_upgrade_job(names, job):
    name = job['metadata']['name']
    return name.startswith((names['migrate_prefix'], names['upgrade_prefix'], names['rollback_prefix']))


# The stages of _render_plan, in the order they are applied.
STAGES = ('storage', 'redis', 'config', 'upgrade', 'processes', 'keda', 'autoscaling')


def _render_plan(plan):
    """The objects to apply, in order: stage, kind, name, and the template that renders it with its variables."""
    names = plan['names']
    steps = []

    def add(stage, kind, name, template, **variables):
        variables['name'] = name
        steps.append({'stage': stage, 'kind': kind, 'name': name, 'template': template, 'vars': variables})

    add('storage', 'PersistentVolumeClaim', names['sites'], 'storage/sites-pvc.yaml.j2')
    for redis in plan['redis']['servers']:
        name = names['redis_' + redis['role']]
        add('redis', 'Service', name, 'redis/service.yaml.j2', redis=redis)
        add('redis', 'NetworkPolicy', name, 'redis/networkpolicy.yaml.j2', redis=redis)
        if not redis['keep_live']:
            add('redis', 'StatefulSet', name, 'redis/statefulset.yaml.j2', redis=redis)
    add('config', 'Job', plan['config']['job'], 'config/job.yaml.j2')
    add('config', 'ConfigMap', names['nginx_config'], 'components/nginx-configmap.yaml.j2')
    if plan['check']:
        add('config', 'Job', plan['check']['job'], 'config/check-job.yaml.j2')
    for migration in plan['upgrade']['jobs']:
        add('upgrade', 'Job', migration['job'], 'upgrade/migrate-job.yaml.j2', migration=migration)
    for restore in plan['upgrade'].get('rollbacks') or []:
        add('upgrade', 'Job', restore['rollbackJob'], 'upgrade/rollback-job.yaml.j2', migration=restore)
    if plan['upgrade'].get('finish'):
        add('upgrade', 'Job', plan['upgrade']['finish']['job'], 'upgrade/finish-job.yaml.j2',
            finish=plan['upgrade']['finish'])
    for component in plan['components']:
        name = names['component'][component['name']]
        if component['port']:
            add('processes', 'Service', name, 'components/service.yaml.j2', c=component)
        add('processes', 'Deployment', name, 'components/deployment.yaml.j2', c=component)
    for worker_type, worker in plan['workers'].items():
        add('processes', 'Deployment', names['worker'][worker_type], 'workers/deployment.yaml.j2', worker=worker)
    if plan['needs_trigger_auth']:
        add('keda', 'TriggerAuthentication', names['trigger_auth'], 'workers/triggerauthentication.yaml.j2')
    for worker_type, worker in plan['workers'].items():
        if worker['kedaManaged']:
            add('keda', 'ScaledObject', names['worker'][worker_type], 'workers/scaledobject.yaml.j2', worker=worker)
    # The web tier's autoscalers own the replicas of their Deployment (component_scaling.py).
    for component in plan['components']:
        name, scaling = names['component'][component['name']], component['scaling']
        if scaling['providerManaged'] and scaling['provider'] == 'hpa':
            add('autoscaling', 'HorizontalPodAutoscaler', name, 'components/hpa.yaml.j2', c=component)
        elif scaling['providerManaged']:
            add('autoscaling', 'ScaledObject', name, 'components/scaledobject.yaml.j2', c=component)
    # A drain takes one pod of a process at a time, from two replicas on.
    budgets = [(names['component'][c['name']], c['name']) for c in plan['components'] if c['budget']]
    budgets += [(names['worker'][t], 'worker-' + t) for t, w in plan['workers'].items() if w['budget']]
    for name, component in budgets:
        add('autoscaling', 'PodDisruptionBudget', name, 'components/pdb.yaml.j2', component=component)
    return steps


# What a reconcile may delete, in this order (KEDA lets go of a worker before
# anything else changes): the key of the live read, apiVersion and kind.
# PersistentVolumeClaims and Secrets are never among them: data and generated
# passwords outlive any change of plan.
PRUNABLE = (
    ('scaledobjects', KEDA_API, 'ScaledObject'),
    ('autoscalers', 'autoscaling/v2', 'HorizontalPodAutoscaler'),
    ('triggerauthentications', KEDA_API, 'TriggerAuthentication'),
    ('disruption_budgets', 'policy/v1', 'PodDisruptionBudget'),
    ('deployments', 'apps/v1', 'Deployment'),
    ('statefulsets', 'apps/v1', 'StatefulSet'),
    ('services', 'v1', 'Service'),
    ('networkpolicies', 'networking.k8s.io/v1', 'NetworkPolicy'),
    ('jobs', 'batch/v1', 'Job'),
    ('configmaps', 'v1', 'ConfigMap'),
)


def _deletions(plan, live, uid):
    """What this bench controls (its UID in the controller owner reference) that the plan no longer contains."""
    wanted = set((step['kind'], step['name']) for step in plan['render'])
    # A queue Redis that keeps its jobs in memory is kept as it is, not applied.
    wanted.update(('StatefulSet', plan['names']['redis_' + r['role']]) for r in plan['redis']['servers'] if r['keep_live'])
    return controlled_unwanted(live, PRUNABLE, wanted, uid)


def bench_plan(bench, live=None, settings=None, mode='apply', config_script='', volume_check_script='',
               assets_script='', migrate_script='', finish_script='', check_script='', rollback_script='', now=None):
    """The whole reconcile plan of one bench; see bench_plan.yml."""
    check_plan_input('bench_plan', 'FrappeBench', bench, mode, settings, 'frappe_bench_settings')
    live = live or {}
    apply = mode == 'apply'
    # The Go operator's older spellings, read as the fields they stand for, and what is not done here
    # (go_operator_fields.py).
    spec, spelling_errors = current_spelling(bench['spec'])
    bench = dict(bench, spec=spec)
    meta = bench['metadata']
    name, namespace = meta['name'], meta['namespace']
    plan = {'name': name, 'namespace': namespace, 'spec': spec, 'names': bench_names(name), 'errors': [], 'warnings': [],
            'upgrade_scripts': {'migrate': migrate_script, 'finish': finish_script, 'check': check_script,
                                'rollback': rollback_script}}
    spec_errors = spelling_errors + bench_spec_errors(bench)
    if spec_errors:
        plan['errors'].append('FrappeBench %s/%s cannot be reconciled: %s. Nothing was changed.'
                              % (namespace, name, '; '.join(spec_errors)))
        return plan
    if apply and not meta.get('uid'):
        plan['errors'].append('In apply mode the role needs the live FrappeBench (metadata.uid is missing); apply the '
                              'manifest first or use playbooks/site.yml, which does.')
        return plan
    bench_id, recorded = _bench_id(bench)
    plan.update({'id': bench_id, 'recorded_id': recorded})
    if recorded not in ('', bench_id):
        plan['errors'].append(
            'spec.benchId cannot change from %s to %s on a running bench: RQ names its queues after it, so the jobs '
            'queued under rq:queue:%s:* would never run, and the workers would only wait on the new keys. Set '
            'spec.benchId back to %s. Nothing was changed.' % (recorded, bench_id, recorded, recorded))
        return plan
    image_config = _or(spec.get('imageConfig'), {})
    plan.update({
        'labels': {
            'app.kubernetes.io/name': 'frappe',
            'app.kubernetes.io/instance': name,
            'app.kubernetes.io/part-of': 'frappe',
            'app.kubernetes.io/managed-by': settings['managed_by'],
            'vyogo.tech/bench': name,
        },
        'image': '%s:%s' % (_or(image_config.get('repository'), settings['default_image_repository']),
                            _or(image_config.get('tag'), spec.get('frappeVersion'))),
        'pull_policy': _or(image_config.get('pullPolicy'), 'IfNotPresent'),
        'pull_secrets': _or(image_config.get('pullSecrets'), []),
        # Every container of the bench has requests (component_resources.py); an upgrade's Jobs are sized as
        # jobResources.migration (job_resources.py).
        'resources': component_resources(spec),
        'migration_resources': job_resources(spec, 'migration'),
        # PodSecurity restricted with spec.security on top (pod_security.py): the Frappe pods, and Redis with its
        # image's uid.
        'security': security_contexts(spec, int(settings['run_as_user'])),
        'redis_security': security_contexts(spec, int(settings['redis_uid'])),
        # A process an autoscaler owns (a KEDA worker, an autoscaled gunicorn or nginx) keeps the replica count it
        # has now: writing the minimum back on every reconcile would fight the autoscaler.
        'live_replicas': dict((d['metadata']['name'], (d.get('spec') or {}).get('replicas'))
                              for d in live.get('deployments') or []),
        'owner_references': [] if not apply else [{
            'apiVersion': settings['api_version'], 'kind': settings['kind'], 'name': name, 'uid': meta.get('uid'),
            'controller': True, 'blockOwnerDeletion': True}],
    })
    try:
        _workers(plan, bench, live, settings, apply)
        _redis(plan, bench, live, settings, apply)
        plan['components'] = _components(plan, spec, settings['bench_dir'])
        # Recorded in the status (domainDetection) for the sites of the bench.
        plan['domain_detection'] = detect_suffix(bench, live)
        plan['routes'] = _routes(plan, bench, live)
        plan['nginx'] = _nginx(plan, spec, live)
        socketio = [c for c in plan['components'] if c['name'] == 'socketio'][0]
        socketio['host_aliases'] = plan['nginx']['host_aliases']
        plan['volume'] = _volume_fix(plan, bench, live, settings, apply, volume_check_script)
        _config(plan, settings, config_script, live, assets_script)
        # The configuration Job is the probe of the image (image_probe.py); the processes move to the digest it
        # ran on once every site is migrated for the versions it found (upgrade.py).
        status, sites = _mapping(bench.get('status')), live.get('sites')
        if not apply and live.get('render_upgrade'):
            # Render mode told what the change is (-e frappe_render_upgrade): the Jobs that upgrade would run.
            status = render_status(status, live['render_upgrade'], plan['image'])
            sites = render_sites(name, namespace, sites)
        stored = status.get('imageProbe')
        plan['image_probe'], _pinned = bench_image(plan['image'], plan['config']['job'], live.get('config_pods'), stored)
        check = _check(plan, plan['image_probe'], check_script, now)
        if check:
            # What the look found, once its pod has said.
            plan['image_probe'], _pinned = bench_image(plan['image'], plan['config']['job'], live.get('config_pods'),
                                                       stored, check['job'])
        if plan['image_probe'] is None and plan['config']['done']:
            # Completed, but its pod is gone before anyone read it: the image as written, versions unknown.
            plan['image_probe'] = {'reference': plan['image'], 'digest': '', 'versions': {}, 'job': plan['config']['job']}
        # Looked at again while the stored look is due (its pod reports in a later reconcile).
        plan['check'] = check if apply and plan['config']['done'] else None
        # The sites of the bench a SiteMigration migrates now: the workers stop for them too, and no upgrade
        # migrate starts meanwhile (site_migration.py).
        mine = sites_of_bench(name, namespace, live.get('sites'))
        migrating = [s for s in migrating_sites(live.get('site_migrations')) if find_site(mine, s)] if apply else []
        plan['upgrade'] = upgrade_plan(
            name, namespace, spec, status, plan['image'], plan['image_probe'],
            sites, [j for j in live.get('jobs') or [] if _is_upgrade_job(plan['names'], j)],
            live.get('upgrade_pods'), live.get('deployments'), live.get('worker_pods'), render=not apply,
            site_migrations=migrating)
        plan['run_image'] = plan['upgrade']['run_image']
        plan['sites'] = _storage(plan, bench, live, settings, apply)
        _pods(plan, spec, settings)
    except InvalidInput as exc:
        plan['errors'].append(str(exc))
        return plan
    ignored = bench_ignored_fields(spec)
    if ignored:
        plan['warnings'].insert(0, 'FrappeBench %s/%s sets fields this collection accepts but ignores: %s'
                                % (namespace, name, '; '.join(ignored)))
    # Redis credentials reach KEDA only through a TriggerAuthentication: the
    # external Redis Secret, or the password of the in-cluster queue Redis.
    keda_workers = [w for w in plan['workers'].values() if w['kedaManaged']]
    queue_auth = bool(plan['redis']['secret']) or plan['redis']['endpoints'].get('queue', {}).get('auth', False)
    plan['needs_trigger_auth'] = bool(keda_workers) and queue_auth
    plan['render'] = _render_plan(plan)
    # What a reconcile applies now: the processes and what scales them read the configuration the Job writes, so
    # they go once the Job of these inputs has completed.
    plan['apply_stages'] = list(STAGES if plan['config']['done'] else STAGES[:STAGES.index('config') + 1])
    plan['delete'] = _deletions(plan, live, meta.get('uid')) if apply else []
    # A kept sites volume is nobody's: the Ansible Operator SDK's proxy puts a
    # reference to the bench on it when it is created, and a reconcile stopped
    # before that reference was taken off leaves it (found here the next time).
    plan['owner_fixes'] = [] if not apply or plan['sites']['owned'] else [
        fix for fix in [without_owner(c, meta.get('uid')) for c in live.get('sites_claim') or []] if fix]
    return plan


def reconcile_reads(bench, settings):
    """bench_reads of the object a reconcile was given, refused with a message first when it is not a FrappeBench
    (the role's read, before its plan)."""
    require_bench_object(bench)
    return bench_reads(bench, settings)


def bench_reads(bench, settings):
    """What a reconcile of `bench` reads, in one k8s_multi_info run: a key per read.

    What the bench owns (by the label every object of it carries), the sites
    of its namespace (nginx maps the domains of those served on another name),
    its sites claim and Redis password Secret by name, the StorageClasses,
    KEDA's objects and its operator's leader Lease (served CRDs do not mean a
    running operator; the Lease does), an external Redis connection Secret,
    the namespace (only for a root chown of the volume: the plan refuses it
    where PodSecurity restricted is enforced) and what the domain of the sites
    is detected from. settings: keda_namespace, keda_lease (empty: KEDA's own).
    """
    meta, spec = bench['metadata'], _mapping(bench.get('spec'))
    name, namespace = meta['name'], meta['namespace']
    names = bench_names(name)
    owned = ['vyogo.tech/bench=%s' % name]

    def read(key, api_version, kind, **how):
        return dict({'key': key, 'api_version': api_version, 'kind': kind, 'namespace': namespace}, **how)

    reads = [read(key, api_version, kind, label_selectors=owned) for key, api_version, kind in (
        ('deployments', 'apps/v1', 'Deployment'), ('statefulsets', 'apps/v1', 'StatefulSet'),
        ('jobs', 'batch/v1', 'Job'), ('services', 'v1', 'Service'),
        ('networkpolicies', 'networking.k8s.io/v1', 'NetworkPolicy'), ('configmaps', 'v1', 'ConfigMap'))]
    reads += [
        # The pods of the configuration Jobs and of the periodic looks: what image the bench runs (image_probe.py).
        read('config_pods', 'v1', 'Pod', label_selectors=owned + ['app.kubernetes.io/component in (config,probe)']),
        # The upgrade's Jobs' pods: what a migrate found, or why it failed (upgrade.py).
        read('upgrade_pods', 'v1', 'Pod', label_selectors=owned + ['app.kubernetes.io/component=upgrade']),
        read('sites', 'vyogo.tech/v1alpha1', 'FrappeSite'),
        # A SiteMigration of one of its sites stops its workers while it migrates (site_migration.py).
        read('site_migrations', 'vyogo.tech/v1alpha1', 'SiteMigration'),
        read('sites_claim', 'v1', 'PersistentVolumeClaim', name=names['sites']),
        read('redis_password', 'v1', 'Secret', name=names['redis_password']),
        {'key': 'storage_classes', 'api_version': 'storage.k8s.io/v1', 'kind': 'StorageClass'},
        read('scaledobjects', KEDA_API, 'ScaledObject', label_selectors=owned),
        read('triggerauthentications', KEDA_API, 'TriggerAuthentication', label_selectors=owned),
        # The web tier's own autoscalers and the disruption budgets (component_scaling.py).
        read('autoscalers', 'autoscaling/v2', 'HorizontalPodAutoscaler', label_selectors=owned),
        read('disruption_budgets', 'policy/v1', 'PodDisruptionBudget', label_selectors=owned),
        # KEDA's HorizontalPodAutoscalers carry the last backlog it saw (per replica).
        read('hpas', 'autoscaling/v2', 'HorizontalPodAutoscaler', label_selectors=['app.kubernetes.io/managed-by=keda-operator']),
        dict(read('keda_lease', 'coordination.k8s.io/v1', 'Lease', name=_or(settings.get('keda_lease'), KEDA_LEASE)),
             namespace=_or(settings.get('keda_namespace'), KEDA_NAMESPACE)),
    ]
    if _mapping(_mapping(bench.get('status')).get('upgrade')).get('phase') in ('Migrating', 'RollingBack'):
        # Sites migrate, or are restored, only once no worker runs (upgrade.py).
        reads.append(read('worker_pods', 'v1', 'Pod', label_selectors=owned + [
            'app.kubernetes.io/component in (%s)' % ','.join('worker-' + w for w in WORKER_TYPES)]))
    external = _mapping(_mapping(spec.get('redisConfig')).get('connectionSecretRef')).get('name')
    if external:
        reads.append(read('redis_secret', 'v1', 'Secret', name=external))
    if _mapping(spec.get('sitesVolume')).get('fixPermissions') is True:
        reads.append({'key': 'namespace', 'api_version': 'v1', 'kind': 'Namespace', 'name': namespace})
    return reads + detection_reads(bench)
