"""What the bench's Frappe containers do, rendered without a cluster and run by the script harness.

Each container is compared with its production reference (docs/FRAPPEBENCH.md,
"Containers and their references"): frappe_docker's compose.yaml and image
entrypoint, the frappe/helm erpnext chart.
"""

import json
import shutil

import pytest
import redis

from manifests import bench
from podscripts import (GENERATIONS, IMAGE_BENCH_DIR, RUNTIMES, ImageBench, frappe_containers, nginx_get, pod_spec,
                        render, run_container, run_pod)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The example-like bench, with KEDA and without."""
    return {
        keda: render(tmp_path_factory.mktemp("keda-%s" % keda), bench(), keda=keda)
        for keda in (True, False)
    }


def by_name(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def config_job(objects):
    return next(o for o in objects if o["kind"] == "Job")


# -- 1. the configuration Job on a new, empty sites volume ---------------------

# The password Secret a reconcile generates once for the in-cluster Redis.
PASSWORD_SECRET = {"erp-redis": {"password": "gen3rated"}}


def test_config_job_configures_an_empty_sites_volume(rendered, tmp_path):
    image = ImageBench(tmp_path)
    job = config_job(rendered[True])
    run = run_container(image, job, pod_spec(job)["containers"][0], PASSWORD_SECRET)
    assert run.rc == 0, run.explain()
    assert (image.sites / "apps.txt").read_text().split() == ["erpnext", "frappe"]
    assert image.common_site_config == {
        "bench_id": "erp-ns.erp",  # <namespace>.<name>: two benches never share RQ keys
        "redis_cache": "redis://:gen3rated@erp-redis-cache:6379",
        "redis_queue": "redis://:gen3rated@erp-redis-queue:6379",
        "redis_socketio": "redis://:gen3rated@erp-redis-queue:6379",
        "socketio_port": 9000,
        "workers": {},  # the bench owns it: no queue declared, none there
    }


def test_config_job_reports_what_the_image_runs_as_its_last_words(rendered, tmp_path):
    """The configuration Job is the probe of its image (image_probe.py): it ends with `bench version
    --format json`, whose output the kubelet keeps as the termination message; parsed as the plan does,
    it gives the versions of the image's apps."""
    from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.image_probe import app_versions
    image = ImageBench(tmp_path)
    job = config_job(rendered[True])
    run = run_container(image, job, pod_spec(job)["containers"][0], PASSWORD_SECRET)
    assert run.rc == 0, run.explain()
    # What the script writes to /dev/termination-log it prints last (the harness has no such file).
    last_words = run.stdout[run.stdout.rfind("\n[") + 1:]  # all of it when nothing came before
    assert app_versions(last_words) == {"erpnext": "15.45.0", "frappe": "15.55.1"}, run.explain()
    # After the configuration, never before: a bench that cannot say its versions is configured all the same.
    assert [c["argv"][:1] for c in image.calls() if c["program"] == "bench"][-1] == ["version"], image.calls()


def test_config_job_needs_the_password_secret(rendered, tmp_path):
    from podscripts import StartError
    job = config_job(rendered[True])
    with pytest.raises(StartError, match="erp-redis has no key password"):
        run_container(ImageBench(tmp_path), job, pod_spec(job)["containers"][0], {})


def test_config_job_keeps_every_key_a_user_or_a_site_wrote(rendered, tmp_path):
    image = ImageBench(tmp_path)
    (image.sites / "common_site_config.json").write_text(json.dumps(
        {"db_host": "mariadb", "maintenance_mode": 0, "redis_cache": "redis://old:6379", "bench_id": "old"}))
    job = config_job(rendered[True])
    for attempt in range(2):  # a re-run (new inputs, a retried pod) changes nothing else
        run = run_container(image, job, pod_spec(job)["containers"][0], PASSWORD_SECRET)
        assert run.rc == 0, "run %d: %s" % (attempt, run.explain())
    config = image.common_site_config
    assert config["db_host"] == "mariadb" and config["maintenance_mode"] == 0
    assert config["redis_cache"] == "redis://:gen3rated@erp-redis-cache:6379" and config["bench_id"] == "erp-ns.erp"


# -- 2. args, not command: the image ENTRYPOINT runs, with frappe_docker's commands

EXPECTED_ARGS = {
    "erp-gunicorn": None,  # the image CMD
    # Debian's nginx on the bench's own configuration (not the image's envsubst template).
    "erp-nginx": ["nginx", "-c", "/etc/nginx/frappe/nginx.conf"],
    "erp-socketio": ["node", IMAGE_BENCH_DIR + "/apps/frappe/socketio.js"],
    "erp-scheduler": ["bench", "schedule"],
    "erp-worker-short": ["bench", "worker", "--queue", "short"],
    "erp-worker-long": ["bench", "worker", "--queue", "long"],
    "erp-worker-default": ["bench", "worker", "--queue", "default"],
}


