"""A startup command the launcher does not serve itself (``uvicorn ...``, a script): run
as a supervised child after the pre-start steps; its exit status is the launcher's."""

import logging
import signal
from collections.abc import Mapping

from appservice_gunicorn.base import environment
from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.startup import server_ports
from appservice_gunicorn.supervise import supervisor
from appservice_gunicorn.supervise.port_watch import PortWatch
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
    watch = _port_watch(plan, env)
    result = supervisor.run(
        argv, env, plan.detection.app_dir, grace_seconds=supervisor.grace(env), tick=watch
    )
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


def _port_watch(plan: Plan, env: Mapping[str, str]) -> PortWatch | None:
    """A watch of ``$PORT``, for a command that runs a web server it knows, or any command
    on App Service (where every container must answer there)."""
    assert plan.detection.startup is not None
    text = plan.detection.startup.text
    if not (environment.on_app_service(env) or server_ports.runs_server(text)):
        return None
    return PortWatch(int(environment.port(env)), "The startup command")


# The shell's statuses for a command it could not run.
_WHY = {
    127: ": a program it runs was not found; install it (in the app's virtualenv, from "
    "requirements.txt, or in the image) or fix its name",
    126: ": a program it runs is not executable; chmod +x it",
}
