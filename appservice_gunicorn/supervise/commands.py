"""A startup command the launcher does not serve itself (``uvicorn ...``, a script): run
as a supervised child after the pre-start steps; its exit status is the launcher's."""

import logging
import signal

from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.supervise import supervisor
from appservice_gunicorn.supervise.steps import command_env, run_steps

log = logging.getLogger(__name__)


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
