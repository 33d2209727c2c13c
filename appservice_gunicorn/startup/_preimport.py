"""Import gunicorn's settings so that ``WEB_CONCURRENCY`` cannot crash or bypass the launcher.

gunicorn computes its ``workers`` default as ``int(os.environ["WEB_CONCURRENCY"])`` when
``gunicorn.config`` is imported: ``WEB_CONCURRENCY=auto`` would stop the launcher with a
traceback, and ``0`` or ``-2`` would become the default unchecked.  The variable is hidden
during that one import and put back; ``platform.default_workers`` reads it instead, and
reports a bad value as an ERROR line and uses the default.
"""

import os


def import_gunicorn_config() -> None:
    raw = os.environ.pop("WEB_CONCURRENCY", None)
    try:
        import gunicorn.config  # noqa: F401
    finally:
        if raw is not None:
            os.environ["WEB_CONCURRENCY"] = raw


import_gunicorn_config()
