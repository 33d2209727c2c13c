"""The master replacing itself: ``execve`` of the launcher as it was started, same pid (so
still the container's PID 1), its listening sockets passed on as gunicorn's own USR2
upgrade passes them (``GUNICORN_FD``, read because ``GUNICORN_PID`` is set), and the pids
of the workers the new master must retire once its own serve."""

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from appservice_gunicorn.base import boot
from appservice_gunicorn.serve.workerreports import running_child

log = logging.getLogger(__name__)
RETIRE = "APPSVC_RETIRE"
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
# gunicorn's graceful_timeout default: for a stop that comes before the settings are read.
GRACEFUL_SECONDS = 30.0


def replace_master(
    reason: str,
    listeners: Iterable[int],
    env_orig: Mapping[str, str],
    retire: Iterable[int],
    cwd: str,
    stop_pending: Callable[[], bool],
    hup_queued: Callable[[], bool] = lambda: False,
) -> None:
    """The master execs itself afresh for ``reason``, passing on ``listeners`` and the
    workers to ``retire`` once the new master's own have imported the app; returns (the
    reason logged) when a stop signal came first (``stop_pending``) or the exec failed.

    The stop signals are blocked from that check on: one that comes during the exec stays
    pending, and the new master, which unblocks them once its handlers are in place
    (boot.py), acts on it; so does a SIGHUP, and one gunicorn had queued meanwhile
    (``hup_queued``: another release) is made pending again.  ``env_orig`` is the
    environment before gunicorn applied its ``--env`` settings; ``cwd`` where the launcher
    started (a relative ``--app-dir`` or ``APP_PATH`` means the same)."""
    log.info(
        "reload: %s; the master replaces itself so that new workers load the new version "
        "(listening sockets and running workers kept until the new ones are ready)",
        reason,
    )
    # Imported by a redeploy only (5 ms on every start otherwise); ran the steps already.
    from appservice_gunicorn.supervise.steps import EXPORTED

    # The new master skips the steps: what they exported (this redeploy's too) comes along.
    environ = {**env_orig, **EXPORTED}
    fds = list(listeners)
    environ["GUNICORN_FD"] = ",".join(str(fd) for fd in fds)
    environ["GUNICORN_PID"] = str(os.getpid())
    environ[RETIRE] = ",".join(str(pid) for pid in sorted(retire))
    environ[boot.REPLACED] = "1"
    # SIGHUP too: execve resets its handler to the default, which ends the process.
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {*STOP_SIGNALS, signal.SIGHUP})
    try:
        for fd in fds:
            os.set_inheritable(fd, True)
        # Both asked last: another thread may have taken a signal since it was blocked
        # here, and gunicorn's handler then ran in this one.
        if hup_queued():  # to this thread, which blocks it (gunicorn's control thread doesn't)
            signal.pthread_kill(threading.get_ident(), signal.SIGHUP)
        if stop_pending():
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
            log.info("reload: a stop signal came first: the master is not replaced")
            return
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        log.error(
            "reload: the master cannot replace itself (%s); the running app keeps "
            "serving: restart the container to load the new version",
            exc.strerror or exc,
        )


def stop_workers(pids: Iterable[int], signum: int) -> None:
    """Signal a previous master's workers (children of this pid since the exec)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def reap_workers(pids: Iterable[int], deadline: float) -> None:
    """Wait for a previous master's workers until ``deadline`` (``time.monotonic()``),
    then kill those left; every one reaped."""
    pending = set(pids)
    while pending:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done == pid:
                pending.discard(pid)
        if pending and time.monotonic() >= deadline:
            stop_workers(pending, signal.SIGKILL)
            deadline = float("inf")  # SIGKILL ends them: wait for that
        elif pending:
            time.sleep(0.05)


class OldWorkers:
    """Workers of an older generation still serving: the previous master's, after a
    replacement (``to_retire``, until this master's own workers have imported the app),
    and those retiring (sent SIGTERM, killed if they outstay ``deadline``)."""

    def __init__(self, to_retire: set[int]) -> None:
        self.to_retire = to_retire
        self.retiring_pids: set[int] = set()
        self.deadline = 0.0
        # Workers of the app a redeploy replaced: once all have ended, what only they used
        # (an older extraction of the build's archives) may go.
        self.replaced: set[int] = set(to_retire)

    def all_replaced_gone(self) -> bool:
        """True once (then forgotten) when every worker of the replaced app has ended."""
        if not self.replaced or any(running_child(pid) for pid in self.replaced):
            return False
        self.replaced = set()
        return True

    @classmethod
    def from_environment(cls) -> "OldWorkers":
        """The previous master's workers, as it passed them on (left in the environment
        until the master serves: a stop before then stops them too, __main__.py)."""
        named = os.environ.get(RETIRE, "")
        return cls({int(pid) for pid in named.split(",") if pid.isdigit()})

    @property
    def pids(self) -> set[int]:
        return self.to_retire | self.retiring_pids

    def retire(self, deadline: float) -> None:
        """This master's workers serve: the previous master's stop gracefully now."""
        if self.to_retire:
            stop_workers(self.to_retire, signal.SIGTERM)
            self.retiring(self.to_retire, deadline)
            self.to_retire = set()

    def retiring(self, pids: set[int], deadline: float) -> None:
        self.retiring_pids |= pids
        self.replaced |= pids
        self.deadline = deadline

    def kill_overdue(self, current: set[int]) -> None:
        if self.retiring_pids and time.monotonic() > self.deadline:
            # Only a child still running: an ended one's pid may belong to another.
            overdue = [p for p in self.retiring_pids - current if running_child(p)]
            stop_workers(overdue, signal.SIGKILL)
            self.retiring_pids = set()

    def stop(self, signum: int) -> None:
        stop_workers(self.pids, signum)

    def reap(self, deadline: float) -> None:
        reap_workers(self.pids, deadline)
