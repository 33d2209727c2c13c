"""gunicorn settings in layers, each value remembering where it came from.

Lowest to highest: the launcher's defaults, ``gunicorn.conf.py``,
``GUNICORN_CMD_ARGS``, App Service's environment variables, the startup
command.  gunicorn's ``Config`` validates every value as it is applied.
"""

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appservice_gunicorn.base import environment
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.base.gunicorn_api import SUPPORTED_WORKERS
from appservice_gunicorn.detection import app_variable
from appservice_gunicorn.detection.chain import Detection
from appservice_gunicorn.detection.rules import config_file
from appservice_gunicorn.files import modules, writable
from appservice_gunicorn.plan import binds, debugging, default_site
from appservice_gunicorn.plan.layers import (
    DEFAULT_TIMEOUT,
    LAUNCHER,
    LayeredSettings,
    file_source,
)
from appservice_gunicorn.startup import gunicorn_options
from appservice_gunicorn.startup.gunicorn_options import OptionError


def launcher_defaults(detection: Detection, env: Mapping[str, str]) -> LayeredSettings:
    layered = LayeredSettings()
    port = environment.port(env, layered.errors)
    layered.put("bind", [f"0.0.0.0:{port}"], LAUNCHER)
    layered.put("timeout", DEFAULT_TIMEOUT, LAUNCHER)
    layered.put("accesslog", "-", LAUNCHER)
    layered.put("errorlog", "-", LAUNCHER)
    layered.put("chdir", str(detection.app_dir), LAUNCHER)
    if detection.worker_class:
        layered.put("worker_class", detection.worker_class, f"{LAUNCHER} ({detection.kind} app)")
    for found in environment.default_workers(env, layered.errors):
        layered.put(found.name, found.value, found.source)
    if environment.on_app_service(env) and "FORWARDED_ALLOW_IPS" not in env:
        # TLS ends at App Service's front end, which reaches the container from an address
        # of its own: trusted, its X-Forwarded-Proto makes request.scheme https (OAuth
        # redirects, Django's is_secure()).  A value of the user's wins, as any setting.
        layered.put("forwarded_allow_ips", "*", f"{LAUNCHER} (App Service's front end)")
    paste_logging = _paste_logging(detection)
    if paste_logging is not None:
        # As gunicorn --paste does: the file's own logging set-up, when it has one.
        layered.put("logconfig", str(paste_logging), f"{LAUNCHER} (--paste file's [loggers])")
    return layered


def _paste_logging(detection: Detection) -> Path | None:
    if not detection.paste or detection.app is None or detection.pythonpath is None:
        return None
    path = detection.pythonpath / detection.app.removeprefix("config:").split("#")[0]
    import configparser  # PasteDeploy apps only: 2.4 ms off every other start

    parser = configparser.ConfigParser()
    try:
        parser.read([path])
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None  # loading the app will report the file's problem
    return path if parser.has_section("loggers") else None


def layer_settings(
    detection: Detection, env: Mapping[str, str], *, run_config_file: bool = True
) -> LayeredSettings:
    """All layers for ``detection``.

    ``run_config_file=False`` reads ``gunicorn.conf.py`` as literals only, so that
    ``--explain`` never runs user code.
    """
    layered = launcher_defaults(detection, env)
    startup_settings = dict(detection.startup.settings) if detection.startup else {}
    cmd_args = _cmd_args(env)

    config_name, config_origin = config_file.asked(startup_settings, cmd_args.get("config"), env)
    config_path = config_file.path(detection.app_dir, config_name, config_origin)
    if config_path is not None:
        layered.config_file = config_path
        source = file_source(detection.app_dir, config_path)
        if run_config_file:
            values = config_file.run(config_path)
        else:
            values, computed = config_file.read_literals(config_path)
            layered.computed = frozenset(computed)
            if computed:
                layered.notes.append(
                    f"{source}: {', '.join(computed)}: depends on run-time code (a computed "
                    "value, an if/else, a hook), not evaluated by --explain"
                )
        for name, value in values.items():
            _put_checked(layered, name, value, source)

    for name, value in cmd_args.items():
        layered.put(name, value, "GUNICORN_CMD_ARGS")
    for found in environment.platform_settings(env, layered.errors, layered.notes):
        layered.put(found.name, found.value, found.source)
    startup_source = "startup"
    if detection.startup is not None and detection.startup.origin.startswith("Procfile"):
        startup_source = "Procfile"
    for name, value in startup_settings.items():
        layered.put(name, value, startup_source)
    _debugging(layered, detection, env)
    _cap_counts(layered)
    if detection.kind == "default":
        default_site.adjust(layered, detection.app_dir, env)
    layered.notes += binds.check(layered.value("bind"), layered.source("bind"), env)
    _check_worker_class(layered, detection)
    _check_protocol(layered, detection)
    if layered.value("daemon"):
        raise LaunchError(
            f"--daemon (from {layered.source('daemon')}) would fork gunicorn into the background "
            "and end the container's main process; remove it: the launcher serves in the "
            "foreground, as a container's process must"
        )
    # Where gunicorn writes at run time, checked before it needs to (read-only filesystems).
    placements = (
        writable.worker_tmp(layered.value("worker_tmp_dir"), layered.source("worker_tmp_dir"), env),
        writable.control_socket(
            layered.value("control_socket_disable"),
            layered.value("control_socket"),
            layered.source("control_socket"),
            detection.app_dir,
            env,
            os.getpid(),  # the master's: the launcher's own process, kept across its exec
        ),
    )
    for placement in filter(None, placements):
        layered.put(placement.name, placement.value, placement.source)
        if placement.note:
            layered.notes.append(placement.note)
    return layered


