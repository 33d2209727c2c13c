"""gunicorn's master, with redeploys that cannot take the server down.

On SIGHUP the stock ``Arbiter`` re-reads its configuration, forks new workers and stops the
old ones at once.  Here the application first checks the new deployment (detection, steps,
settings); new workers import it while the old ones serve on, and the old ones retire only
once every new worker has imported the app.  If a new worker fails, they are all stopped,
the redeploy is refused with one ERROR line and the old workers are left alone.  When the
master itself would import the new app (``preload_app``), replace itself or its sockets,
the app is first imported in a fresh interpreter (``proof.prove``).  SIGHUPs that arrive
together are one redeploy.

Every worker reports once it has imported the app, or failed to (``workerreports.py``).
"""

import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, NamedTuple

from gunicorn.errors import HaltServer

from appservice_gunicorn.base import boot, environment
from appservice_gunicorn.base.gunicorn_api import Arbiter
from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.serve import bind_errors, redeploy_wait, replacement, workerreports
from appservice_gunicorn.serve.redeployable import REFUSED, RedeployableApplication
from appservice_gunicorn.serve.workerreports import Reports

log = logging.getLogger(__name__)
# Workers in a row that ended before importing the app: then the launcher stops.
MAX_BOOT_FAILURES = 5
BOOT_FAILED = 3  # gunicorn's own status for "Worker failed to boot"
LOAD_FAILED = 4  # and for "App failed to load"
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})


class _Refused(Exception):
    """A redeploy's new workers failed: they are stopped, the old ones serve on."""


class _Generation(NamedTuple):
    """Workers forked by one redeploy (younger than ``after_age``), replacing ``previous``."""

    after_age: int
    previous: Plan
    workers: int  # the previous app's worker count


