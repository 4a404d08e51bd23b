"""Checks of the container script harness itself (tests/harness/podscripts.py)."""

import json

import pytest

from podscripts import IMAGE_BENCH_DIR, ImageBench, StartError, argv, expand, resolve_env, run_container


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
