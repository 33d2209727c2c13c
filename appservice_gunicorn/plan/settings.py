"""gunicorn settings in layers, each value remembering where it came from.

Lowest to highest: the launcher's defaults, ``gunicorn.conf.py``,
``GUNICORN_CMD_ARGS``, App Service's environment variables, the startup
command.  gunicorn's ``Config`` validates every value as it is applied.
"""

import os
import shlex
import sys
from collections.abc import Mapping
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any, NamedTuple

from appservice_gunicorn.base import environment
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.base.gunicorn_api import SUPPORTED_WORKERS, Config
from appservice_gunicorn.detection.chain import Detection
from appservice_gunicorn.detection.rules import config_file
from appservice_gunicorn.files import writable
from appservice_gunicorn.plan import binds, debugging
from appservice_gunicorn.startup import gunicorn_options
from appservice_gunicorn.startup.gunicorn_options import OptionError, is_hook

LAUNCHER = "launcher"
DEFAULT_TIMEOUT = 600
# gunicorn computes these defaults from PORT and WEB_CONCURRENCY at import time;
# compared with the documented values, a setting the launcher made is never hidden.
ENV_FREE_DEFAULTS: dict[str, Any] = {"bind": ["127.0.0.1:8000"], "workers": 1}


class Setting(NamedTuple):
    name: str
    value: Any
    source: str


class LayeredSettings:
    """The effective settings (``values``) and the problems met while layering them."""

    def __init__(self) -> None:
        self.values: dict[str, Setting] = {}
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.config_file: Path | None = None
        # Where the worker's debug adapter listens (App Service's remote debugging), or None.
        self.debug: debugging.DebugAdapter | None = None

    def put(self, name: str, value: Any, source: str) -> None:
        self.values[name] = Setting(name, value, source)

    def value(self, name: str, default: Any = None) -> Any:
        setting = self.values.get(name)
        return default if setting is None else setting.value

    def source(self, name: str) -> str | None:
        setting = self.values.get(name)
        return None if setting is None else setting.source

    def apply(self, config: Config) -> None:
        for setting in self.values.values():
            config.set(setting.name, setting.value)

    def differing(self) -> dict[str, Setting]:
        """The settings whose value is not gunicorn's documented default."""
        # Each name is set once on ``reference`` and read back right away, so one Config
        # serves them all.
        defaults, reference = Config(), Config()
        changed: dict[str, Setting] = {}
        for name, setting in sorted(self.values.items()):
            if is_hook(name) and isinstance(setting.value, str):
                # Validating "module.function" would import it: a named hook always differs.
                changed[name] = setting
                continue
            reference.set(name, setting.value)
            default = ENV_FREE_DEFAULTS.get(name, defaults.settings[name].get())
            if reference.settings[name].get() != default:
                changed[name] = setting
        return changed


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
        source = _rel(detection.app_dir, config_path)
        if run_config_file:
            values = config_file.run(config_path)
        else:
            values, computed = config_file.read_literals(config_path)
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
    layered.notes += binds.check(layered.value("bind"), layered.source("bind"), env)
    if detection.kind == "default":
        _default_site_worker(layered)
    _check_worker_class(layered, detection)
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


def _default_site_worker(layered: LayeredSettings) -> None:
    """The default site is a WSGI app: a worker class set for the app (uvicorn's, from its
    gunicorn.conf.py) would answer every request with a 500; gunicorn's sync one serves it."""
    value = layered.value("worker_class")
    name = f"{value.__module__}.{value.__qualname__}" if isinstance(value, type) else value
    if isinstance(name, str) and name.startswith("egg:gunicorn#"):
        name = name.partition("#")[2]  # gunicorn's own, named as an entry point
    if value is None or name in gunicorn_options.wsgi_workers():
        return
    layered.notes.append(
        f"worker class {value!r} (from {layered.source('worker_class')}) is for the app; the "
        "default site, a WSGI app, is served by gunicorn's sync worker"
    )
    layered.put("worker_class", "sync", f"{LAUNCHER} (the default site)")


def _check_worker_class(layered: LayeredSettings, detection: Detection) -> None:
    """A worker class named by module must exist (found, not imported): gunicorn would
    stop with a traceback, after --explain said all was well."""
    value = layered.value("worker_class")
    if not isinstance(value, str) or value in SUPPORTED_WORKERS or value.startswith("egg:"):
        return
    module = value.partition(":")[0] if ":" in value else value.rpartition(".")[0]
    top = module.split(".")[0]
    venv_dirs = [str(p) for p in detection.venv.site_packages] if detection.venv else []
    where = [*sys.path, str(detection.app_dir), *venv_dirs]
    if top.isidentifier() and PathFinder.find_spec(top, where) is not None:
        return
    if top in sys.builtin_module_names or top in sys.modules:
        return
    raise LaunchError(
        f"worker class {value!r} (from {layered.source('worker_class')}): no module "
        f"{top or value!r} in the launcher's Python, the app folder or its virtualenv; install "
        "it (add it to requirements.txt) or fix the name (gunicorn's own: "
        f"{', '.join(SUPPORTED_WORKERS)})"
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


def _rel(app_dir: Path, path: Path) -> str:
    return os.path.relpath(path, app_dir) if path.is_relative_to(app_dir) else str(path)