class LauncherArbiter(Arbiter):
    def __init__(self, app: RedeployableApplication) -> None:
        self.launcher_app = app
        self._generation: _Generation | None = None
        self._halting = False
        self._reports = Reports()
        app.ready_fd = self._reports.write_fd
        app.stop_requested = lambda: self._stop_requested  # type: ignore[method-assign]
        self._stop_requested = False  # a stop signal arrived (gunicorn handles it later)
        self._hups = 0  # SIGHUPs queued so far: one during a redeploy is another release
        # The folder holds a deployment that was refused (until one is accepted).
        self._refused = False
        self._boot_failures = 0
        self._first_boot = True
        # Workers of the master this one replaced, and of a refused redeploy, to retire.
        self._old = replacement.OldWorkers.from_environment()
        super().__init__(app)

    def start(self) -> None:
        # Before gunicorn forks anything (its dirty arbiter, in start; then the workers).
        boot.started(forking=True)
        try:
            super().start()
        except SystemExit as exc:
            bind_errors.explain_busy(self.cfg.address)
            raise exc from None
        # gunicorn's signal handlers are in place from here on: a stop is this master's.
        os.environ.pop(replacement.RETIRE, None)
        if boot.take_pending_hup():
            os.kill(os.getpid(), signal.SIGHUP)

    def signal(self, sig: int, frame: FrameType | None) -> None:
        """gunicorn's handler, which only queues the signal: a stop is also noted here, so
        that waiting for a redeploy's new workers ends at once."""
        if sig in STOP_SIGNALS:
            self._stop_requested = True
        elif sig == signal.SIGHUP:
            self._hups += 1
        super().signal(sig, frame)

    def handle_usr2(self) -> None:
        """gunicorn's binary upgrade would start a second master beside this one (the
        container's PID 1), re-running the steps and pruning the extraction its workers
        use.  A SIGHUP redeploy does what it is for: it replaces the master when what the
        master loaded changed."""
        log.warning(
            "SIGUSR2 (gunicorn's binary upgrade) is not supported by the launcher; ignored: "
            "send SIGHUP to redeploy (the master replaces itself when the framework changed)"
        )

    def wait_for_signals(self, timeout: float | None = 1.0) -> list[int]:
        signals: list[int] = super().wait_for_signals(timeout)
        if signals.count(signal.SIGHUP) > 1:
            # A burst of SIGHUPs (a deploy tool, a loop) is one redeploy of the folder as it is.
            first = signals.index(signal.SIGHUP)
            signals = [s for i, s in enumerate(signals) if s != signal.SIGHUP or i == first]
        return signals

    def spawn_workers(self) -> None:
        """The first workers at once: gunicorn sleeps up to 0.1 s after each spawn so that
        respawns do not stampede, which at start only delays readiness (3 workers: 0.1 s
        on average).  Respawns later keep gunicorn's pacing."""
        if not self._first_boot:
            super().spawn_workers()
            return
        self._first_boot = False
        for _ in range(self.num_workers - len(self.WORKERS)):
            self.spawn_worker()

    def spawn_worker(self) -> int:
        if not gc.get_freeze_count():
            # A redeploy let the collector free the previous app (application.py): what
            # is left is frozen again, for the workers to share.
            gc.collect()
            gc.freeze()
        pid: int = super().spawn_worker()  # returns in the master only
        # A pid the system reuses starts with nothing said on the pipe.
        self._reports.forget(pid)
        return pid

    def reload(self) -> None:
        if self._stop_requested:  # queued with the SIGHUP: gunicorn handles it next
            log.info("reload: a stop signal came with the SIGHUP; nothing is redeployed")
            return
        hups = self._hups
        app = self.launcher_app
        previous = app.plan
        # While the master imports the release in a fresh interpreter (preload_app, a new
        # framework, a new bind), the running app's workers that end are replaced.
        meanwhile = self._table(previous, self.num_workers).keep_serving if previous else None
        if previous is None or not app.prepare_redeploy(meanwhile, self.timeout):
            self._refused = True
            return  # refused (logged): the running workers are not touched
        changed = app.framework_change
        if changed is not None:
            self._replace_master(changed, lambda: self._hups > hups)  # returns if it could not
            app.drop_pending()
            return
        self._generation = _Generation(self.worker_age, previous, self.num_workers)
        try:
            super().reload()
            self._refused = False
        except _Refused:
            self._refused = True  # the old workers serve on (logged)
        finally:
            self._generation = None

    def manage_workers(self) -> None:
        generation = self._generation
        if generation is not None:
            # Called by Arbiter.reload right after the new workers are forked, to stop the
            # old ones: not before the new ones can serve.
            self._generation = None
            new = {p for p, w in self.WORKERS.items() if w.age > generation.after_age}
            if not self.cfg.preload_app:  # preloaded: forked with the app, ready at once
                # gunicorn's timeout 0 means none.
                waited = f"{self.timeout:g} s (gunicorn's --timeout)"
                failure = redeploy_wait.wait_for_new(
                    self._table(generation.previous, generation.workers),
                    new,
                    time.monotonic() + self.timeout if self.timeout else float("inf"),
                    time.monotonic,
                    self._app_name(),
                    waited,
                )
                if failure is not None:
                    why, reaped = failure
                    self._abandon(new, why, generation.previous, reaped)
                    # Out of Arbiter.reload, which would wait for the old workers to stop.
                    raise _Refused
            # The running app's workers, stand-ins included (younger than the new ones:
            # gunicorn, which stops the oldest, would stop new ones instead); counted, so
            # that their extraction goes once they have all ended.
            self._retire(set(self.WORKERS) - new)
        super().manage_workers()
        self._read_loaded()
        self._retire_old_workers()

    def reap_workers(self) -> None:
        self._read_loaded()
        before = dict(self.WORKERS)
        while True:
            try:
                super().reap_workers()
                break
            except HaltServer as exc:
                if self._halting:
                    continue  # stopping already: another failed worker says nothing new
                if not self._refused or exc.exit_status not in (BOOT_FAILED, LOAD_FAILED):
                    raise
                # gunicorn 25 raises before it forgets the worker it reaped.
                for pid in [p for p in self.WORKERS if not workerreports.running_child(p)]:
                    self.WORKERS.pop(pid)
        gone = set(before) - set(self.WORKERS)
        if self._refused and not self._halting:
            gone -= self._serve_on_without(before, gone)
        if not self.cfg.preload_app and not self._halting:
            self._count_boot_failures(gone)

    def _serve_on_without(self, before: dict[int, Any], gone: set[int]) -> set[int]:
        """Workers that replaced others but could not load the app: the folder holds the
        deployment a redeploy refused.  gunicorn would stop the server (or respawn them
        forever); the workers of the previous app serve on, one fewer each time, and the
        last one ending stops the launcher.  Returns the workers handled here."""
        failed = {pid for pid in gone if pid not in self._reports.loaded}
        if not failed:
            return failed
        for pid in failed:
            self._reports.forget(pid)
            before[pid].tmp.close()  # gunicorn stops before closing it
        self.num_workers = min(self.num_workers, len(self.WORKERS))
        if self.num_workers == 0:
            log.error("reload: the last worker of the previous app ended; stopping")
            raise HaltServer("No worker can load the app.", LOAD_FAILED)
        log.error(
            "A worker could not be replaced: the app folder holds the deployment that was "
            "refused (its error is above); %d worker(s) serve the previous app. Deploy a "
            "fixed version and send SIGHUP",
            self.num_workers,
        )
        return failed

    def halt(self, reason: str | None = None, exit_status: int = 0) -> None:
        self._halting = True
        super().halt(reason, exit_status)

    def stop(self, graceful: bool = True) -> None:
        """gunicorn's stop, for the previous master's workers too (a replacement in
        progress): they finish their requests within the same graceful timeout."""
        deadline = time.monotonic() + self.cfg.graceful_timeout  # gunicorn's, for both
        self._old.stop(signal.SIGTERM if graceful else signal.SIGQUIT)
        super().stop(graceful)
        self._old.reap(deadline)

    def _replace_master(self, reason: str, hup_queued: Callable[[], bool]) -> None:
        """Workers forked from this master would run a framework it imported, not the
        redeployed one: it execs itself afresh (replacement.py), keeping its listening
        sockets; the old workers serve on until the new master's have imported the app."""
        replacement.replace_master(
            reason,
            [lnr.fileno() for lnr in self.LISTENERS],
            self.cfg.env_orig,
            # Also the workers of a replacement still in progress: none may be left serving.
            {*self.WORKERS, *self._old.pids},
            boot.START_CWD or str(self.START_CTX["cwd"]),
            lambda: self._stop_requested,
            hup_queued,
        )

    def _retire_old_workers(self) -> None:
        """After a replacement: the previous master's workers stop (gracefully) once all
        of this master's workers have imported the app."""
        self._old.kill_overdue(set(self.WORKERS))
        ready = self.cfg.preload_app or (self.WORKERS and set(self.WORKERS) <= self._reports.loaded)
        if ready:
            self._old.retire(time.monotonic() + self.cfg.graceful_timeout)
        if self._old.all_replaced_gone():
            self.launcher_app.prune_extractions()

    def _read_loaded(self) -> None:
        if self._reports.read():
            self._boot_failures = 0

    def _count_boot_failures(self, gone: set[int]) -> None:
        """Workers that ended before importing the app: the app ends them (os._exit at
        import, a crash in an extension); gunicorn alone would respawn them forever."""
        for pid in gone:
            loaded = pid in self._reports.loaded
            self._reports.forget(pid)
            if not loaded:
                self._boot_failures += 1
        if self._boot_failures >= MAX_BOOT_FAILURES:
            log.error(
                "%d workers in a row ended while importing the app %s, before serving; it "
                "ends the process as it is imported (os._exit(), a crash in a compiled "
                "module?): fix the app (its output is above). Stopping",
                self._boot_failures,
                self._app_name(),
            )
            raise HaltServer("The app ends its workers while it is imported.", BOOT_FAILED)

    def _abandon(self, new: set[int], why: str, previous: Plan, reaped: set[int]) -> None:
        """New workers that failed to start: stop them all, keep the old ones serving.
        Those that imported the app may be serving a request: they stop gracefully (as
        retiring workers); the others are killed."""
        loaded = (new & self._reports.loaded) - reaped
        for pid in new - reaped:  # a reaped pid may already be another process's
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if pid in loaded else signal.SIGKILL)
            if pid not in loaded:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        for pid in new:
            self._reports.forget(pid)
            if (worker := self.WORKERS.pop(pid, None)) is not None:
                worker.tmp.close()
        if loaded:
            self._old.retiring(loaded, time.monotonic() + self.cfg.graceful_timeout)
        if self._stop_requested:  # nothing was refused: the launcher is stopping
            log.info("reload: %s; stopping", why)
        else:
            log.error("reload: %s: %s", REFUSED, why)
        # gunicorn's reload applied the new deployment's environment (raw_env): undone, as
        # gunicorn's own reload does before applying the next one.
        environment.restore(self.cfg.env, self.cfg.env_orig)
        workers = self.num_workers  # fewer when replacements could not load (above)
        self.launcher_app.restore(previous)
        self.setup(self.launcher_app)
        self.num_workers = min(workers, self.num_workers)

    def _table(self, running: Plan, count: int) -> redeploy_wait.MasterTable:
        held = (self.WORKERS, self._reports, self.spawn_worker, self.launcher_app, running)
        table = redeploy_wait.MasterTable(*held, count, lambda: self._stop_requested)
        table.read_reports = self._read_loaded  # it also counts a loaded worker
        return table

    def _retire(self, pids: set[int]) -> None:
        """Stop ``pids`` gracefully, out of gunicorn's table (they finish their requests)."""
        for pid in pids:
            self.WORKERS.pop(pid).tmp.close()
            self._reports.forget(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if pids:
            self._old.retiring(pids, time.monotonic() + self.cfg.graceful_timeout)

    def _app_name(self) -> str:
        plan = self.launcher_app.plan
        return (plan.detection.app if plan is not None else None) or "?"
