"""Checks of the container script harness itself (tests/harness/podscripts.py)."""

import json

import pytest

from podscripts import (GENERATIONS, IMAGE_BENCH_DIR, HarnessError, ImageBench, StartError, argv, expand,
                        resolve_env, run_container, run_pod)


def test_expand_follows_the_kubelet():
    env = {"A": "x", "B": "$(A)"}
    assert expand("$(A)-$(B)", env) == "x-$(A)"  # values are not expanded twice
    assert expand("$(MISSING)", env) == "$(MISSING)"  # unresolvable: left as it is
    assert expand("$$(A) $$", env) == "$(A) $"


def test_resolve_env_skips_missing_optional_keys_and_refuses_missing_required_ones():
    container = {"env": [
        {"name": "HOST", "valueFrom": {"secretKeyRef": {"name": "s", "key": "host"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password", "optional": True}}},
        {"name": "URL", "value": "redis://:$(PASSWORD)@$(HOST)"},
    ]}
    assert resolve_env(container, {"s": {"host": "h"}}) == {"HOST": "h", "URL": "redis://:$(PASSWORD)@h"}
    with pytest.raises(StartError, match="Secret s has no key host"):
        resolve_env(container, {"s": {}})


@pytest.mark.parametrize("container,expected", [
    ({}, ["entrypoint.sh", "start.sh"]),
    ({"args": ["bench", "schedule"]}, ["entrypoint.sh", "bench", "schedule"]),
    ({"command": ["bench", "schedule"]}, ["bench", "schedule"]),
    ({"command": ["bash", "-c"], "args": ["true"]}, ["bash", "-c", "true"]),
])
def test_argv_follows_the_container_runtime(container, expected):
    assert argv(container) == expected


def test_image_entrypoint_links_the_built_assets(tmp_path):
    bench = ImageBench(tmp_path)
    run = run_container(bench, {}, {"workingDir": IMAGE_BENCH_DIR, "args": ["bench", "schedule"]})
    assert run.rc == 0, run.explain()
    assert (bench.sites / "assets").resolve() == (bench.bench / "assets").resolve()
    # command: bypasses the ENTRYPOINT, so nothing links them
    other = ImageBench(tmp_path / "other")
    run = run_container(other, {}, {"workingDir": IMAGE_BENCH_DIR, "command": ["bench", "schedule"]})
    assert run.rc == 0 and not (other.sites / "assets").exists()


def test_bench_set_config_needs_the_file_and_merges_into_it(tmp_path):
    bench = ImageBench(tmp_path)
    container = {"workingDir": IMAGE_BENCH_DIR, "args": ["bench", "set-config", "-g", "k", "v"]}
    run = run_container(bench, {}, container)
    assert run.rc != 0 and "FileNotFoundError" in run.stderr
    (bench.sites / "common_site_config.json").write_text(json.dumps({"mine": 1}))
    assert run_container(bench, {}, container).rc == 0
    parsed = {"workingDir": IMAGE_BENCH_DIR, "args": ["bench", "set-config", "-gp", "port", "9000"]}
    assert run_container(bench, {}, parsed).rc == 0
    assert bench.common_site_config == {"mine": 1, "k": "v", "port": 9000}
    assert [c["argv"] for c in bench.calls()][-1] == ["set-config", "-gp", "port", "9000"]


def test_bench_refuses_to_run_outside_the_bench_directory(tmp_path):
    bench = ImageBench(tmp_path)
    run = run_container(bench, {}, {"workingDir": IMAGE_BENCH_DIR + "/sites", "args": ["bench", "schedule"]})
    assert run.rc != 0 and "not in a bench directory" in run.stderr


def test_bench_site_set_config_updates_the_site_config_as_frappe_does(tmp_path):
    """frappe/commands/utils.py set_config -> frappe/installer.py update_site_config (_update_config_file)."""
    bench = ImageBench(tmp_path)

    def set_config(*argv):
        return run_container(bench, {}, {"workingDir": IMAGE_BENCH_DIR,
                                         "args": ["bench", "--site", "erp"] + ["set-config"] + list(argv)})

    # frappe.init of a site without site_config.json: IncorrectSitePath.
    missing = set_config("host_name", "https://erp.example.com")
    assert missing.rc == 1 and "erp does not exist" in missing.stderr
    (bench.sites / "erp").mkdir()
    (bench.sites / "erp" / "site_config.json").write_text(json.dumps({"db_name": "_x"}))
    for argv in (("host_name", "https://erp.example.com"), ("maintenance_mode", "1"), ("pause", "false"),
                 ("-p", "limits", "{'users': 5}")):
        assert set_config(*argv).rc == 0
    config = json.loads((bench.sites / "erp" / "site_config.json").read_text())
    assert config == {"db_name": "_x", "host_name": "https://erp.example.com", "maintenance_mode": 1, "pause": False,
                      "limits": {"users": 5}}
    # The value None removes the key; removing an absent key changes nothing.
    assert set_config("host_name", "None").rc == 0 and set_config("absent", "None").rc == 0
    text = (bench.sites / "erp" / "site_config.json").read_text()
    assert json.loads(text) == {"db_name": "_x", "maintenance_mode": 1, "pause": False, "limits": {"users": 5}}
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True)


def test_bench_worker_accepts_only_the_queues_frappe_knows(tmp_path):
    """frappe/utils/background_jobs.py start_worker -> get_queue_list -> validate_queue (version-15)."""
    bench = ImageBench(tmp_path)
    worker = {"workingDir": IMAGE_BENCH_DIR, "args": ["bench", "worker", "--queue", "long,reports"]}
    run = run_container(bench, {}, worker)
    assert run.rc != 0 and "redis_queue missing in common_site_config.json" in run.stderr
    (bench.sites / "common_site_config.json").write_text(json.dumps({"redis_queue": "redis://q:6379", "bench_id": "b"}))
    run = run_container(bench, {}, worker)
    assert run.rc != 0 and "Queue should be one of short, default, long" in run.stderr, run.explain()
    (bench.sites / "common_site_config.json").write_text(json.dumps(
        {"redis_queue": "redis://q:6379", "bench_id": "b", "workers": {"reports": {"timeout": 5000}, "x": {}}}))
    run = run_container(bench, {}, worker)
    assert run.rc == 0, run.explain()
    started = [c for c in run.calls if c["program"] == "bench-worker"]
    assert started[0]["listens"] == ["b:long", "b:reports"]
    assert started[0]["timeouts"] == {"long": 1500, "reports": 5000}
    # A worker without --queue listens on every queue, a declared one without timeout at Frappe's 300 s.
    run = run_container(bench, {}, {"workingDir": IMAGE_BENCH_DIR, "args": ["bench", "worker"]})
    assert [c for c in run.calls if c["program"] == "bench-worker"][0]["timeouts"] == {
        "short": 300, "default": 300, "long": 1500, "reports": 5000, "x": 300}


# -- image generations (frappe_docker images/production/Containerfile history) --

GUNICORN_CMD = [IMAGE_BENCH_DIR + "/env/bin/gunicorn", "--chdir=" + IMAGE_BENCH_DIR + "/sites"]


@pytest.mark.parametrize("generation,expected", [
    ("v15.45.0", GUNICORN_CMD),  # no ENTRYPOINT, CMD gunicorn
    ("2026-04-20", GUNICORN_CMD),
    ("current", ["entrypoint.sh", "start.sh"]),
])
def test_each_generation_has_the_entrypoint_and_cmd_of_its_containerfile(generation, expected):
    assert argv({}, GENERATIONS[generation])[:len(expected)] == expected
    # args replace the CMD and keep the ENTRYPOINT, if there is one
    assert argv({"args": ["bench", "schedule"]}, GENERATIONS[generation]) == (
        GENERATIONS[generation]["entrypoint"] + ["bench", "schedule"])


def test_each_generation_keeps_its_assets_where_its_containerfile_puts_them(tmp_path):
    old = ImageBench(tmp_path / "old", "v15.45.0")
    assert json.loads((old.image_sites / "assets" / "assets.json").read_text()) == dict([old.bundle])
    assert not (old.bench / "assets").exists() and not (old.sites / "assets").exists()
    new = ImageBench(tmp_path / "new")
    assert json.loads((new.bench / "assets" / "assets.json").read_text()) == dict([new.bundle])
    assert not (new.image_sites / "assets").exists()
    # `bench build` links each app's public/ folder: the bundle is found through it
    assert (new.bench / "assets" / new.bundle[1][len("/assets/"):]).is_file()
    assert old.bundle != new.bundle


def gunicorn(bench):
    """The gunicorn of the image: its CMD, with the sites volume at sites/."""
    return run_container(bench, {}, {"workingDir": IMAGE_BENCH_DIR,
                                     "volumeMounts": [{"name": "sites", "mountPath": IMAGE_BENCH_DIR + "/sites"}]})


def test_current_image_links_its_assets_for_gunicorn_on_an_empty_volume(tmp_path):
    bench = ImageBench(tmp_path)
    run = gunicorn(bench)
    assert run.rc == 0, run.explain()
    assert [(c["program"], c["assets_json"]) for c in run.calls] == [("start.sh", dict([bench.bundle]))]


def test_old_image_assets_volume_is_copied_up_by_containerd_only(tmp_path):
    containerd = ImageBench(tmp_path / "containerd", "v15.45.0", "containerd")
    run = gunicorn(containerd)
    assert run.rc == 0, run.explain()
    assert run.calls[0]["assets_json"] == dict([containerd.bundle])
    # the copy goes with the container; the mount point runc made stays, empty
    assert (containerd.sites / "assets").is_dir() and not any((containerd.sites / "assets").iterdir())
    # CRI-O's mkdir is hidden under the volume: Frappe finds no assets.json
    crio = ImageBench(tmp_path / "crio", "v15.45.0", "cri-o")
    assert gunicorn(crio).calls[0]["assets_json"] is None
    # without the nested VOLUME, no runtime shows the image's assets
    between = ImageBench(tmp_path / "between", "2026-04-20", "containerd")
    assert gunicorn(between).calls[0]["assets_json"] is None


def test_an_image_volume_mount_point_cannot_be_removed(tmp_path):
    bench = ImageBench(tmp_path, "v15.45.0", "containerd")
    with pytest.raises(HarnessError, match="mount point"):
        run_container(bench, {}, {"workingDir": IMAGE_BENCH_DIR, "args": ["rm", "-rf", "sites/assets"]})


def test_a_container_without_the_volume_at_sites_sees_the_image_sites(tmp_path):
    bench = ImageBench(tmp_path, "v15.45.0", "cri-o")
    (bench.sites / "site1").mkdir()
    container = {"workingDir": IMAGE_BENCH_DIR, "env": [{"name": "VOL", "value": "/mnt/sites"}],
                 "volumeMounts": [{"name": "sites", "mountPath": "/mnt/sites"}],
                 "args": ["bash", "-c", "ls sites > $VOL/seen; echo x > sites/written"]}
    run = run_container(bench, {}, container)
    assert run.rc == 0, run.explain()
    assert (bench.sites / "seen").read_text().split() == ["apps.txt", "assets", "common_site_config.json"]
    # what it writes under the image's sites/ goes with the container
    assert not (bench.sites / "written").exists() and not (bench.image_sites / "written").exists()


def test_run_pod_runs_the_init_containers_first_and_stops_at_a_failing_one(tmp_path):
    bench = ImageBench(tmp_path)

    def pod(first):
        return {"spec": {"template": {"spec": {
            "initContainers": [{"name": "one", "workingDir": IMAGE_BENCH_DIR, "args": ["bash", "-c", first]},
                               {"name": "two", "workingDir": IMAGE_BENCH_DIR, "args": ["bench", "schedule"]}],
            "containers": [{"name": "main", "workingDir": IMAGE_BENCH_DIR, "args": ["bench", "--version"]}]}}}}
    runs = run_pod(bench, pod("true"))
    assert list(runs) == ["one", "two", "main"] and [r.rc for r in runs.values()] == [0, 0, 1]
    assert [c["argv"] for c in bench.calls()] == [["schedule"], ["--version"]]
    runs = run_pod(bench, pod("exit 3"))
    assert list(runs) == ["one"] and runs["one"].rc == 3
