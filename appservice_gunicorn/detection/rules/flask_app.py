"""The rule from App Service's neighbours that reads a variable: Flask's ``FLASK_APP``, from
the environment or the project's ``.flaskenv`` (files are read as text and AST only)."""

import os
import re
from collections.abc import Mapping
from pathlib import Path

from appservice_gunicorn.detection.context import Context, Found, Match, Miss
from appservice_gunicorn.files import fs, pysource


def rule(context: Context) -> Match | Miss:
    """The flask-app rule: ``FLASK_APP`` (or ``.flaskenv``'s) names the app."""
    found = flask_app(context.app_dir, context.env)
    if isinstance(found, Found):
        public = "FLASK_APP names the app"
        return Match(found.kind, found.reason, public, found.app, found.pythonpath)
    reason, public = found
    # Set, but naming nothing that serves: worth a line whatever matches later.
    notes = () if reason == NOT_SET else (reason,)
    if reason == NOT_SET and _unreadable_flaskenv(context.app_dir):
        notes = (".flaskenv is not a regular file (a FIFO or a device): it is not read",)
    return Miss(reason, public, notes)


def flask_app(app_dir: Path, env: Mapping[str, str]) -> Found | tuple[str, str]:
    """``FLASK_APP`` as Flask's CLI reads it: ``module``, ``module:name``,
    ``module:create_app(args)``, or a path (``src/hello.py``); else (reason, public)."""
    value, name, fix = env.get("FLASK_APP", "").strip(), "FLASK_APP", "FLASK_APP"
    if not value:
        value, name, fix = _flaskenv_app(app_dir), ".flaskenv's FLASK_APP", "FLASK_APP in .flaskenv"
    if not value:
        return NOT_SET, NOT_SET
    target, _, attribute = value.partition(":")
    root, module = _import_location(app_dir, target.strip())
    path = pysource.module_file(root, module) if module else None
    if path is None:
        reason = (
            f"{name}={value!r} names module {module or target!r}, which is not in {root}; "
            f"fix {fix} or deploy the module"
        )
        return reason, "FLASK_APP names a module that is not in the app folder"
    scan = pysource.scan_module(path)
    chosen = attribute.strip() or scan.choose()
    if chosen is None:
        seen = ", ".join(scan.names[:8]) or "none"
        reason = f"{name}={value!r}: {path.name} defines no app object; names seen: {seen}"
        return reason, "FLASK_APP names a module without an app object"
    kind = scan.kind_of(chosen.split("(")[0].strip(), [root])
    return Found(
        app=f"{module}:{chosen}",
        kind=kind,
        pythonpath=root,
        reason=f"{name}={value} -> {module}:{chosen} ({kind.upper()})",
    )


NOT_SET = "FLASK_APP is not set (nor in .flaskenv)"
MAX_FLASKENV_BYTES = 64 * 1024
# dotenv's line: [export] FLASK_APP=value, the value quoted or to the end of the line (a
# comment after a space cut off).
_FLASKENV_APP = re.compile(r"[ \t]*(?:export[ \t]+)?FLASK_APP[ \t]*=[ \t]*(.*)")
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unreadable_flaskenv(app_dir: Path) -> bool:
    path = app_dir / ".flaskenv"
    return os.path.lexists(path) and os.path.exists(path) and not os.path.isfile(path)


def _flaskenv_app(app_dir: Path) -> str:
    """``FLASK_APP`` as the project's ``.flaskenv`` sets it for Flask's own command (public
    settings, by Flask's convention: ``.env``, which holds secrets, is not read), the last
    line winning, as python-dotenv reads it."""
    try:
        data = fs.read_regular(app_dir / ".flaskenv", MAX_FLASKENV_BYTES)
    except OSError:
        return ""  # none, or not a file to read (a FIFO, a device): as Flask's CLI, none
    lines = data[:MAX_FLASKENV_BYTES].decode("utf-8-sig", errors="replace").splitlines()
    value = ""
    for line in lines:
        match = _FLASKENV_APP.fullmatch(line)
        if match is None:
            continue
        raw = match.group(1)
        quoted = _DOUBLE_QUOTED.match(raw)
        if quoted:
            value = re.sub(r"\\(.)", r"\1", quoted.group(1))
        elif raw[:1] == "'" and "'" in raw[1:]:
            value = raw[1 : raw.index("'", 1)]
        else:
            value = re.split(r"\s#", raw, maxsplit=1)[0].strip()
    return value


def _import_location(app_dir: Path, target: str) -> tuple[Path, str]:
    """(import root, dotted module) of FLASK_APP's module part, as Flask's
    ``prepare_import`` finds them: a path is imported from above its outermost package."""
    if "/" not in target and not target.endswith(".py"):
        return app_dir, target
    path = app_dir / target.removesuffix(".py")
    if path.name == "__init__":
        path = path.parent
    parts = [path.name]
    folder = path.parent
    while fs.is_file(folder / "__init__.py") and folder != app_dir.parent:
        parts.append(folder.name)
        folder = folder.parent
    return folder, ".".join(reversed(parts))
