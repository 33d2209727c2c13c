"""The launcher's own configuration, and the plan it turns into: what to serve, and how."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from . import environment
from .detect import Detection, detect
from .settings import LayeredSettings, SettingsError, layer_settings


class LaunchError(Exception):
    """The launcher cannot go on; the message says why and what to do."""


def strict_error(startup_error: str) -> str:
    """The one line that ``--strict`` stops with, when serving and with ``--explain``."""
    return f"{startup_error} (strict mode: not falling back)"


class LauncherConfig(NamedTuple):
    """Everything the launcher was told: folder, startup command, strictness, environment."""

    app_dir: Path
    startup: tuple[str, ...] = ()
    strict: bool = False
    env: Mapping[str, str] = os.environ

    @classmethod
    def from_env(
        cls,
        app_dir: str | None = None,
        startup: tuple[str, ...] = (),
        strict: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> LauncherConfig:
        env = dict(os.environ) if env is None else dict(env)
        folder = app_dir or env.get("APP_PATH") or os.getcwd()
        return cls(
            app_dir=Path(folder).absolute(),
            startup=startup,
            strict=strict or environment.flag(env, "APPSVC_STRICT"),
            env=env,
        )


class Plan(NamedTuple):
    config: LauncherConfig
    detection: Detection
    settings: LayeredSettings


def make_plan(config: LauncherConfig, *, run_config_file: bool = True) -> Plan:
    """Detect and layer settings; raises ``LaunchError`` when there is nothing sane to do."""
    if not config.app_dir.is_dir():
        raise LaunchError(
            f"app folder {config.app_dir} does not exist or is not a folder; "
            "pass --app-dir or set APP_PATH to the folder holding your app"
        )
    detection = detect(config.app_dir, config.startup, config.env)
    if config.strict and detection.startup_error:
        raise LaunchError(strict_error(detection.startup_error))
    try:
        settings = layer_settings(detection, config.env, run_config_file=run_config_file)
    except SettingsError as exc:
        raise LaunchError(str(exc)) from None
    return Plan(config=config, detection=detection, settings=settings)
