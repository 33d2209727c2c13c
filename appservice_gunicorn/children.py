"""What the launcher runs as supervised children: pre-start steps and startup commands
that are not gunicorn.  Each runs under ``supervisor.run``; this module decides what a
child's exit means for the launcher and says so in the log."""

from __future__ import annotations

import logging
import os
import signal

from . import environment, runtime, supervisor
from .config import Plan

log = logging.getLogger("appservice_gunicorn")
SHELL = "/bin/sh"


def command_env(plan: Plan) -> dict[str, str]:
    env = plan.config.env
    detection = plan.detection
    return environment.command_env(
        env, detection.app_dir, detection.venv, runtime.temp_fallback(env)
    )


def run_steps(plan: Plan, *, in_master: bool = False) -> int | None:
    """Run the plan's pre-start steps in order: None when gunicorn may start, else the
    exit status to stop with (a failed '&&' step, or a stop signal meanwhile).

    ``in_master``: inside gunicorn's running master (a SIGHUP redeploy); signals that
    arrive meanwhile are handed back to gunicorn once the step is over.
    """
    if not plan.steps:
        return None
    env = command_env(plan)
    total = len(plan.steps)
    for number, step in enumerate(plan.steps, 1):
        log.info("Pre-start step %d/%d: %s", number, total, step.command)
        result = supervisor.run(
            [SHELL, "-c", step.command],
            env,
            plan.detection.app_dir,
            grace_seconds=supervisor.grace(env),
            forward=supervisor.STOPPING,
            reap_all=not in_master,
        )
        if in_master:
            for signum in (*result.deferred, *filter(None, [result.stopped_by])):
                os.kill(os.getpid(), signum)  # gunicorn's own handlers take it from here
        if result.stopped_by is not None:
            name = signal.Signals(result.stopped_by).name
            log.info("%s received during pre-start step %d/%d; stopping", name, number, total)
            return result.status
        if result.status == 0:
            continue
        if step.stop_on_failure:
            log.error(
                "Pre-start step %d/%d (%s) exited with status %d, so the app is not started; "
                "fix the step (its output is above), or join it with ';' instead of '&&' to "
                "start the app even when it fails",
                number,
                total,
                step.command,
                result.status,
            )
            return result.status or 1
        log.error(
            "Pre-start step %d/%d (%s) exited with status %d; going on, as ';' asks",
            number,
            total,
            step.command,
            result.status,
        )
    return None


def run_supervised(plan: Plan) -> int:
    """Run the plan's command as a supervised child; its exit status is the launcher's."""
    stop = run_steps(plan)
    if stop is not None:
        return stop
    startup = plan.detection.startup
    assert startup is not None
    env = command_env(plan)
    argv = startup.shell_argv()
    log.info(
        "Running the startup command from %s as a supervised child (signals forwarded, "
        "exit status passed on): %s",
        startup.origin,
        startup.text if startup.kind == "shell" else " ".join(argv),
    )
    result = supervisor.run(argv, env, plan.detection.app_dir, grace_seconds=supervisor.grace(env))
    how = f"exited with status {result.status}"
    if result.status > 128:
        with_signal = result.status - 128
        if with_signal in signal.valid_signals():
            how += f" ({signal.Signals(with_signal).name})"
    log.info("The startup command %s; the launcher exits with the same status", how)
    return result.status
