"""Where gunicorn's run-time files go (the read-only cases run for real in test_lifecycle)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.files import writable
from appservice_gunicorn.plan.plan import LauncherConfig, make_plan


def plan_settings(tmp_path: Path, cmd_args: str) -> dict[str, tuple[object, str]]:
    env = {"GUNICORN_CMD_ARGS": cmd_args, "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    plan = make_plan(LauncherConfig(app_dir=tmp_path, env=env), run_config_file=False)
    assert plan.settings is not None
    return {name: (s.value, s.source) for name, s in plan.settings.values.items()}


def test_writable_temp_folder_and_home_change_nothing(tmp_path: Path) -> None:
    settings = plan_settings(tmp_path, "")
    assert "worker_tmp_dir" not in settings
    assert "control_socket_disable" not in settings


def test_worker_tmp_dir_that_is_not_a_writable_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(LaunchError) as info:
        plan_settings(tmp_path, f"--worker-tmp-dir={missing}")
    message = str(info.value)
    assert f"worker_tmp_dir '{missing}' (from GUNICORN_CMD_ARGS) is not a writable folder" in (
        message
    )
    assert "/dev/shm" in message


def test_explicit_control_socket_in_a_writable_folder_is_kept(tmp_path: Path) -> None:
    socket = tmp_path / "run" / "gunicorn.ctl"
    settings = plan_settings(tmp_path, f"--control-socket={socket}")
    assert settings["control_socket"] == (str(socket), "GUNICORN_CMD_ARGS")
    assert "control_socket_disable" not in settings


def test_each_launcher_gets_a_control_socket_of_its_own(tmp_path: Path) -> None:
    """gunicorn's default is one path per user (~/.gunicorn/gunicorn.ctl): a second
    launcher on the machine replaced the first's socket."""
    runtime_dir = tmp_path / "run"
    runtime_dir.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime_dir), "HOME": str(tmp_path)}
    first = writable.control_socket(False, None, None, tmp_path, env, 101)
    second = writable.control_socket(False, None, None, tmp_path, env, 102)
    assert first is not None and second is not None
    namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    assert first.value == str(runtime_dir / f"appservice-gunicorn-101-{namespace}.ctl")
    assert second.value == str(runtime_dir / f"appservice-gunicorn-102-{namespace}.ctl")
    assert (first.name, first.source, first.note) == (
        "control_socket",
        "launcher (one per launcher)",
        "",
    )


def test_without_a_runtime_folder_the_control_socket_goes_to_the_temp_folder(
    tmp_path: Path,
) -> None:
    env = {"TMPDIR": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "missing")}
    placed = writable.control_socket(False, None, None, tmp_path, env, 7)
    assert placed is not None
    assert placed.value == str(tmp_path / f"appservice-gunicorn-{writable.launcher_id(7)}.ctl")


def test_a_control_socket_the_user_chose_or_disabled_is_left_alone(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    chosen = tmp_path / "app.ctl"
    assert (
        writable.control_socket(False, str(chosen), "GUNICORN_CMD_ARGS", tmp_path, env, 1) is None
    )
    assert writable.control_socket(True, None, None, tmp_path, env, 1) is None


def test_the_plan_names_the_launchers_own_control_socket(tmp_path: Path) -> None:
    settings = plan_settings(tmp_path, "")
    value, source = settings["control_socket"]
    assert Path(str(value)).name == f"appservice-gunicorn-{writable.launcher_id(os.getpid())}.ctl"
    assert source == "launcher (one per launcher)"


def test_the_launcher_id_tells_launchers_in_other_pid_namespaces_apart() -> None:
    """Two containers sharing a /tmp volume both run their launcher as PID 1."""
    here = writable.launcher_id(1)
    namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    assert here == f"1-{namespace}" and namespace.isdigit()


def _unsearchable(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``folder`` as a non-root user sees /root: stat() of anything inside is refused.
    (The tests run as root, whom the kernel never refuses: the refusal is simulated.)"""
    real_stat = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).startswith(f"{folder}/"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(writable, "writable_dir", lambda path: str(path) != str(folder))


def test_a_control_socket_chosen_in_an_unsearchable_home_is_disabled_with_one_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HOME=/root and runAsUser 10001: PermissionError from Path.exists(), a traceback."""
    home = tmp_path / "root"
    home.mkdir()
    _unsearchable(monkeypatch, home)
    chosen = home / ".gunicorn" / "gunicorn.ctl"
    placed = writable.control_socket(False, str(chosen), "GUNICORN_CMD_ARGS", tmp_path, {}, 1)
    assert placed is not None and placed.name == "control_socket_disable"
    assert f"disabled: {chosen} (GUNICORN_CMD_ARGS) cannot be created" in placed.note


def test_the_launchers_own_control_socket_never_looks_into_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "root"
    home.mkdir()
    _unsearchable(monkeypatch, home)
    env = {"HOME": str(home), "TMPDIR": str(tmp_path)}
    placed = writable.control_socket(False, None, None, tmp_path, env, 1)
    assert placed is not None and placed.name == "control_socket"
    assert not str(placed.value).startswith(str(home))
