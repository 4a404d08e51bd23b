"""What the bench's Frappe containers do, rendered without a cluster and run by the script harness.

Each container is compared with its production reference (docs/FRAPPEBENCH.md,
"Containers and their references"): frappe_docker's compose.yaml and image
entrypoint, the frappe/helm erpnext chart.
"""

import json

import pytest
import redis

from manifests import bench
from podscripts import IMAGE_BENCH_DIR, ImageBench, frappe_containers, pod_spec, render, run_container


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
    }


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
    assert programs["erp-worker-short"] == ["bench"]


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