@pytest.mark.parametrize("keda", [True, False])
def test_every_frappe_container_keeps_the_image_entrypoint(rendered, keda):
    containers = list(frappe_containers(rendered[keda]))
    assert len(containers) == 8  # 7 Deployments and the configuration Job
    for obj, container in containers:
        assert "command" not in container, obj["metadata"]["name"]
    for name, args in EXPECTED_ARGS.items():
        container = pod_spec(by_name(rendered[keda], "Deployment", name))["containers"][0]
        assert container.get("args") == args, name


def test_every_frappe_container_starts_with_the_assets_linked(rendered, tmp_path):
    """The image ENTRYPOINT links sites/assets; nginx serves them from there."""
    objects = rendered[True]
    image = ImageBench(tmp_path)
    job = config_job(objects)
    assert run_container(image, job, pod_spec(job)["containers"][0], PASSWORD_SECRET).rc == 0
    programs = {}
    for obj, container in frappe_containers(objects):
        (image.sites / "assets").unlink()
        run = run_container(image, obj, container, PASSWORD_SECRET)
        assert run.rc == 0, "%s: %s" % (obj["metadata"]["name"], run.explain())
        assert (image.sites / "assets").resolve() == (image.bench / "assets").resolve(), obj["metadata"]["name"]
        programs[obj["metadata"]["name"]] = [c["program"] for c in run.calls]
    assert programs["erp-gunicorn"] == ["start.sh"]
    assert programs["erp-nginx"] == ["nginx"]
    assert programs["erp-socketio"] == ["node"]
    # The worker got past Frappe's queue check (the stand-in's start_worker).
    assert programs["erp-worker-short"] == ["bench", "bench-worker"]


# -- 3. PodSecurity restricted without a runAsGroup that locks nginx out --------

@pytest.mark.parametrize("keda", [True, False])
def test_frappe_pods_are_restricted_and_keep_the_image_group(rendered, keda):
    for obj, container in frappe_containers(rendered[keda]):
        pod = pod_spec(obj)["securityContext"]
        # The frappe user's primary group comes from the image: 0 in current
        # images, whose nginx and bench directories are writable by group 0 only.
        assert "runAsGroup" not in pod, obj["metadata"]["name"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 1000
        assert pod["fsGroup"] == 1000  # the sites volume, writable through the supplemental group
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}


# -- 4. external Redis: URLs built in the Job's script ---------------------------

EXTERNAL = {"redisConfig": {"connectionSecretRef": {"name": "ext-redis"}}}


@pytest.fixture(scope="module")
def external_job(tmp_path_factory):
    return config_job(render(tmp_path_factory.mktemp("external"), bench(**EXTERNAL)))


@pytest.mark.parametrize("secret,url", [
    ({"host": "redis.example", "port": "6380"}, "redis://redis.example:6380"),
    ({"host": "redis.example", "port": "6380", "password": ""}, "redis://redis.example:6380"),
    ({"host": "r", "port": "6379", "password": "s3cret"}, "redis://:s3cret@r:6379"),
    ({"host": "r", "port": "6379", "password": "a/b#c?d%e@f:g h"}, "redis://:a%2Fb%23c%3Fd%25e%40f%3Ag%20h@r:6379"),
    ({"host": "r", "port": "6379", "username": "frappe", "password": "p@ss"}, "redis://frappe:p%40ss@r:6379"),
])
def test_external_redis_urls(external_job, tmp_path, secret, url):
    image = ImageBench(tmp_path)
    run = run_container(image, external_job, pod_spec(external_job)["containers"][0], {"ext-redis": secret})
    assert run.rc == 0, run.explain()
    config = image.common_site_config
    assert config["redis_cache"] == config["redis_queue"] == config["redis_socketio"] == url
    # What Frappe's Redis client (redis-py) makes of it: the Secret's values, unchanged.
    parsed = redis.connection.parse_url(url)
    assert parsed["host"] == secret["host"] and parsed["port"] == int(secret["port"])
    assert parsed.get("password") == (secret.get("password") or None)
    assert parsed.get("username") == (secret.get("username") or None)


def test_external_redis_without_host_does_not_start(external_job, tmp_path):
    from podscripts import StartError
    with pytest.raises(StartError, match="no key host"):
        run_container(ImageBench(tmp_path), external_job, pod_spec(external_job)["containers"][0],
                      {"ext-redis": {"port": "6379"}})


