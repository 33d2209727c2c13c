"""App Service's variables (platform.py): ports, worker counts, cores and CPU quotas."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from gunicorn.config import Config

from appservice_gunicorn import detect
from appservice_gunicorn.base import environment as platform
from appservice_gunicorn.plan.settings import layer_settings
from tests.helpers import flask_app, write

# The documented order (README), written out rather than imported.
FLASK_STYLE_FILES = ["application.py", "app.py", "run.py", "index.py", "server.py", "main.py"]
NO_ENV: dict[str, str] = {}
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


# --- platform environment variables -----------------------------------------------------------


def workers_and_threads(tmp_path: Path, env: dict[str, str]) -> tuple[int, int, str, list[str]]:
    found = detect(tmp_path, env=env)
    layered = layer_settings(found, env, run_config_file=False)
    config = Config()
    layered.apply(config)
    return config.workers, config.threads, config.worker_class_str, layered.errors


def test_no_variables_mean_one_sync_worker(tmp_path: Path) -> None:
    assert workers_and_threads(tmp_path, {}) == (1, 1, "sync", [])


def test_web_concurrency(tmp_path: Path) -> None:
    assert workers_and_threads(tmp_path, {"WEB_CONCURRENCY": "3"})[:2] == (3, 1)


def test_multiworkers_is_two_per_core_plus_one() -> None:
    errors: list[str] = []
    found = platform.platform_settings(
        {"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true"}, errors, cpu_count=4
    )
    assert [(s.name, s.value) for s in found] == [("workers", 9)]
    assert errors == []


def test_multiworkers_counts_the_cores_this_process_may_use(tmp_path: Path) -> None:
    cores = platform.available_cores()
    assert cores == len(os.sched_getaffinity(0))
    env = {"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "TRUE", "WEB_CONCURRENCY": "7"}
    assert workers_and_threads(tmp_path, env)[0] == 2 * cores + 1


def test_custom_worker_num_wins_over_multiworkers(tmp_path: Path) -> None:
    env = {
        "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
        "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "4",
        "WEB_CONCURRENCY": "7",
    }
    assert workers_and_threads(tmp_path, env)[0] == 4


def test_custom_thread_num_above_one_means_gthread(tmp_path: Path) -> None:
    multi = {"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true", "WEB_CONCURRENCY": "1"}
    env = {**multi, "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "1"}
    assert workers_and_threads(tmp_path, {**env, "PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "8"})[
        1:3
    ] == (8, "gthread")
    assert workers_and_threads(tmp_path, {**env, "PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "1"})[
        1:3
    ] == (1, "sync")


@pytest.mark.parametrize(
    "name", ["PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "PYTHON_GUNICORN_CUSTOM_THREAD_NUM"]
)
@pytest.mark.parametrize("multi", [None, "false"])
def test_custom_counts_apply_only_with_multiworkers(
    tmp_path: Path, name: str, multi: str | None
) -> None:
    """As on App Service (Oryx): without PYTHON_ENABLE_GUNICORN_MULTIWORKERS=true neither
    custom count is read; set alone, each is one warning naming it and why."""
    env = {name: "4"}
    if multi is not None:
        env["PYTHON_ENABLE_GUNICORN_MULTIWORKERS"] = multi
    found = detect(tmp_path, env=env)
    layered = layer_settings(found, env, run_config_file=False)
    assert workers_and_threads(tmp_path, env)[:2] == (1, 1)
    (warning,) = layered.notes
    assert warning.startswith(f"{name}='4' is ignored: App Service applies it only with ")
    assert "PYTHON_ENABLE_GUNICORN_MULTIWORKERS=true" in warning and layered.errors == []


def test_startup_command_wins_over_platform_variables(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app("app")})
    env = {"PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "4"}
    found = detect(tmp_path, "gunicorn --workers 2 app:app", env=env)
    assert layer_settings(found, env, run_config_file=False).value("workers") == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_CONCURRENCY", "many"),
        ("WEB_CONCURRENCY", "0"),
        ("PYTHON_ENABLE_GUNICORN_MULTIWORKERS", "maybe"),
        ("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "-2"),
        ("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "four"),
        ("PYTHON_GUNICORN_CUSTOM_THREAD_NUM", "2.5"),
    ],
)
def test_invalid_variable_is_reported_and_the_default_used(
    tmp_path: Path, name: str, value: str
) -> None:
    env = {name: value}
    if name.startswith("PYTHON_GUNICORN_CUSTOM"):
        # Read only with multiworkers (whose own count is then the default).
        env.update(PYTHON_ENABLE_GUNICORN_MULTIWORKERS="true", WEB_CONCURRENCY="1")
        os_cores = 2 * platform.available_cores() + 1
    else:
        os_cores = 1
    workers, threads, worker_class, errors = workers_and_threads(tmp_path, env)
    assert (workers, threads, worker_class) == (os_cores, 1, "sync")
    (error,) = errors
    assert f"{name}={value!r}" in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "100000 100000\n"}, 1),  # a 1-CPU limit (Kubernetes limits.cpu: 1)
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
        ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity mask alone
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
    ids=["v2-one-cpu", "v2-one-and-a-half", "v2-no-quota", "v1-half", "v1-no-quota", "none"],
)
def test_cores_follow_the_containers_cpu_quota(
    tmp_path: Path, files: dict[str, str], cores: int | None
) -> None:
    write(tmp_path, files)
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if cores is None else min(cores, affinity)
    assert platform.available_cores(tmp_path) == expected


def test_a_one_cpu_pod_on_a_big_node_gets_three_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cgroup", {"cpu.max": "100000 100000\n"})
    monkeypatch.setattr(platform, "CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    errors: list[str] = []
    found = platform.platform_settings({"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "1"}, errors)
    assert [(s.name, s.value) for s in found] == [("workers", 3)]


# Devanagari and full-width digits: str.isdigit() says yes, socket.bind() says no.
@pytest.mark.parametrize(
    "value", ["\u0968\u0966\u0966\u0966", "\uff18\uff10\uff10\uff10", "80a0", "0", "70000"]
)
def test_only_ascii_port_numbers_are_ports(value: str) -> None:
    errors: list[str] = []
    assert platform.port({"PORT": value}, errors) == "8000"
    assert errors == [f"PORT={value!r} is not a port number (1-65535); ignoring it"]


def test_the_apps_variables_are_app_services_with_the_port_gunicorn_listens_on() -> None:
    folder = Path("/home/site/wwwroot")
    assert platform.app_variables({}, folder, ["0.0.0.0:8000"]) == {
        "APP_PATH": "/home/site/wwwroot",
        "HOST": "0.0.0.0",
        "PORT": "8000",
    }
    given = {"PORT": "8080", "HOST": "::", "OTHER": "x"}
    assert platform.app_variables(given, folder, ["unix:/run/a.sock", "[::]:9000"]) == {
        "APP_PATH": "/home/site/wwwroot",
        "HOST": "::",
        "PORT": "9000",
    }
    assert platform.app_variables(given, folder, ["unix:/run/a.sock"])["PORT"] == "8080"


@pytest.mark.parametrize("bind", ["127.0.0.1", "[::1]", "tcp://localhost"])
def test_a_bind_without_a_port_listens_on_gunicorns_8000(bind: str) -> None:
    assert platform.app_variables({"PORT": "9000"}, Path("/x"), [bind])["PORT"] == "8000"


@pytest.mark.parametrize(
    ("bind", "split"),
    [
        ("0.0.0.0:8000", ("0.0.0.0", 8000)),
        ("tcp://LocalHost:9", ("localhost", 9)),
        ("[::1]:9000", ("[::1]", 9000)),
        ("[::1]", ("[::1]", 8000)),
        ("127.0.0.1", ("127.0.0.1", 8000)),
        ("unix:/run/app.sock", None),
        ("fd://3", None),
    ],
)
def test_a_bind_is_split_as_gunicorn_reads_it(bind: str, split: tuple[str, int] | None) -> None:
    assert platform.split_bind(bind) == split
