"""gunicorn's config file: which one is read, what it sets, and ``wsgi_app`` in it.

Serving runs it as gunicorn does (``run``); ``--explain`` and detection read it as AST only
(``read_literals``, ``wsgi_app``): a value computed by code is named, never evaluated.
"""

import ast
import os
import runpy
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appservice_gunicorn.base.boot import Interrupted
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.base.import_failures import user_traceback
from appservice_gunicorn.detection.context import Context, Match, Miss, kind_of
from appservice_gunicorn.files import fs, pysource
from appservice_gunicorn.startup.gunicorn_options import SETTINGS, is_hook

CONFIG_FILE = "gunicorn.conf.py"
PATH_VARIABLE = "PYTHON_USE_GUNICORN_CONFIG_FROM_PATH"


def asked(
    startup: Mapping[str, Any], cmd_args_config: Any, env: Mapping[str, str]
) -> tuple[Any, str]:
    """The config file asked for, and by what: ``-c`` in the startup command, then in
    ``GUNICORN_CMD_ARGS``, then App Service's ``PYTHON_USE_GUNICORN_CONFIG_FROM_PATH``."""
    if startup.get("config"):
        return startup["config"], "-c"
    if cmd_args_config:
        return cmd_args_config, "-c in GUNICORN_CMD_ARGS"
    from_path = env.get(PATH_VARIABLE, "").strip()
    return from_path or None, PATH_VARIABLE


def path(app_dir: Path, name: Any, origin: str = "-c") -> Path | None:
    """The config file gunicorn will read (None: none named, and no gunicorn.conf.py);
    ``LaunchError`` when the one named cannot be used."""
    if name:
        text = str(name)
        if text.startswith("python:"):
            raise LaunchError(
                f"config {text!r}: module config files are not supported by the launcher; "
                "name a file such as gunicorn.conf.py"
            )
        found = Path(text.removeprefix("file:"))
        found = found if found.is_absolute() else app_dir / found
        if not fs.is_file(found):
            raise LaunchError(
                f"config file {text!r} (from {origin}) not found in {app_dir}; deploy it or "
                f"drop {origin.split(' ')[0]}"
            )
        return found
    return fs.file_in(app_dir, CONFIG_FILE)


def find(
    app_dir: Path, startup: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[Path | None, str]:
    """For detection, which never stops: the config file and what names it, or None."""
    name, origin = asked(startup, _cmd_args_config(env.get("GUNICORN_CMD_ARGS", "")), env)
    try:
        return path(app_dir, name, origin), origin if name else CONFIG_FILE
    except LaunchError:
        return None, origin  # layering the settings reports it


def _cmd_args_config(text: str) -> str | None:
    if "c" not in text:
        return None  # neither -c nor --config, however quoted: no need to split the words
    try:
        words = shlex.split(text)
    except ValueError:
        return None  # reported where the settings are layered
    for index, word in enumerate(words):
        if word in ("-c", "--config") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--config="):
            return word.partition("=")[2]
        if word.startswith("-c") and len(word) > 2:
            return word[2:]
    return None


def wsgi_app(found: Path | None) -> str | None:
    """``wsgi_app = "module:variable"`` in a gunicorn config file, when only literals set
    it (a value code computes or overrides is left to gunicorn: None)."""
    if found is None or not fs.is_file(found):
        return None
    try:
        values, computed = read_literals(found)
    except LaunchError:
        return None  # layering the settings reports it
    value = values.get("wsgi_app")
    return value if isinstance(value, str) and value and "wsgi_app" not in computed else None


def run(path: Path) -> dict[str, Any]:
    """Execute a gunicorn config file as gunicorn does and keep its settings."""
    if not os.access(path, os.R_OK):
        raise LaunchError(
            f"{path} cannot be read by the user the launcher runs as (uid {os.getuid()}); "
            "make it readable (e.g. chmod a+r)"
        )
    try:
        namespace = runpy.run_path(str(path), run_name="__config__")
    except Interrupted:
        raise
    except SystemExit as exc:
        # gunicorn would exit here, silently with status 0: say why instead.
        raise LaunchError(
            f"{path.name} called sys.exit({exc.code!r}) while the launcher read its settings; "
            "a gunicorn config file only sets values: remove the exit"
        ) from None
    except Exception as exc:
        raise LaunchError(
            f"{path.name} failed to load: {exc!r}; fix it (its traceback below)\n"
            f"{user_traceback(exc)}"
        ) from None
    return {k: v for k, v in namespace.items() if k in SETTINGS}


def read_literals(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A config file's literal settings, and the names it computes (left alone)."""
    try:
        tree = pysource.parse(path)
    except (SyntaxError, ValueError, OSError) as exc:
        raise LaunchError(f"{path.name} cannot be read: {exc}") from None
    values: dict[str, Any] = {}
    computed: list[str] = []
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            # Set under an if/try/for, by a function's ``global`` or by ``+=``: the value
            # depends on code that runs, whatever a literal elsewhere says.
            computed.extend(n for n in _names_set_by_code(node) if n in SETTINGS)
            continue
        for target in node.targets:
            if not isinstance(target, ast.Name) or target.id not in SETTINGS:
                continue
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                computed.append(target.id)
                continue
            if is_hook(target.id):
                # A hook named as "module.function": gunicorn's validator would import it.
                computed.append(target.id)
                continue
            values[target.id] = value
    computed = list(dict.fromkeys(computed))
    return {k: v for k, v in values.items() if k not in computed}, computed


def _names_set_by_code(node: ast.stmt) -> list[str]:
    """Module-level names a statement other than a plain assignment may bind."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        declared = [n for g in pysource.walk(node) if isinstance(g, ast.Global) for n in g.names]
        return declared
    return [
        n.id
        for n in pysource.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]


NO_WSGI_APP = "no wsgi_app in gunicorn's config file"


def rule(context: Context) -> Match | Miss:
    """The config-file rule: ``wsgi_app`` in gunicorn's config file names the app."""
    command = context.startup.command
    app_dir = context.app_dir
    config_path, origin = find(app_dir, command.settings if command else {}, context.env)
    configured = wsgi_app(config_path)
    if not configured or config_path is None:
        return Miss(NO_WSGI_APP, NO_WSGI_APP)
    where = (
        str(config_path.relative_to(app_dir))
        if config_path.is_relative_to(app_dir)
        else (str(config_path))
    )
    named = "" if origin == where else f" (from {origin})"  # not gunicorn.conf.py's own
    return Match(
        kind_of(app_dir, configured),
        f"{where}{named} sets wsgi_app = {configured!r}",
        "gunicorn's config file names the app",
        configured,
        app_dir,
    )