# -- 5. the grace period of each worker ------------------------------------------

def test_worker_grace_period_comes_from_its_block(tmp_path):
    objects = render(tmp_path, bench(workerAutoscalingConfig={"long": {"terminationGracePeriodSeconds": 7260}},
                                     workerAutoscaling={"short": {"terminationGracePeriodSeconds": 0}}))
    grace = {name: pod_spec(by_name(objects, "Deployment", name))["terminationGracePeriodSeconds"]
             for name in ("erp-worker-long", "erp-worker-short", "erp-worker-default")}
    assert grace == {"erp-worker-long": 7260, "erp-worker-short": 0, "erp-worker-default": 360}


# -- 7. the KEDA seed annotation --------------------------------------------------

def test_keda_managed_workers_carry_the_seed_annotation(rendered):
    def annotated(objects):
        return {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"
                and o["metadata"].get("annotations", {}).get("keda.sh/managed-by") == "vyogotech.frappe"}
    assert annotated(rendered[True]) == {"erp-worker-short", "erp-worker-long"}
    assert annotated(rendered[False]) == set()


# -- 9. the role refuses what admission would (render mode has no admission) --------

def test_render_refuses_a_bench_whose_names_would_not_fit(tmp_path):
    from podscripts import RenderError
    with pytest.raises(RenderError) as refused:
        render(tmp_path, bench(name="a" * 40, storageSize="0"))
    message = str(refused.value)
    assert "metadata.name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' has 40 characters, at most 39 fit" in message
    assert "spec.storageSize must be more than 0" in message and "Nothing was changed" in message


# -- 6. a ReadWriteOnce sites volume keeps every pod that mounts it on one node --------

@pytest.mark.parametrize("mode", ["ReadWriteOnce", "ReadWriteMany"])
def test_pods_of_a_read_write_once_volume_follow_each_other(tmp_path, mode):
    obj = bench()
    obj["metadata"]["annotations"] = {"vyogo.tech/sites-access-mode": mode}
    objects = render(tmp_path, obj)
    mounting = [o for o in objects if o["kind"] in ("Deployment", "Job")]
    assert len(mounting) == 8
    for o in mounting:
        template = o["spec"]["template"]
        label = template["metadata"]["labels"].get("vyogo.tech/sites-volume")
        affinity = template["spec"].get("affinity")
        if mode == "ReadWriteOnce":
            assert label == "erp-sites", o["metadata"]["name"]
            assert affinity == {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"vyogo.tech/sites-volume": "erp-sites"}},
                "topologyKey": "kubernetes.io/hostname"}]}}
        else:
            assert label is None and affinity is None, o["metadata"]["name"]


# -- 10. custom queues: declared to Frappe by the configuration Job ----------------

REPORTS = {"queues": {"reports": {"timeout": 5000}},
           "workerAutoscalingConfig": {"long": {"queues": ["long", "reports"]}}}


def test_a_custom_queue_worker_starts_only_with_the_config_written(tmp_path):
    objects = render(tmp_path / "render", bench(**REPORTS), keda=False)
    image = ImageBench(tmp_path / "image")
    worker = by_name(objects, "Deployment", "erp-worker-long")
    container = pod_spec(worker)["containers"][0]
    assert container["args"] == ["bench", "worker", "--queue", "long,reports"]
    # A volume configured without the queue (any bench before it was declared):
    # Frappe's validate_queue refuses it, the worker does not start.
    (image.sites / "common_site_config.json").write_text(json.dumps(
        {"redis_queue": "redis://:gen3rated@erp-redis-queue:6379", "bench_id": "erp-ns.erp"}))
    run = run_container(image, worker, container, PASSWORD_SECRET)
    assert run.rc != 0 and "Queue should be one of short, default, long" in run.stderr, run.explain()
    # The bench's configuration Job declares it, with its timeout.
    job = config_job(objects)
    run = run_container(image, job, pod_spec(job)["containers"][0], PASSWORD_SECRET)
    assert run.rc == 0, run.explain()
    assert image.common_site_config["workers"] == {"reports": {"timeout": 5000}}
    run = run_container(image, worker, container, PASSWORD_SECRET)
    assert run.rc == 0, run.explain()
    started = [c for c in run.calls if c["program"] == "bench-worker"][0]
    assert started["listens"] == ["erp-ns.erp:long", "erp-ns.erp:reports"]
    # One source: Frappe's timeout and the grace period a stopping worker gets.
    assert pod_spec(worker)["terminationGracePeriodSeconds"] == started["timeouts"]["reports"] + 60


