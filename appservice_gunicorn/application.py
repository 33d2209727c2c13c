"""The gunicorn application: the plan's settings go into gunicorn's ``Config``; the
worker imports the detected app.  SIGHUP re-runs detection (a redeploy)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from . import defaultsite, explain
from .config import LauncherConfig, LaunchError, Plan, make_plan
from .importer import import_app, prepend_paths

log = logging.getLogger("appservice_gunicorn")


class AppServiceApplication(BaseApplication):
    def __init__(self, config: LauncherConfig, plan: Plan | None = None) -> None:
        # BaseApplication.__init__ calls load_config(): everything it needs is set first.
        self.config = config
        self._next_plan = plan
        self.plan: Plan | None = None
        super().__init__(
            usage="appservice-gunicorn [OPTIONS] [STARTUP ...]", prog="appservice-gunicorn"
        )

    def load_config(self) -> None:
        plan = self._next_plan or make_plan(self.config)
        self._next_plan = None
        self.plan = plan
        explain.log_plan(plan, log)
        assert self.cfg is not None
        # A relative --chdir or path in the settings means the app folder, as on App Service.
        os.chdir(plan.detection.app_dir)
        plan.settings.apply(self.cfg)
        os.chdir(self.cfg.chdir)

    def reload(self) -> None:
        """SIGHUP: detect again, so that a redeployed folder is served by the new workers."""
        try:
            plan = make_plan(self.config)
        except LaunchError as exc:
            log.error("reload: %s; keeping the app that is running", exc)
            plan = self._current()
        if plan.detection.kind == "command":
            log.error(
                "reload: the startup command is now a shell command (%s), which can only run "
                "at start; restart the container to run it. Keeping the app that is running",
                plan.detection.command,
            )
            plan = self._current()
        self._next_plan = plan
        super().reload()

    def _current(self) -> Plan:
        assert self.plan is not None
        return self.plan

    def load(self) -> Callable[..., Any]:
        plan = self._current()
        detection = plan.detection
        if detection.kind == "default":
            return defaultsite.create_app(detection, plan.config.env)
        assert detection.app is not None and detection.pythonpath is not None
        assert self.cfg is not None
        extra = [Path(p).absolute() for p in (self.cfg.pythonpath or "").split(",") if p]
        site_dirs = detection.venv.site_packages if detection.venv else ()
        prepend_paths([detection.pythonpath, *extra], site_dirs)
        hint = detection.venv.mismatch() if detection.venv else None
        return import_app(detection.app, detection.pythonpath, hint)
