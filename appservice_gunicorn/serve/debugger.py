"""The worker's side of remote debugging (``plan/debugging.py``): debugpy listens in the
process that imports and runs the app, so a breakpoint in a view stops the request that
reached it."""

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from appservice_gunicorn.plan.debugging import BREAK, PORT, DebugAdapter

log = logging.getLogger(__name__)
# After a redeploy (or a restarted worker), the previous worker's adapter holds the port
# until it has ended: the new worker tries again for this long.
PORT_WAIT = 30.0
STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def listen(adapter: DebugAdapter, wait_for_port: float = PORT_WAIT) -> None:
    """Start debugpy's adapter on ``adapter``'s address (and, with ``wait``, block until a
    client attaches).  A failure is one ERROR line: the app is served without it."""
    # Not the standard library's frozen modules warning on every start: breakpoints in
    # the app's files are unaffected by it.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        import debugpy
    except ImportError as exc:  # found at plan time, but not importable
        log.error("remote debugging is off: debugpy cannot be imported (%s)", exc)
        return
    problem = _listen(debugpy, adapter)
    if problem is not None and "in use" in problem:
        # The previous worker's adapter (a redeploy): this worker must import the app
        # meanwhile, or that worker would never retire and free the port.
        log.info(
            "Remote debugging: %s:%d is still in use (the previous worker's debugger?); "
            "listening as soon as it is free",
            adapter.host,
            adapter.port,
        )
        threading.Thread(
            target=_listen_later, args=(debugpy, adapter, wait_for_port), daemon=True
        ).start()
        return
    if problem is not None:
        _off(adapter, problem)
        return
    if adapter.wait:
        log.info("Remote debugging: waiting for a debugger to attach (%s)", BREAK)
        _wait_for_client(debugpy)
        log.info("Remote debugging: a debugger attached")


def _wait_for_client(debugpy: Any) -> None:
    """debugpy's wait (until the debugger has set its breakpoints), in a thread, so that a
    stop signal meanwhile ends the worker at once rather than at gunicorn's kill."""
    stops: list[int] = []
    previous = {s: signal.signal(s, lambda n, _f: stops.append(n)) for s in STOPS}
    waiting = threading.Thread(target=debugpy.wait_for_client, daemon=True)
    waiting.start()
    try:
        while waiting.is_alive() and not stops:
            waiting.join(0.1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stops:
        log.info("Remote debugging: a stop signal came while waiting for a debugger")
        sys.exit(0)


def _listen(debugpy: Any, adapter: DebugAdapter) -> str | None:
    try:
        debugpy.listen((adapter.host, adapter.port))
    except Exception as exc:  # debugpy raises RuntimeError with the adapter's reason
        lines = str(exc).strip().splitlines()
        return lines[-1] if lines else type(exc).__name__
    log.info(
        "Remote debugging: debugpy listens on %s:%d in worker %d (attach a debugger there)",
        adapter.host,
        adapter.port,
        os.getpid(),
    )
    return None


def _listen_later(debugpy: Any, adapter: DebugAdapter, wait_for_port: float) -> None:
    deadline = time.monotonic() + wait_for_port
    while True:
        time.sleep(0.2)
        problem = _listen(debugpy, adapter)
        if problem is None:
            return
        if "in use" not in problem or time.monotonic() > deadline:
            _off(adapter, problem)
            return


def _off(adapter: DebugAdapter, problem: str) -> None:
    log.error(
        "remote debugging is off: debugpy cannot listen on %s:%d (%s); set %s to a free port",
        adapter.host,
        adapter.port,
        problem,
        PORT,
    )