def test_a_queue_taken_out_of_the_bench_is_taken_out_of_frappe(tmp_path):
    image = ImageBench(tmp_path / "image")
    hashes = []
    for index, spec in enumerate((REPORTS, {})):
        objects = render(tmp_path / str(index), bench(**spec), keda=False)
        job = config_job(objects)
        assert run_container(image, job, pod_spec(job)["containers"][0], PASSWORD_SECRET).rc == 0
        hashes.append({o["metadata"]["name"]: o["spec"]["template"]["metadata"].get("annotations", {}).get(
            "vyogo.tech/config-hash") for o in objects if o["kind"] == "Deployment"})
    assert image.common_site_config["workers"] == {}
    # Every process that caches Frappe's queue list (get_queues_timeout) rolls with the new configuration.
    for name in ("erp-gunicorn", "erp-scheduler", "erp-worker-short", "erp-worker-long", "erp-worker-default"):
        assert hashes[0][name] and hashes[0][name] != hashes[1][name], name


def test_an_undeclared_queue_is_refused_before_anything_is_rendered(tmp_path):
    from podscripts import RenderError
    with pytest.raises(RenderError) as refused:
        render(tmp_path, bench(workerAutoscalingConfig={"long": {"queues": ["long", "reports"]}}))
    message = str(refused.value)
    assert "spec.workerAutoscalingConfig.long.queues[1] ('reports')" in message
    assert "spec.queues: {reports: {timeout: 1500}}" in message


# -- 11. a sites volume the frappe user cannot write --------------------------------

def test_config_job_stops_first_on_a_sites_volume_it_cannot_write(rendered, tmp_path):
    image = ImageBench(tmp_path)
    job = config_job(rendered[True])
    pod = pod_spec(job)
    # Started before any container that runs the image ENTRYPOINT, which itself
    # writes into sites/ (frappe_docker's main-entrypoint.sh links sites/assets).
    assert [c["name"] for c in pod["initContainers"]] == ["sites-check", "assets"]
    check = pod["initContainers"][0]
    assert check["command"][:2] == ["bash", "-c"] and "args" not in check
    image.sites.chmod(0o555)  # owned by someone else, as NFS hands it over
    try:
        run = run_container(image, job, check, PASSWORD_SECRET, as_image_user=True)
        # The image ENTRYPOINT fails there too, without a word of what to do.
        bare = run_container(image, job, pod["containers"][0], PASSWORD_SECRET, as_image_user=True)
    finally:
        image.sites.chmod(0o755)
    assert run.rc == 3, run.explain()
    assert "The sites volume is not writable by uid" in run.stderr
    assert "spec.sitesVolume.fixPermissions: true" in run.stderr and "anonuid=1000" in run.stderr
    assert bare.rc != 0 and "Permission denied" in bare.stderr and "fixPermissions" not in bare.stderr
    # A writable volume passes, leaving nothing behind.
    run = run_container(image, job, check, PASSWORD_SECRET, as_image_user=True)
    assert run.rc == 0 and sorted(p.name for p in image.sites.iterdir()) == [], run.explain()
    # Exit 3 fails the Job at once, and the pod keeps the message for the bench status.
    assert check["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["podFailurePolicy"]["rules"] == [
        {"action": "FailJob", "onExitCodes": {"containerName": "sites-check", "operator": "In", "values": [3]}}]


def test_the_root_chown_of_the_volume_is_opt_in(rendered, tmp_path):
    assert [c["name"] for c in pod_spec(config_job(rendered[True]))["initContainers"]] == ["sites-check", "assets"]
    objects = render(tmp_path, bench(sitesVolume={"fixPermissions": True}))
    pod = pod_spec(config_job(objects))
    init, check, _assets = pod["initContainers"]
    assert [c["name"] for c in pod["initContainers"]] == ["sites-ownership", "sites-check", "assets"]
    assert init["securityContext"]["runAsUser"] == 0 and init["securityContext"]["runAsNonRoot"] is False
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]}
    assert init["volumeMounts"] == [{"name": "sites", "mountPath": IMAGE_BENCH_DIR + "/sites"}]
    assert "chown -R 1000:1000 sites" in init["args"][0]
    # Only the configuration Job: every other pod stays restricted.
    assert [o["metadata"]["name"] for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")
            and "initContainers" in pod_spec(o)] == [config_job(objects)["metadata"]["name"]]
    # The remedy the script gives now names what is left: the storage refusing root.
    env = {e["name"]: e.get("value") for e in check["env"]}
    assert "root_squash" in env["VOLUME_REMEDY"]


# -- 4. assets for every image generation, served by nginx, read by Frappe ------

def assets_init(job):
    return next(c for c in pod_spec(job)["initContainers"] if c["name"] == "assets")


