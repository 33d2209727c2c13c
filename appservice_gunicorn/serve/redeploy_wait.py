"""A redeploy's wait for its new workers to import the app, as a small state machine.

While the new workers import (seconds for a large app), the running app keeps serving
with its full worker count: a worker of it that ends (``--max-requests``, a crash, the
OOM killer) is reaped at once and replaced by a stand-in forked with the running app's
plan.  A stand-in that ends before it has imported the app is not replaced again (its
folder may hold the new release's code already, which cannot be imported).  The wait
ends when every new worker has imported the app (None), or with why not: one failed or
ended, a stop signal arrived, or the deadline passed.

The master gives a ``Table``: its workers, their reports and the clock; tests give a
fake one, with the events and timings they need.
"""

import logging
from collections.abc import Callable
from typing import Any, Protocol

from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.serve import workerreports
from appservice_gunicorn.serve.redeployable import RedeployableApplication
from appservice_gunicorn.serve.workerreports import Reports

log = logging.getLogger(__name__)


class Table(Protocol):
    """What the wait reads and does, in the master."""

    loaded: set[int]  # workers that have imported the app
    failed: dict[int, str]  # workers whose import failed, and why
    target: int  # the running app's worker count

    def read_reports(self) -> object: ...

    def ended(self, pid: int) -> str | None:
        """How worker ``pid`` ended, reaped now; None while it runs."""

    def running(self) -> set[int]:
        """Every worker the master has, new ones included."""

    def stand_in(self, ended: int) -> int:
        """Fork a worker of the running app in place of ``ended``; its pid."""

    def forget(self, pid: int) -> None:
        """A worker that ended and was reaped: out of the table."""

    def stop_requested(self) -> bool: ...

    def pause(self, seconds: float) -> None:
        """Until a worker reports, at most ``seconds``."""


def wait_for_new(
    table: Table,
    new: set[int],
    deadline: float,
    clock: Callable[[], float],
    app_name: str,
    waited: str,
) -> tuple[str, set[int]] | None:
    """Until every ``new`` worker has imported the app: None, or why not and the new
    workers that ended (reaped here).  ``waited`` words the deadline for the message."""
    serving = Serving()
    while True:
        table.read_reports()
        if not new - table.loaded:
            return None
        ended = {pid: status for pid in new - table.loaded if (status := table.ended(pid))}
        table.read_reports()  # what an ended worker said is in the pipe by now
        said = next((table.failed[pid] for pid in new if pid in table.failed), None)
        if said is not None:
            return said, set(ended)
        if ended:
            # Ended without a word: the app ended the process (os._exit at import).
            return f"importing {app_name} ended the process {next(iter(ended.values()))}", set(
                ended
            )
        keep_serving(table, new, serving)
        if table.stop_requested():
            return "a stop signal arrived while the new workers imported the app", set()
        if clock() > deadline:
            return f"the new workers had not imported {app_name} after {waited}", set()
        table.pause(0.1)


class Serving:
    """The stand-ins a redeploy started, and how many of the running app's workers are lost
    (stand-ins that could not import it)."""

    def __init__(self) -> None:
        self.stand_ins: set[int] = set()
        self.lost = 0


def keep_serving(table: Table, new: set[int], serving: Serving) -> None:
    """Replace the running app's workers that ended with stand-ins of the running app, up to
    its worker count (``table.target``: gunicorn may have reaped some before the redeploy
    began, without replacing them yet)."""
    for pid in sorted(table.running() - new):
        status = table.ended(pid)
        if status is None:
            continue
        loaded = pid in table.loaded
        table.forget(pid)
        if pid in serving.stand_ins and not loaded:
            serving.stand_ins.discard(pid)
            serving.lost += 1
            log.error(
                "reload: a worker standing in for the running app ended %s before it imported "
                "the app (the app folder holds the new release already?); not replaced again "
                "until the redeploy ends",
                status,
            )
            continue
        serving.stand_ins.discard(pid)
        replacement = table.stand_in(pid)
        serving.stand_ins.add(replacement)
        log.info(
            "reload: worker %d of the running app ended %s while the new workers import the "
            "app; worker %d stands in for it",
            pid,
            status,
            replacement,
        )
    for _ in range(table.target - serving.lost - len(table.running() - new)):
        replacement = table.stand_in(0)
        serving.stand_ins.add(replacement)
        log.info("reload: worker %d stands in for one the running app was short of", replacement)


class MasterTable:
    """The master's workers as the wait reads them (gunicorn's ``WORKERS`` table)."""

    def __init__(
        self,
        workers: dict[int, Any],
        reports: Reports,
        spawn: Callable[[], int],
        app: RedeployableApplication,
        previous: Plan,
        target: int,
        stop_requested: Callable[[], bool],
    ) -> None:
        self.workers, self.reports, self.spawn = workers, reports, spawn
        self.app, self.previous = app, previous
        self.loaded, self.failed = reports.loaded, reports.failed
        self.read_reports: Callable[[], object] = reports.read
        self.pause, self.stop_requested = reports.wait, stop_requested
        self.ended = workerreports.exit_status
        self.serving = Serving()
        self.target = target

    def keep_serving(self) -> None:
        """Outside a wait for new workers: replace the running app's workers that end."""
        keep_serving(self, set(), self.serving)

    def running(self) -> set[int]:
        return set(self.workers)

    def stand_in(self, ended: int) -> int:
        # The plan the forked worker loads: the running app's, for this fork only.
        current, self.app.plan = self.app.plan, self.previous
        try:
            pid = self.spawn()
        finally:
            self.app.plan = current
        if self.app.callable is not None:
            self.loaded.add(pid)  # forked with the master's app (preload_app): ready at once
        return pid

    def forget(self, pid: int) -> None:
        self.workers.pop(pid).tmp.close()
        self.reports.forget(pid)
