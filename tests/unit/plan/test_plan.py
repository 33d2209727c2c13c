"""The plan: what the launcher was told, turned into what runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.plan.plan import LauncherConfig, make_plan, strict_error
from tests.helpers import flask_app, write

ENV = {"PATH": "/usr/bin:/bin"}


def test_the_app_folder_is_the_option_else_app_path_else_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert LauncherConfig.from_env(None, env=ENV).app_dir == tmp_path
    assert LauncherConfig.from_env(None, env={"APP_PATH": "/srv/a"}).app_dir == Path("/srv/a")
    assert LauncherConfig.from_env("b", env={"APP_PATH": "/srv/a"}).app_dir == tmp_path / "b"
    assert LauncherConfig.from_env(None, env={"APPSVC_STRICT": "1"}).strict is True


def test_an_in_process_app_gets_gunicorn_settings_with_their_sources(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    plan = make_plan(LauncherConfig(app_dir=tmp_path, startup=("--workers=3",), env=ENV))
    assert not plan.supervised and plan.settings is not None
    assert (plan.settings.value("workers"), plan.settings.source("workers")) == (3, "startup")
    assert plan.settings.source("timeout") == "launcher"


def test_a_supervised_command_gets_no_gunicorn_settings(tmp_path: Path) -> None:
    plan = make_plan(LauncherConfig(app_dir=tmp_path, startup=("uvicorn main:app",), env=ENV))
    assert plan.supervised and plan.settings is None


def test_strict_mode_stops_on_an_unusable_startup_command(tmp_path: Path) -> None:
    config = LauncherConfig(app_dir=tmp_path, startup=("missing.txt",), strict=True, env=ENV)
    with pytest.raises(LaunchError) as raised:
        make_plan(config)
    assert str(raised.value).endswith(strict_error("").removeprefix(" "))
    assert "startup file 'missing.txt' not found" in str(raised.value)
    assert raised.value.status == 1


def test_a_missing_app_folder_is_a_launch_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="does not exist or is not a folder; pass --app-dir"):
        make_plan(LauncherConfig(app_dir=tmp_path / "nowhere", env=ENV))


def test_pre_run_command_comes_before_the_startup_commands_own_steps(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    env = {**ENV, "PRE_RUN_COMMAND": "echo pre"}
    plan = make_plan(
        LauncherConfig(app_dir=tmp_path, startup=("echo a && gunicorn app:app",), env=env),
        settings=False,
    )
    assert [(s.command, s.stop_on_failure) for s in plan.steps] == [
        ("echo pre", False),
        ("echo a", True),
    ]


@pytest.mark.parametrize(
    ("startup", "env"),
    [(("--check-config",), {}), ((), {"GUNICORN_CMD_ARGS": "--print-config"})],
)
def test_check_and_print_config_serve_nothing(
    tmp_path: Path, startup: tuple[str, ...], env: dict[str, str]
) -> None:
    write(tmp_path, {"app.py": flask_app()})
    plan = make_plan(
        LauncherConfig(app_dir=tmp_path, startup=startup, env={**ENV, **env}), settings=False
    )
    assert plan.checks_only
