"""What outlives gunicorn's stop: a non-daemon thread or a child process that
``gunicorn.conf.py`` (or a preloaded app) started in the master.  Plain gunicorn then never
exits, or exits leaving the child running; a launcher that is a container's PID 1 must do
neither.  After the stop, threads get a bounded wait, children SIGTERM then SIGKILL, and one
WARNING names what was left."""

import contextlib
import logging
import os
import signal
import sys
import threading
import time

from appservice_gunicorn.supervise import supervisor

log = logging.getLogger(__name__)
GRACE_SECONDS = 5.0


def clear(status: int, grace: float = GRACE_SECONDS, worker: bool = False) -> None:
    """After the launcher's stop: wait ``grace`` seconds at most for threads and children
    to end, stop the children that do not, and exit with ``status`` even when a thread is
    still running (``os._exit``: Python would wait for it forever).  Returns when nothing
    was left.  A ``worker`` that exits does the same (gunicorn would let a thread keep it
    until its timeout), and says so."""
    deadline = time.monotonic() + grace
    threads = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [thread.name for thread in threads if thread.is_alive()]
    children = _stop_children(deadline)
    if not running and not children:
        return
    left = [f"thread {name!r}" for name in running] + [f"process {pid}" for pid in children]
    if worker:
        when = f"as worker {os.getpid()} exited"
        cause = "a thread or process the app started in the worker, or a request past the "
        cause += "graceful timeout"
        hook = "worker_exit"
    else:
        when, hook = "after the stop", "on_exit"
        cause = "started by gunicorn.conf.py or the app in the master"
    log.warning(
        "%s, %s still ran (%s); stopped now: make the app's threads daemon threads, and stop "
        "its child processes in gunicorn's %s hook",
        when,
        ", ".join(left),
        cause,
        hook,
    )
    if running:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _stop_children(deadline: float) -> list[int]:
    """The children still running after the stop, each ended (SIGTERM, then SIGKILL at the
    deadline) and reaped."""
    found = [pid for pid in supervisor.children() if not _reaped(pid)]
    for pid in found:
        _signal(pid, signal.SIGTERM)
    pending = set(found)
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if not _reaped(pid)}
        if pending:
            time.sleep(0.05)
    for pid in pending:
        _signal(pid, signal.SIGKILL)
        _reaped(pid, block=True)
    return found


def _reaped(pid: int, block: bool = False) -> bool:
    try:
        done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)
