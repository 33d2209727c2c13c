"""The parts of gunicorn the launcher builds on, imported here and nowhere else.

One place, for two reasons.  gunicorn computes its ``workers`` default as
``int(os.environ["WEB_CONCURRENCY"])`` when ``gunicorn.config`` is imported:
``WEB_CONCURRENCY=auto`` would stop the launcher with a traceback, and ``0`` or ``-2`` would
become the default unchecked.  The variable is hidden during that import and put back;
``environment.default_workers`` reads it instead, and reports a bad value as an ERROR line.
And what the launcher takes from gunicorn is listed here, for whoever upgrades it (the
private behaviours it relies on have tests of their own: tests/unit/base/test_gunicorn_api.py).
``gunicorn.errors`` (no settings read) is imported directly where needed: the redeploy's
proof, a fresh process, stays light.
"""

import os

_hidden = os.environ.pop("WEB_CONCURRENCY", None)
try:
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter
    from gunicorn.config import KNOWN_SETTINGS, Config
    from gunicorn.workers import SUPPORTED_WORKERS
finally:
    if _hidden is not None:
        os.environ["WEB_CONCURRENCY"] = _hidden

__all__ = ["KNOWN_SETTINGS", "SUPPORTED_WORKERS", "Arbiter", "BaseApplication", "Config"]
