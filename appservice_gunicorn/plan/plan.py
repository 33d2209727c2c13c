"""The launcher's own configuration, and the plan it turns into: what to serve, and how."""

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from appservice_gunicorn.base import environment
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.build import output
from appservice_gunicorn.detection.chain import Detection, detect
from appservice_gunicorn.files import fs
from appservice_gunicorn.plan.layers import LayeredSettings
from appservice_gunicorn.plan.settings import layer_settings

if TYPE_CHECKING:
    from appservice_gunicorn.startup.shell import Step

PRE_RUN_VARIABLE = "PRE_RUN_COMMAND"


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
    ) -> "LauncherConfig":
        env = dict(os.environ) if env is None else dict(env)
        folder = app_dir or env.get("APP_PATH") or os.getcwd()
        return cls(
            app_dir=Path(folder).absolute(),
            startup=startup,
            strict=strict or environment.flag(env, "APPSVC_STRICT"),
            env=env,
        )


class Plan(NamedTuple):
    """What runs: pre-start ``steps``, then gunicorn in-process with ``settings``, or,
    for a ``command`` detection, the supervised command (``settings`` is then None)."""

    config: LauncherConfig
    detection: Detection
    settings: LayeredSettings | None
    steps: "tuple[Step, ...]" = ()

    @property
    def supervised(self) -> bool:
        return self.detection.kind == "command"

    @property
    def checks_only(self) -> bool:
        """``--check-config`` or ``--print-config``: nothing is served, no step runs."""
        asked = dict(self.detection.startup.settings) if self.detection.startup else {}
        words = self.config.env.get("GUNICORN_CMD_ARGS", "").split()
        return bool(
            asked.get("check_config")
            or asked.get("print_config")
            or {"--check-config", "--print-config"} & set(words)
        )


def make_plan(
    config: LauncherConfig,
    *,
    settings: bool = True,
    run_config_file: bool = True,
    extract: bool = True,
    prune: bool = False,
    interrupted: Callable[[], bool] | None = None,
) -> Plan:
    """Extract the build's archives (``extract``; ``prune`` drops older extractions),
    detect, then (``settings``) layer gunicorn's settings; ``LaunchError`` when there is
    nothing sane to do.  A supervised command never gets gunicorn settings."""
    if not fs.is_dir(config.app_dir):
        raise LaunchError(
            f"app folder {config.app_dir} does not exist or is not a folder; "
            "pass --app-dir or set APP_PATH to the folder holding your app"
        )
    if not os.access(config.app_dir, os.R_OK | os.X_OK):
        raise LaunchError(
            f"app folder {config.app_dir} cannot be read by the user the launcher runs as "
            f"(uid {os.getuid()}); make it readable (e.g. chmod a+rx) or run as its owner"
        )
    build = output.inspect(config.app_dir, config.env)
    if build is not None and build.error is not None:
        raise LaunchError(build.error)
    if build is not None and extract:
        build = output.prepare(build, config.env, prune=prune, interrupted=interrupted)
    detection = detect(config.app_dir, config.startup, config.env, build=build)
    if config.strict and detection.startup_error:
        raise LaunchError(strict_error(detection.startup_error))
    plan = Plan(config, detection, None, prestart_steps(config.env, detection))
    if not settings or plan.supervised:
        return plan
    return with_settings(plan, run_config_file=run_config_file)


def with_settings(plan: Plan, *, run_config_file: bool = True) -> Plan:
    """``plan`` with gunicorn's layered settings (running ``gunicorn.conf.py`` if asked)."""
    layered = layer_settings(plan.detection, plan.config.env, run_config_file=run_config_file)
    return plan._replace(settings=layered)


BUILD_ENV = "build.env"
MAX_BUILD_ENV_BYTES = 64 * 1024


def build_env(app_dir: Path) -> dict[str, str]:
    """The app folder's ``build.env`` (Oryx's ``KEY=value`` lines, values optionally quoted);
    empty when there is none or it is not a file to read."""
    try:
        data = fs.read_regular(app_dir / BUILD_ENV, MAX_BUILD_ENV_BYTES)
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in data[:MAX_BUILD_ENV_BYTES].decode(errors="replace").splitlines():
        name, equals, value = line.strip().removeprefix("export ").partition("=")
        if equals and name.strip() and not name.lstrip().startswith("#"):
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[name.strip()] = value
    return values


def prestart_steps(env: Mapping[str, str], detection: Detection) -> "tuple[Step, ...]":
    """App Service's ``PRE_RUN_COMMAND`` (its failure is logged, the app starts anyway; what
    it exports reaches the app), then the startup command's own steps.  The command comes
    from the environment, else from the app folder's ``build.env``, as Oryx reads it."""
    steps: list[Step] = []
    pre_run = env.get(PRE_RUN_VARIABLE, "").strip()
    pre_run = pre_run or build_env(detection.app_dir).get(PRE_RUN_VARIABLE, "").strip()
    if pre_run:
        from appservice_gunicorn.startup import shell  # the shell's grammar: for a command

        steps.append(shell.Step(pre_run, stop_on_failure=False, exports=True))
    if detection.startup is not None:
        steps.extend(detection.startup.steps)
    return tuple(steps)