def _debugging(layered: LayeredSettings, detection: Detection, env: Mapping[str, str]) -> None:
    """Remote debugging's settings, above every layer: what was asked for instead is a note."""
    layered.debug = debugging.adapter(env, detection, layered.errors, layered.notes)
    if layered.debug is None:
        return
    for name, value in debugging.SETTINGS.items():
        asked = layered.value(name)
        if asked not in (None, value) and layered.source(name) != LAUNCHER:
            layered.notes.append(
                f"{name} = {asked!r} (from {layered.source(name)}) is set to {value!r} while "
                f"remote debugging ({debugging.SWITCH})"
            )
        layered.put(name, value, debugging.SOURCE)


def _cap_counts(layered: LayeredSettings) -> None:
    """Workers and threads beyond what any machine serves with: one ERROR line, then the
    maximum (thousands of forks would exhaust the machine and delay every signal)."""
    for name, limit in (("workers", environment.MAX_WORKERS), ("threads", environment.MAX_THREADS)):
        value = layered.value(name)
        try:
            count = int(value)
        except (TypeError, ValueError):
            continue
        if count > limit:
            source = layered.source(name)
            layered.errors.append(
                f"{name} = {count} (from {source}) is more than {limit}, the most the launcher "
                f"starts; using {limit}. Set a number that fits the machine (2 x cores + 1 "
                "workers is the usual choice)"
            )
            layered.put(name, limit, f"launcher (at most {limit}; {source} asked for {count})")


def _check_worker_class(layered: LayeredSettings, detection: Detection) -> None:
    """A worker class named by module must exist (found, not imported): gunicorn would
    stop with a traceback, after --explain said all was well."""
    value = layered.value("worker_class")
    if not isinstance(value, str) or value in SUPPORTED_WORKERS or value.startswith("egg:"):
        return
    module = value.partition(":")[0] if ":" in value else value.rpartition(".")[0]
    top = module.split(".")[0]
    venv_dirs = [str(p) for p in detection.venv.site_packages] if detection.venv else []
    if modules.findable(top, [*sys.path, str(detection.app_dir), *venv_dirs]):
        return
    raise LaunchError(
        f"worker class {value!r} (from {layered.source('worker_class')}): no module "
        f"{top or value!r} in the launcher's Python, the app folder or its virtualenv; install "
        "it (add it to requirements.txt) or fix the name (gunicorn's own: "
        f"{', '.join(SUPPORTED_WORKERS)})"
    )


def _check_protocol(layered: LayeredSettings, detection: Detection) -> None:
    """An app a WSGI worker cannot call (an ASGI app, a Tornado application): the worker
    stops at its import with this reason (``serve/importer.check_protocol``); said first."""
    worker = layered.value("worker_class", "sync")
    if detection.app is None or worker not in gunicorn_options.wsgi_workers():
        return
    source = layered.source("worker_class") or "gunicorn's default"
    if detection.kind == "asgi":
        layered.notes.append(
            f"{detection.app} is an ASGI app, but gunicorn's {worker} worker (from {source}) "
            "serves WSGI apps and will refuse it; add --worker-class asgi (or "
            "uvicorn_worker.UvicornWorker) to the startup command"
        )
        return
    assert detection.pythonpath is not None
    tornado = app_variable.tornado_class(detection.pythonpath, detection.app)
    if tornado is not None and worker not in gunicorn_options.TORNADO_WORKERS:
        layered.notes.append(
            f"{detection.app} is a Tornado {tornado}, which gunicorn's {worker} worker (from "
            f"{source}) cannot call as a WSGI app and will refuse; add --worker-class tornado "
            "to the startup command (or run it with its own server)"
        )


def _cmd_args(env: Mapping[str, str]) -> dict[str, Any]:
    raw = env.get("GUNICORN_CMD_ARGS", "")
    if not raw.strip():
        return {}
    try:
        _, values = gunicorn_options.parse(shlex.split(raw), "GUNICORN_CMD_ARGS")
    except ValueError as exc:
        raise LaunchError(f"GUNICORN_CMD_ARGS: cannot split it into words ({exc})") from None
    except OptionError as exc:
        raise LaunchError(str(exc)) from None
    return values


def _put_checked(layered: LayeredSettings, name: str, value: Any, source: str) -> None:
    """The value as gunicorn will hold it (``bind = "host:port"`` is a list of one), when
    gunicorn accepts that form again; else as written (``forwarded_allow_ips = "*"``:
    gunicorn takes the string only, and splits it itself)."""
    try:
        checked = gunicorn_options.validate(name, value, source, as_option=False)
    except OptionError as exc:
        raise LaunchError(str(exc)) from None
    try:
        gunicorn_options.validate(name, checked, source, as_option=False)
    except OptionError:
        checked = value
    layered.put(name, checked, source)
