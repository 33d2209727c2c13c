"""gunicorn's master, with redeploys that cannot take the server down.

On SIGHUP the stock ``Arbiter`` re-reads its configuration, forks new workers and stops the
old ones at once.  Here, before any worker changes, the application proves the new
deployment (detection, pre-start steps, settings, and an import of the app in a fresh
interpreter); a deployment that fails is refused with one ERROR line and the running
workers are left alone.  A proven one gets new workers, and the old ones are retired only
once every new worker has imported the app, so that requests are served throughout even
when the import takes seconds.  SIGHUPs that arrive together are one redeploy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import time
from typing import TYPE_CHECKING, NamedTuple

from gunicorn.arbiter import Arbiter

from . import boot

if TYPE_CHECKING:
    from .application import AppServiceApplication
    from .config import Plan

log = logging.getLogger("appservice_gunicorn")


class _Generation(NamedTuple):
    """Workers forked by one redeploy: younger than ``after_age``; ready ones write their
    pid to ``ready``."""

    after_age: int
    ready: int
    previous: Plan


class LauncherArbiter(Arbiter):
    def __init__(self, app: AppServiceApplication) -> None:
        self.launcher_app = app
        self._generation: _Generation | None = None
        super().__init__(app)

    def start(self) -> None:
        super().start()  # gunicorn's signal handlers are in place from here on
        if boot.take_pending_hup():
            os.kill(os.getpid(), signal.SIGHUP)

    def wait_for_signals(self, timeout: float | None = 1.0) -> list[int]:
        signals: list[int] = super().wait_for_signals(timeout)
        if signals.count(signal.SIGHUP) > 1:
            # A burst of SIGHUPs (a deploy tool, a loop) is one redeploy of the folder as it is.
            first = signals.index(signal.SIGHUP)
            signals = [s for i, s in enumerate(signals) if s != signal.SIGHUP or i == first]
        return signals

    def reload(self) -> None:
        app = self.launcher_app
        previous = app.plan
        if previous is None or not app.prepare_redeploy():
            return  # refused (logged): the running workers are not touched
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        self._generation = _Generation(self.worker_age, read_end, previous)
        app.ready_fd = write_end
        try:
            super().reload()
        finally:
            app.ready_fd = None
            self._generation = None
            os.close(read_end)
            os.close(write_end)

    def manage_workers(self) -> None:
        generation = self._generation
        if generation is not None:
            # Called by Arbiter.reload right after the new workers are forked, to stop the
            # old ones: not before the new ones can serve.
            self._generation = None
            if not self.cfg.preload_app:  # preloaded: forked with the app, ready at once
                self._await_new_workers(generation)
        super().manage_workers()

    def _await_new_workers(self, generation: _Generation) -> None:
        new = {pid for pid, worker in self.WORKERS.items() if worker.age > generation.after_age}
        ready: set[int] = set()
        pending = b""
        deadline = time.monotonic() + self.timeout
        while new - ready:
            failed = {pid: status for pid in new - ready if (status := _exit_status(pid))}
            if failed or time.monotonic() > deadline:
                self._abandon(new, failed, generation.previous)
                return
            readable, _, _ = select.select([generation.ready], [], [], 0.1)
            if readable:
                with contextlib.suppress(BlockingIOError):
                    pending += os.read(generation.ready, 4096)
                *lines, pending = pending.split(b"\n")
                ready.update(int(line) for line in lines if line.strip().isdigit())

    def _abandon(self, new: set[int], failed: dict[int, str], previous: Plan) -> None:
        """New workers that failed to start: stop them all, keep the old ones serving."""
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if pid not in failed:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            worker = self.WORKERS.pop(pid, None)
            if worker is not None:
                worker.tmp.close()
        why = "; ".join(f"worker {pid} {status}" for pid, status in failed.items()) or (
            f"not ready after {self.timeout} s"
        )
        log.error(
            "reload: the new workers did not start (%s); the running app keeps serving. "
            "Fix the app (its error is above) and send SIGHUP again",
            why,
        )
        self.launcher_app.restore(previous)
        self.setup(self.launcher_app)


def _exit_status(pid: int) -> str | None:
    """How worker ``pid`` ended, reaped here, or None while it runs."""
    try:
        found, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return "is gone"
    if found == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
