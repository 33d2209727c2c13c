"""Pre-start steps (``migrate && gunicorn ...``, ``PRE_RUN_COMMAND``): each runs through the
shell as a supervised child, before gunicorn starts (or, on a SIGHUP redeploy, before the
new workers do); this module decides what a step's exit means and says so in the log."""

import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping

from appservice_gunicorn.base import boot, environment
from appservice_gunicorn.files import writable
from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.startup.shell import Step
from appservice_gunicorn.supervise import supervisor

log = logging.getLogger(__name__)
SHELL = "/bin/sh"


def command_env(plan: Plan) -> dict[str, str]:
    """The environment of a supervised command or pre-start step, as App Service sets it.

    ``PORT``, ``HOST`` (0.0.0.0 unless set) and ``APP_PATH``; the launcher's own ``bin``
    on ``PATH`` ("python" and "gunicorn" mean the launcher's, as classifying assumed);
    the virtualenv activated, its site-packages on ``PYTHONPATH`` as Oryx puts them;
    ``TMPDIR`` when the usual temp folders are read-only.
    """
    env = {**plan.config.env, **EXPORTED}
    venv = plan.detection.venv
    tmp_dir = writable.temp_fallback(env)
    child = environment.startup_env(env, plan.detection.app_dir)
    paths = child.get("PATH", os.defpath).split(os.pathsep)
    launcher_bin = os.path.dirname(sys.executable)
    if launcher_bin and launcher_bin not in paths:
        paths.insert(0, launcher_bin)
    # As App Service runs a startup command: the app folder's scripts by their name.
    if str(plan.detection.app_dir) not in paths:
        paths.append(str(plan.detection.app_dir))
    if venv is not None:
        if not venv.packages_only:
            child["VIRTUAL_ENV"] = str(venv.path)
        paths.insert(0, str(venv.path / "bin"))
        python_paths = [str(p) for p in venv.site_packages]
        if child.get("PYTHONPATH"):
            python_paths.append(child["PYTHONPATH"])
        child["PYTHONPATH"] = os.pathsep.join(python_paths)
    child["PATH"] = os.pathsep.join(paths)
    if tmp_dir is not None:
        child["TMPDIR"] = tmp_dir
    return child


def run_steps(
    plan: Plan, *, in_master: bool = False, stopping: Callable[[], bool] | None = None
) -> int | None:
    """Run the plan's pre-start steps in order: None when gunicorn may start, else the
    exit status to stop with (a failed '&&' step, or a stop signal meanwhile).

    ``in_master``: inside gunicorn's running master (a SIGHUP redeploy); signals that
    arrive meanwhile are handed back to gunicorn once the step is over; ``stopping`` says
    whether gunicorn queued a stop before a step began (no more steps run then).
    """
    if not plan.steps:
        return None
    env = command_env(plan)
    total = len(plan.steps)
    for number, step in enumerate(plan.steps, 1):
        if stopping is not None and stopping():
            log.info("A stop signal came before pre-start step %d/%d; stopping", number, total)
            return 0
        log.info("Pre-start step %d/%d: %s", number, total, step.command)
        # Only a step whose exports reach the app writes its environment, to a file (a
        # pipe could fill before the step ends).
        with tempfile.TemporaryFile() if step.exports else contextlib.nullcontext() as exported:
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
                result_fd=exported.fileno() if exported is not None else None,
                stopping=stopping,
            )
            if exported is not None and result.status == 0:
                exported.seek(0)
                env.update(_exports(env, exported.read()))
        if in_master:
            hand_back(result)
        elif signal.SIGHUP in result.deferred:
            boot.keep_hup()  # gunicorn is not serving yet: a redeploy once it is
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
    failure's; for ``exports``, then its environment written to fd 3."""
    if step.errexit:
        return f"set -e\n{step.command}\n:"
    if step.exports:
        return f"{step.command}\n__appsvc_status=$?\nenv -0 >&3\nexit $__appsvc_status"
    return step.command


# What PRE_RUN_COMMAND exported in this process: the app gets it through os.environ,
# a supervised command through its environment (command_env).
EXPORTED: dict[str, str] = {}
# Kept by the shell itself, not exported by the command.
_SHELL_OWN = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "__appsvc_status"})


def _exports(before: Mapping[str, str], dumped: bytes) -> dict[str, str]:
    """What a step exported: the variables of its final environment that differ from the
    one it got.  They reach the app (the launcher's own environment, which the workers
    inherit) and the next steps, as in App Service's script the command is pasted into."""
    found: dict[str, str] = {}
    for entry in dumped.split(b"\0"):
        name, equals, value = os.fsdecode(entry).partition("=")
        if equals and name not in _SHELL_OWN and before.get(name) != value:
            found[name] = value
    os.environ.update(found)
    EXPORTED.update(found)
    return found


def hand_back(result: supervisor.Result) -> None:
    """Signals taken while a child ran inside gunicorn's master go back to gunicorn."""
    for signum in (*result.deferred, *filter(None, [result.stopped_by])):
        os.kill(os.getpid(), signum)
