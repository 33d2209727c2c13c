"""The default site's settings: it explains why no app is served, so it must answer where
the platform sends requests, with a worker that serves it, whatever the app's own
configuration asked for."""

from collections.abc import Mapping
from pathlib import Path

from appservice_gunicorn.base import environment
from appservice_gunicorn.plan.layers import LAUNCHER, LayeredSettings, file_source
from appservice_gunicorn.startup import gunicorn_options

SOURCE = f"{LAUNCHER} (the default site)"


def adjust(layered: LayeredSettings, app_dir: Path, env: Mapping[str, str]) -> None:
    _worker(layered)
    _bind(layered, app_dir, env)


def _worker(layered: LayeredSettings) -> None:
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
    layered.put("worker_class", "sync", SOURCE)


def _bind(layered: LayeredSettings, app_dir: Path, env: Mapping[str, str]) -> None:
    """On ``$PORT``, where the platform probes, not where the app's own ``gunicorn.conf.py``
    would have listened (a bind given to the launcher itself is kept)."""
    config = layered.config_file
    if config is None or layered.source("bind") != file_source(app_dir, config):
        return
    port = environment.port(env)
    binds = layered.value("bind") or []
    if any((found := environment.split_bind(b)) and str(found[1]) == port for b in binds):
        return
    layered.notes.append(
        f"bind = {binds!r} (from {layered.source('bind')}) is the app's; the default site "
        f"listens on port {port} ($PORT), where requests arrive"
    )
    layered.put("bind", [f"0.0.0.0:{port}"], SOURCE)
