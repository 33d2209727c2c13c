"""Where gunicorn's run-time files go (the read-only cases run for real in test_lifecycle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appservice_gunicorn.errors import LaunchError
from appservice_gunicorn.plan import LauncherConfig, make_plan


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