def served_assets(image, objects, also=()):
    """What Frappe (gunicorn) reads as its bundle map and what nginx serves, each in its own container."""
    gunicorn = by_name(objects, "Deployment", "erp-gunicorn")
    run = run_container(image, gunicorn, pod_spec(gunicorn)["containers"][0], PASSWORD_SECRET)
    assert run.rc == 0, run.explain()
    nginx = by_name(objects, "Deployment", "erp-nginx")
    served = {}
    run = run_container(image, nginx, pod_spec(nginx)["containers"][0], PASSWORD_SECRET,
                        during=lambda paths: served.update(nginx_get(
                            paths[IMAGE_BENCH_DIR] + "/sites", ["/assets/assets.json", image.bundle[1]] + list(also),
                            image.root / "nginx")))
    assert run.rc == 0, run.explain()
    return run_calls_assets(image), served


def run_calls_assets(image):
    return [c["assets_json"] for c in image.calls() if "assets_json" in c][-1]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("generation", list(GENERATIONS))
def test_every_image_generation_serves_its_assets_on_a_new_volume(rendered, tmp_path, generation, runtime):
    """The configuration Job's init container puts the image's assets where nginx
    (root sites/, location /assets) and Frappe (assets/assets.json from sites/) read them."""
    image = ImageBench(tmp_path, generation, runtime)
    job = config_job(rendered[True])
    runs = run_pod(image, job, PASSWORD_SECRET)
    assert "assets" in runs and list(runs)[-1] == "config", list(runs)
    assert all(r.rc == 0 for r in runs.values()), {name: r.explain() for name, r in runs.items()}
    bundle_map, served = served_assets(image, rendered[True])
    assert bundle_map == dict([image.bundle])
    status, body = served["/assets/assets.json"]
    assert status == 200 and json.loads(body) == dict([image.bundle])
    assert served[image.bundle[1]] == (200, "// %s\n" % image.bundle[0])


def test_the_assets_container_sees_the_image_and_never_mounts_over_sites(rendered):
    job = config_job(rendered[True])
    init = assets_init(job)
    assert "command" not in init  # an image's ENTRYPOINT runs, as in every container
    mounts = [m["mountPath"] for m in init["volumeMounts"]]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert mounts == [env["SITES_VOLUME"]] and not mounts[0].startswith(IMAGE_BENCH_DIR)
    for obj, container in frappe_containers(rendered[True]):
        for mount in container["volumeMounts"]:
            # current images' ENTRYPOINT removes sites/assets: nothing may be mounted there
            assert not mount["mountPath"].startswith(IMAGE_BENCH_DIR + "/sites/"), obj["metadata"]["name"]


@pytest.mark.parametrize("first,then", [("v15.45.0", "current"), ("current", "v15.45.0"), ("v15.45.0", "2026-04-20")])
def test_an_image_change_replaces_the_assets_on_the_volume(rendered, tmp_path, first, then):
    job = config_job(rendered[True])
    old = ImageBench(tmp_path / "old", first, "cri-o")
    for attempt in range(2):  # a re-run with the same image changes nothing
        assert all(r.rc == 0 for r in run_pod(old, job, PASSWORD_SECRET).values())
    before = sorted(p.name for p in old.sites.iterdir())
    assert len([n for n in before if n.startswith(".assets")]) == (0 if first == "current" else 1)
    new = ImageBench(tmp_path / "new", then, "cri-o")
    shutil.rmtree(str(new.sites))
    shutil.copytree(str(old.sites), str(new.sites), symlinks=True)  # the same volume, a new image
    runs = run_pod(new, job, PASSWORD_SECRET)
    assert all(r.rc == 0 for r in runs.values()), {name: r.explain() for name, r in runs.items()}
    bundle_map, served = served_assets(new, rendered[True], also=[old.bundle[1]])
    assert bundle_map == dict([new.bundle]) and served[new.bundle[1]][0] == 200
    assert served[old.bundle[1]][0] == 404
    copies = [p.name for p in new.sites.iterdir() if p.name.startswith(".assets")]
    assert len(copies) == (0 if then == "current" else 1), copies  # the old copy is gone


def test_the_assets_container_fails_clearly_without_built_assets(rendered, tmp_path):
    image = ImageBench(tmp_path, "v15.45.0")
    shutil.rmtree(str(image.image_sites / "assets"))
    runs = run_pod(image, config_job(rendered[True]), PASSWORD_SECRET)
    assert list(runs) == ["sites-check", "assets"] and runs["assets"].rc == 1
    assert "the image has no built assets" in runs["assets"].stderr
