"""The gunicorn application: the plan's settings go into gunicorn's ``Config``; the
worker imports the detected app.  SIGHUP re-runs detection (a redeploy), which
``master.LauncherArbiter`` applies only once it is proven."""

import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from appservice_gunicorn.base import environment
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.explain import decision, defaultsite
from appservice_gunicorn.plan.plan import LauncherConfig, Plan, make_plan, with_settings
from appservice_gunicorn.serve import preload, workerreports
from appservice_gunicorn.serve.asgilog import LogUnhandled
from appservice_gunicorn.serve.importer import (
    add_master_paths,
    check_protocol,
    load_app,
    prepend_paths,
)
from appservice_gunicorn.serve.master import LauncherArbiter
from appservice_gunicorn.serve.redeployable import REFUSED, RedeployableApplication

log = logging.getLogger(__name__)
# Never dropped on reload, even when installed in the app's own virtualenv.
_LAUNCHER_PACKAGES = frozenset({"appservice_gunicorn", "gunicorn"})
MAX_NOTE = 1000  # characters of an import failure the master repeats


class AppServiceApplication(RedeployableApplication):
    def __init__(
        self,
        config: LauncherConfig,
        plan: Plan | None = None,
        launcher_modules: frozenset[str] | None = None,
    ) -> None:
        """``launcher_modules``: the modules loaded before any user code ran (never dropped)."""
        # BaseApplication.__init__ calls load_config(): everything it needs is set first.
        self.config = config
        self.launcher_modules = (
            frozenset(sys.modules) if launcher_modules is None else launcher_modules
        )
        self._next_plan = plan
        self.plan: Plan | None = None
        # Set by the master: each worker reports there once it has imported the app.
        self.ready_fd: int | None = None
        # The framework modules the master imported for its workers (preload.py).
        self.preloaded = preload.Preloaded({})
        # Why the proven redeploy needs a new master (another framework version), or None.
        self.framework_change: str | None = None
        super().__init__(
            usage="appservice-gunicorn [OPTIONS] [STARTUP ...]", prog="appservice-gunicorn"
        )

    def load_config(self) -> None:
        plan = self._next_plan or make_plan(self.config)
        self._next_plan = None
        self.plan = plan
        decision.log_plan(plan, log)
        assert self.cfg is not None and plan.settings is not None
        # A relative --chdir or path in the settings means the app folder, as on App Service.
        os.chdir(plan.detection.app_dir)
        plan.settings.apply(self.cfg)
        os.chdir(self.cfg.chdir)
        # As App Service's startup script exports them, for the app the workers import.
        os.environ.update(
            environment.app_variables(self.config.env, plan.detection.app_dir, self.cfg.bind)
        )
        # The launcher's lines follow gunicorn's --log-level, as one log.
        package_log = logging.getLogger(__name__.partition(".")[0])
        package_log.setLevel(getattr(logging, str(self.cfg.loglevel).upper(), logging.INFO))
        # One worker shares nothing with the master: preloading would only add its memory.
        if not self.cfg.preload_app and self.cfg.workers > 1:
            loaded = preload.preload(plan.detection, self.cfg.worker_class_str, self.config.env)
            merged = {**self.preloaded.files, **loaded.files}
            # Modules a redeploy dropped (the app's virtualenv) are no longer the master's.
            self.preloaded = preload.Preloaded(
                {name: stamp for name, stamp in merged.items() if name in sys.modules}
            )

    def run(self) -> None:
        assert self.cfg is not None
        if self.cfg.print_config or self.cfg.check_config:
            sys.exit(self.check_config())
        try:
            LauncherArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)

    def check_config(self) -> int:
        """``--check-config`` / ``--print-config``, as gunicorn: print the settings (with
        ``--print-config``), load the app once in this process, exit 0 or 1."""
        assert self.cfg is not None
        if self.cfg.print_config:
            print(self.cfg, flush=True)
        try:
            self.load()
        except Exception as exc:
            print(f"\nError while loading the application: {exc}", file=sys.stderr, flush=True)
            return 1
        log.info("The configuration is valid and the app loads (nothing is served)")
        return 0

    def prepare_redeploy(
        self, meanwhile: Callable[[], object] | None = None, timeout: float = 0
    ) -> bool:
        """SIGHUP, before any worker changes: the folder as it is now, after its pre-start
        steps (and, when the master needs it, with its app imported once in a fresh
        interpreter, given up on after ``timeout`` seconds, ``meanwhile`` run while it
        imports).  False when the running app is kept (the reason logged as one ERROR
        line)."""
        plan = self._redeploy_plan()
        if plan is self.plan:
            return False
        # A redeploy's modules (the proof, the steps, the supervisor) are imported when one
        # comes: 5 ms on every start otherwise (the benchmark's CPU to the first answer).
        from appservice_gunicorn.serve import proof

        changed = preload.stale(self.preloaded, plan.detection)
        assert plan.settings is not None and self.cfg is not None
        bind = plan.settings.value("bind")
        if changed is not None and bind != self.cfg.bind:
            # A master that replaces itself passes its listening sockets on (as gunicorn's
            # USR2 does): the new one would listen where the old one did.
            self._keep_running(
                f"{changed}, and the bind changed ({', '.join(self.cfg.bind)} -> "
                f"{', '.join(bind)}): the master can load the new framework only by replacing "
                "itself, which keeps its listening sockets; restart the container"
            )
            return False
        must = self._master_must_prove(plan, changed)
        problem = proof.prove(plan, meanwhile, timeout, self.stop_requested) if must else None
        if problem is not None:
            self._keep_running(problem, f"reload: {REFUSED}: %s")
            return False
        self._next_plan = plan
        self.framework_change = changed
        return True

    def _master_must_prove(self, plan: Plan, framework_change: str | None) -> bool:
        """Whether the master must import the new app in a fresh interpreter first.  Not
        when only new workers will import it: they are the proof, and the master stops
        them and keeps the old ones if they fail (master.py).  When the master itself will
        import it (``preload_app``), replace itself (a new framework) or its listening
        sockets (a new bind, which a refusal could not undo), it must."""
        assert plan.settings is not None and self.cfg is not None
        if plan.settings.value("preload_app") or plan.settings.value("bind") != self.cfg.bind:
            return True  # the master imports the app, or gunicorn replaces its listeners
        return framework_change is not None

    def reload(self) -> None:
        """Apply the plan ``prepare_redeploy`` proved (gunicorn calls this on SIGHUP)."""
        plan = self._next_plan or self._current()
        if plan is not self.plan:
            self._forget_user_code(plan)
        self._next_plan = plan
        super().reload()

    def drop_pending(self) -> None:
        """Forget the proven redeploy: the running plan stays (its reason was logged)."""
        self._next_plan = None
        self.framework_change = None

    def prune_extractions(self) -> None:
        build = self.plan.detection.build if self.plan is not None else None
        if build is None:
            return
        from appservice_gunicorn.build import extractions

        # Never a folder this process still imports from (a framework it preloaded).
        used = {Path(f) for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None))}
        for archive in (build.output_archive, build.venv_archive):
            if archive is not None and archive.extracted:
                for gone in extractions.prune(archive.target, used):
                    log.info("Removed %s: no worker uses that extraction any more", gone)

    def restore(self, plan: Plan) -> None:
        """Back to ``plan`` after a redeploy whose workers failed to start."""
        self._next_plan = plan
        self.do_load_config()

    def _redeploy_plan(self) -> Plan:
        """The plan for the folder as it is now, after its pre-start steps; the running
        plan when the new one cannot be served (each reason logged as one ERROR line)."""
        current = self._current()
        try:
            # A stop signal ends an extraction of the release (gunicorn only queues it).
            plan = make_plan(self.config, settings=False, interrupted=self.stop_requested)
            # A deploy may have deleted the folder the master is in and made it anew: the
            # master leaves the deleted one (the steps and gunicorn's settings start there).
            # It goes back below: the workers it forks next run where it is.
            os.chdir(plan.detection.app_dir)
            if plan.supervised:
                self._keep_running(
                    f"the startup command is now a command that is not gunicorn "
                    f"({plan.detection.command}), which can only run at start; restart the "
                    "container to run it"
                )
                return current
            from appservice_gunicorn.supervise import steps

            if steps.run_steps(plan, in_master=True, stopping=self.stop_requested) is not None:
                stopped = self.stop_requested()
                self._keep_running(
                    "its pre-start steps were cut short" if stopped else "a pre-start step failed"
                )
                return current
            add_master_paths(plan.detection)
            return with_settings(plan)
        except LaunchError as exc:
            self._keep_running(str(exc))
            return current
        except OSError as exc:  # the folder changing while it is read
            self._keep_running(f"{exc.filename or self.config.app_dir}: {exc.strerror or exc}")
            return current
        finally:
            assert self.cfg is not None
            with contextlib.suppress(OSError):  # gone too: the app folder will do
                os.chdir(self.cfg.chdir)

    def _keep_running(
        self, reason: str, error: str = "reload: %s; keeping the app that is running"
    ) -> None:
        """A redeploy that does not go live: one ERROR line, or an INFO line when a stop
        signal ended it (nothing was refused then: the launcher is stopping)."""
        if self.stop_requested():
            log.info("reload: %s; stopping", reason)
        else:
            log.error(error, reason)

    def _forget_user_code(self, new: Plan) -> None:
        """Drop the modules of the user's code that this (master) process imported.

        The master imports the app only with ``preload_app`` (or when ``gunicorn.conf.py``
        imports it): without this, new workers would be forked with the old modules in
        ``sys.modules`` and gunicorn would keep the old app object.
        """
        roots = {str(p) for plan in (self.plan, new) if plan is not None for p in _roots(plan)}
        prefixes = tuple(root + os.sep for root in roots)
        stale = [
            name
            for name, module in list(sys.modules.items())
            if name not in self.launcher_modules
            and name.partition(".")[0] not in _LAUNCHER_PACKAGES
            and _under(module, prefixes)
        ]
        for name in stale:
            del sys.modules[name]
        if stale:
            # Frozen before the first fork (boot.started): the collector may free them now.
            gc.unfreeze()
        importlib.invalidate_caches()
        if self.callable is not None or stale:
            self.callable = None
            log.info(
                "reload: dropped the app and %d of its modules imported by the master "
                "(preload_app); the new app is imported afresh",
                len(stale),
            )

    def _current(self) -> Plan:
        assert self.plan is not None
        return self.plan

    def load(self) -> Callable[..., Any]:
        plan = self._current()
        detection = plan.detection
        if detection.kind == "default":
            site = defaultsite.create_app(detection, plan.config.env)
            self._tell_master("")
            return site
        assert detection.app is not None and detection.pythonpath is not None
        assert self.cfg is not None
        extra = [Path(p).absolute() for p in (self.cfg.pythonpath or "").split(",") if p]
        site_dirs = detection.venv.site_packages if detection.venv else ()
        prepend_paths([detection.pythonpath, *extra], site_dirs)
        assert plan.settings is not None
        if plan.settings.debug is not None:
            from appservice_gunicorn.serve import debugger  # only when debugging: debugpy

            debugger.listen(plan.settings.debug)  # before the import: module code can stop
        try:
            app = load_app(
                detection.app, detection.pythonpath, detection.import_hint, paste=detection.paste
            )
            check_protocol(app, detection.app, self.cfg.worker_class_str)
        except BaseException as exc:
            # The first line of what failed: a redeploy's refusal says it (master.py).
            first = (str(exc) or repr(exc)).strip().partition("\n")[0]
            self._tell_master(first[:MAX_NOTE] or type(exc).__name__)
            raise
        if detection.kind == "asgi":
            app = LogUnhandled(app)
        self._tell_master("")
        return app

    def _tell_master(self, failure: str) -> None:
        workerreports.tell(self.ready_fd, failure)


def _roots(plan: Plan) -> list[Path]:
    """Folders whose modules are the user's: the app folder, import root and virtualenv."""
    detection = plan.detection
    roots = [detection.app_dir]
    if detection.pythonpath is not None:
        roots.append(detection.pythonpath)
    if detection.venv is not None:
        roots.append(detection.venv.path)
    return roots


def _under(module: ModuleType, prefixes: tuple[str, ...]) -> bool:
    """The module's file, or one of its package's folders, is in one of the folders."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file.startswith(prefixes):
        return True
    folders = getattr(module, "__path__", None)
    # A namespace package (no file) computes its __path__ as it is iterated: only then.
    if not isinstance(folders, list) and file is not None:
        return False
    return any(isinstance(f, str) and (f + os.sep).startswith(prefixes) for f in folders or ())
