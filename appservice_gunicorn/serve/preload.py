"""The app's web framework, imported in the master before the workers fork.

Workers forked from a master that has already imported Flask, FastAPI or Django's handler
modules share those pages copy-on-write and skip the import: every worker is ready sooner
and the tree uses less memory.  Only framework packages are imported, chosen from the
detection and the app module's own imports (read from its AST), and only from a
site-packages (the launcher's or the app's virtualenv), never the app's own code, never
``django.setup()``.  ``APPSVC_PRELOAD_FRAMEWORK=0`` turns it off; gunicorn's ``--preload``
(which imports the whole app in the master) makes it moot.

What the master has imported, it keeps: ``fingerprint`` records each preloaded module's
file, and ``stale`` tells when a redeploy brings another version (a new virtualenv, an
upgraded package), which new workers forked from this master would not see.
"""

import importlib
import logging
import os
import sys
from collections.abc import Mapping
from importlib.machinery import PathFinder
from pathlib import Path
from typing import NamedTuple

from appservice_gunicorn.base import environment
from appservice_gunicorn.detection import django_settings
from appservice_gunicorn.detection.chain import Detection
from appservice_gunicorn.files import pysource

log = logging.getLogger(__name__)

SWITCH = "APPSVC_PRELOAD_FRAMEWORK"
DJANGO_SETTINGS = "DJANGO_SETTINGS_MODULE"
# The modules a worker of each framework imports anyway, before the app's own code.
FRAMEWORKS: Mapping[str, tuple[str, ...]] = {
    "flask": ("flask",),
    "fastapi": ("fastapi",),
    "starlette": ("starlette.applications", "starlette.routing"),
    # Django's without its settings: the request handlers, the ORM, forms, templates and
    # what a startproject's middleware and admin import (django.setup() stays the worker's).
    "django": (
        "django.core.handlers.wsgi",
        "django.core.handlers.asgi",
        "django.urls",
        "django.db.models",
        "django.forms",
        "django.views.generic",
        "django.template.backends.django",
        "django.middleware.csrf",
        "django.contrib.sessions.middleware",
        "django.contrib.messages.middleware",
        "django.contrib.staticfiles.handlers",
        "django.contrib.admin.sites",
        "django.db.migrations",
    ),
    "falcon": ("falcon",),
    "pyramid": ("pyramid.config", "pyramid.router"),
    "bottle": ("bottle",),
    "quart": ("quart",),
}
# Imported by the app, these change the standard library in place (monkey-patching) or start
# threads at import: a master must not import anything before them.
DENY = frozenset({"gevent", "eventlet", "ddtrace", "newrelic", "elasticapm", "sanic"})
DENY_WORKERS = ("gevent", "eventlet", "tornado")


class Preloaded(NamedTuple):
    """Modules imported in the master, each with (file, size, mtime) as loaded."""

    files: Mapping[str, tuple[str, int, int]]


def frameworks(detection: Detection) -> list[str]:
    """The framework packages the app uses, read from files (never imported)."""
    if detection.kind not in ("wsgi", "asgi") or detection.app is None or detection.paste:
        return []
    found: list[str] = ["django"] if detection.rule == "django" else []
    root = detection.pythonpath or detection.app_dir
    module = pysource.module_file(root, detection.app.partition(":")[0])
    imports = pysource.imported_packages(module) if module is not None else set()
    if imports & DENY:
        return []
    found += [name for name in FRAMEWORKS if name in imports and name not in found]
    return found


def modules(package: str, detection: Detection, env: Mapping[str, str]) -> list[str]:
    """What to import for ``package``: its modules above, and for Django what the app's
    settings name of Django's own (its database backend, ``django.middleware`` classes)."""
    names = list(FRAMEWORKS[package])
    if package != "django" or detection.app is None:
        return names
    root = detection.pythonpath or detection.app_dir
    wsgi = pysource.module_file(root, detection.app.partition(":")[0])
    settings = env.get(DJANGO_SETTINGS) or (
        django_settings.settings_module(wsgi) if wsgi is not None else None
    )
    if not settings:
        return names
    for engine in django_settings.strings(root, settings, "DATABASES"):
        if engine.startswith("django.db.backends."):
            names.append(f"{engine}.base")
    for path in django_settings.strings(root, settings, "MIDDLEWARE"):
        if path.startswith("django.middleware."):
            names.append(path.rpartition(".")[0])
    return list(dict.fromkeys(names))


