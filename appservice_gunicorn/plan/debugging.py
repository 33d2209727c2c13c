"""App Service's remote debugging (``APPSVC_REMOTE_DEBUGGING=TRUE``): where the debug
adapter listens, and the settings that let a breakpoint hold a request.

The platform swaps gunicorn for a development server under debugpy; here the served path
stays the real one.  debugpy listens in the worker, the process that runs the user's
code (``serve/debugger.py``), so there is one worker (one process to attach to), no
worker timeout (a request stopped at a breakpoint is not killed), and the app is imported
in that worker (not preloaded by the master), so that breakpoints in its module code hold.
"""

import sys
from collections.abc import Mapping
from typing import NamedTuple

from appservice_gunicorn.base import environment
from appservice_gunicorn.detection.chain import Detection
from appservice_gunicorn.files import modules

SWITCH = "APPSVC_REMOTE_DEBUGGING"
BREAK = "APPSVC_REMOTE_DEBUGGING_BREAK"
PORT = "APPSVC_TUNNEL_PORT"
DEFAULT_PORT = 5678  # debugpy's, and the platform's startup script's
# What debugging needs, whatever the configuration asked for.
SETTINGS = {"workers": 1, "timeout": 0, "preload_app": False}
SOURCE = f"env:{SWITCH}"


class DebugAdapter(NamedTuple):
    """Where debugpy listens, and whether the worker waits for a client first."""

    host: str
    port: int
    wait: bool


def requested(env: Mapping[str, str]) -> bool:
    return environment.flag(env, SWITCH)


def adapter(
    env: Mapping[str, str], detection: Detection, errors: list[str], notes: list[str]
) -> DebugAdapter | None:
    """The debug adapter to start, or None (debugging not asked for, or not possible:
    then one line in ``errors`` or ``notes`` says why and the app is served as usual)."""
    if not requested(env):
        return None
    if detection.kind == "default":
        notes.append(f"{SWITCH} is set but there is no app to debug (the default site is served)")
        return None
    raw = env.get(PORT, "").strip()
    port = DEFAULT_PORT
    if raw:
        if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 65536):
            errors.append(
                f"{PORT}={raw!r} is not a port number (1-65535); remote debugging is off: "
                f"set {PORT} to the port the debugger connects to"
            )
            return None
        port = int(raw)
    if not _has_debugpy(detection):
        where = "the app's virtualenv" if detection.venv else "the launcher's Python"
        errors.append(
            f"{SWITCH} is set but debugpy is not installed (looked in {where}); add "
            "debugpy to requirements.txt (pip install debugpy) and redeploy. Serving without "
            "the debugger"
        )
        return None
    host = env.get("HOST", "").strip() or "0.0.0.0"  # as the platform's script: all addresses
    return DebugAdapter(host, port, environment.flag(env, BREAK))


def _has_debugpy(detection: Detection) -> bool:
    """Found, not imported: detection never runs code.  A compressed virtualenv not
    extracted yet (``--explain``) cannot be looked into: then it is taken as there."""
    if detection.build is not None and detection.build.venv_unseen:
        return True
    site = [str(p) for p in detection.venv.site_packages] if detection.venv else []
    where = [*site, *([str(detection.pythonpath)] if detection.pythonpath else []), *sys.path]
    return modules.findable("debugpy", where)
