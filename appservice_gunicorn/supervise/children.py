"""What the launcher runs as supervised children: pre-start steps and startup commands
that are not gunicorn.  Each runs under ``supervisor.run``; this module decides what a
child's exit means for the launcher and says so in the log."""

import logging
import os
import signal
from pathlib import Path

from appservice_gunicorn import environment
from appservice_gunicorn.files import writable
from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.startup.shell import Step
from appservice_gunicorn.supervise import supervisor

log = logging.getLogger("appservice_gunicorn")
SHELL = "/bin/sh"


def command_env(plan: Plan) -> dict[str, str]:
    env = plan.config.env
    detection = plan.detection
    return environment.command_env(
        env, detection.app_dir, detection.venv, writable.temp_fallback(env)
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
            [
                *(step.shell or (SHELL,)),
                "-c",
                _as_run(step),
                *([step.script] if step.script else []),
            ],
            env,
            plan.detection.app_dir,
            grace_seconds=supervisor.grace(env),
            forward=supervisor.STOPPING,
            reap_all=not in_master,
        )
        if in_master:
            _hand_back(result)
        if result.stopped_by is not None:
            name = signal.Signals(result.stopped_by).name
            log.info("%s received during pre-start step %d/%d; stopping", name, number, total)
            return result.status
        if result.status == 0:
            continue
        if step.stop_on_failure:
            log.error(
                "Pre-start step %d/%d (%s) exited with status %d, so %s is not started; "
                "fix the step (its output is above), or %s to start the app even when it fails",
                number,
                total,
                step.command,
                result.status,
                "the redeployed app" if in_master else "the app",
                f"end it with '|| true' (the 'set -e' of {step.script or 'the command'} stops "
                "at a failing step)"
                if step.errexit
                else "join it with ';' instead of '&&'",
            )
            return result.status or 1
        log.error(
            "Pre-start step %d/%d (%s) exited with status %d; going on (its failure does not "
            "stop the start: it is joined by ';' or a new line, or is PRE_RUN_COMMAND)",
            number,
            total,
            step.command,
            result.status,
        )
    return None


def _as_run(step: Step) -> str:
    """The step's text as the shell runs it: under ``set -e`` with the shell's own rules
    (a failure on the left of '&&' or '||' does not stop it), its status then 0 or the
    failure's."""
    return f"set -e\n{step.command}\n:" if step.errexit else step.command


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
        "Running the startup command%s as a supervised child (signals forwarded, "
        "exit status passed on): %s",
        "" if startup.origin == "startup command" else f" from {startup.origin}",
        startup.shown,
    )
    result = supervisor.run(argv, env, plan.detection.app_dir, grace_seconds=supervisor.grace(env))
    how = f"exited with status {result.status}"
    if result.status > 128:
        with_signal = result.status - 128
        if with_signal in signal.valid_signals():
            how += f" ({signal.Signals(with_signal).name})"
    how += _WHY.get(result.status, "")
    # A failure of its own is an error; an end the launcher's stop signal asked for is not.
    failed = result.status != 0 and result.stopped_by is None
    log.log(
        logging.ERROR if failed else logging.INFO,
        "The startup command %s; the launcher exits with the same status",
        how,
    )
    return result.status


# The shell's statuses for a command it could not run.
_WHY = {
    127: ": a program it runs was not found; install it (in the app's virtualenv, from "
    "requirements.txt, or in the image) or fix its name",
    126: ": a program it runs is not executable; chmod +x it",
}


def prove(plan: Plan) -> str | None:
    """Inside gunicorn's master: import the plan's app in a fresh interpreter, as a worker
    would.  None when it imports, else what went wrong (the importer's message)."""
    from appservice_gunicorn.serve import proof_child  # only on a redeploy that needs it

    detection = plan.detection
    settings = plan.settings
    if detection.app is None or detection.pythonpath is None or settings is None:
        return None  # the default site: nothing of the user's to import
    env = dict(os.environ)
    for pair in settings.value("raw_env") or ():
        name, _, value = str(pair).partition("=")
        env[name] = value
    extra = [Path(p).absolute() for p in str(settings.value("pythonpath") or "").split(",") if p]
    site_dirs = detection.venv.site_packages if detection.venv else ()
    read_end, write_end = os.pipe()
    try:
        result = supervisor.run(
            proof_child.command(
                detection.app, detection.pythonpath, extra, site_dirs, paste=detection.paste
            ),
            env,
            settings.value("chdir") or detection.app_dir,
            grace_seconds=supervisor.grace(env),
            forward=supervisor.STOPPING,
            reap_all=False,
            result_fd=write_end,
        )
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        said = reader.read().decode(errors="replace").strip()
    _hand_back(result)
    if result.stopped_by is not None:
        return f"{signal.Signals(result.stopped_by).name} received while checking the new app"
    if result.status == 0 and said == proof_child.PROVEN:
        return None
    return said or f"importing {detection.app} ended the process with status {result.status}"


def _hand_back(result: supervisor.Result) -> None:
    """Signals taken while a child ran inside gunicorn's master go back to gunicorn."""
    for signum in (*result.deferred, *filter(None, [result.stopped_by])):
        os.kill(os.getpid(), signum)