def preload(detection: Detection, worker_class: str, env: Mapping[str, str]) -> Preloaded:
    """Import the app's framework modules here (the master); failures are DEBUG notes."""
    if _switched_off(env) or any(name in worker_class.lower() for name in DENY_WORKERS):
        return Preloaded({})
    imported: dict[str, tuple[str, int, int]] = {}
    saved = list(sys.path)
    # A module that reads Django's settings when imported must fail here, not import the
    # app's settings module (user code) in the master.
    settings_module = os.environ.pop(DJANGO_SETTINGS, None)
    # The virtualenv first, as in the worker: what is imported here is what a worker
    # would import (the master otherwise keeps the venv after its own packages).  The app's
    # own folders are left out: a framework's optional import (fastapi tries ujson) must not
    # find the app's ujson.py here.
    venv_dirs = _venv_dirs(detection)
    app_roots = [str(p) for p in (detection.app_dir, detection.pythonpath) if p is not None]
    sys.path[:] = [*venv_dirs, *(p for p in saved if not _under_any(p, app_roots))]
    try:
        for package in frameworks(detection):
            if not _outside_app(package, detection):
                log.debug("preload: %s comes from the app folder; not imported", package)
                continue
            for name in modules(package, detection, env):
                try:
                    module = importlib.import_module(name)
                except Exception as exc:  # a broken install: the worker will say what
                    log.debug("preload: importing %s failed (%r)", name, exc)
                    continue
                stamp = _stamp(getattr(module, "__file__", None))
                if stamp is not None:
                    imported[name] = stamp
    finally:
        sys.path[:] = saved
        if settings_module is not None:
            os.environ[DJANGO_SETTINGS] = settings_module
    if imported:
        log.debug("preload: imported %s in the master", ", ".join(imported))
    return Preloaded(imported)


def _under_any(path: str, roots: list[str]) -> bool:
    absolute = os.path.abspath(path or ".")
    return any(absolute == root or absolute.startswith(root + os.sep) for root in roots)


def _switched_off(env: Mapping[str, str]) -> bool:
    value = env.get(SWITCH, "").strip().lower()
    return bool(value) and value in environment.FALSE


def _outside_app(package: str, detection: Detection) -> bool:
    """Found in a site-packages (the launcher's or the venv's), not among the app's files."""
    spec = PathFinder.find_spec(package, sys.path)
    origin = spec.origin if spec is not None else None
    if origin is None:
        return False
    if any(origin.startswith(folder + os.sep) for folder in _venv_dirs(detection)):
        return True
    return not origin.startswith(str(detection.app_dir) + os.sep)


def _stamp(file: str | None) -> tuple[str, int, int] | None:
    if not file:
        return None
    try:
        info = os.stat(file)
    except OSError:
        return None
    return file, info.st_size, info.st_mtime_ns


def stale(preloaded: Preloaded, detection: Detection) -> str | None:
    """Why workers forked from this master would run another version of a preloaded
    module than the redeployed app has, or None."""
    search = _search_path(detection)
    for name, (file, size, mtime) in preloaded.files.items():
        spec = PathFinder.find_spec(name.split(".")[0], search)
        if spec is None or spec.origin is None:
            continue  # the new app may not use it: the workers will import what it uses
        top_file = _top_file(name, file)
        if top_file is not None and Path(spec.origin) != Path(top_file):
            return f"{name.split('.')[0]} now comes from {spec.origin}, not {top_file}"
        if _stamp(file) != (file, size, mtime):
            return f"{file} changed (an upgraded {name.split('.')[0]}?)"
    return None


def _search_path(detection: Detection) -> list[str]:
    return [*_venv_dirs(detection), *sys.path]


def _venv_dirs(detection: Detection) -> list[str]:
    return [str(p) for p in detection.venv.site_packages] if detection.venv else []


def _top_file(name: str, file: str) -> str | None:
    """The ``__init__.py`` of the top package of module ``name`` loaded from ``file``."""
    depth = name.count(".")
    path = Path(file)
    if path.name == "__init__.py":
        path = path.parent
    for _ in range(depth):
        path = path.parent
    candidate = path / "__init__.py"
    return str(candidate) if candidate.is_file() else str(path) + ".py"
