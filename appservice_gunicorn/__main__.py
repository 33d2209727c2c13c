"""The entry point: ``python -m appservice_gunicorn`` and the ``appservice-gunicorn`` command.

Nothing imports this module.  Its first lines run before anything heavy is imported: the
signal handlers a container's PID 1 needs and the collector off while starting (boot.py),
and the working folder off ``sys.path``.
"""

import os
import sys

from appservice_gunicorn.base import boot


def _drop_the_working_folder() -> None:
    """``python -m`` puts the working folder first on ``sys.path``: run from the app folder,
    the launcher's own imports would find the user's modules there (a deployed email.py,
    random.py or signal.py would replace the standard library's for gunicorn and the
    launcher).  The app folder goes on the path only where the app is imported
    (serve/importer.py)."""
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
        del sys.path[0]


def main() -> None:
    cwd = os.getcwd()
    master = os.getpid()  # gunicorn's workers come back here too, as they exit
    try:
        boot.install(cwd)  # a stop that came during a master's exec of itself arrives here
        _drop_the_working_folder()
        # Everything else, after the handlers: a signal that comes while it imports is acted on.
        from appservice_gunicorn.cli import main as cli_main

        status = cli_main()
    except SystemExit as stop:  # gunicorn's own stop (Arbiter.halt), or a stop while starting
        if boot.stopping():
            _stop_the_previous_masters_workers()
            if not isinstance(stop, boot.Interrupted):
                raise boot.Interrupted(0) from None
            raise
        _clear_leftovers(stop.code if isinstance(stop.code, int) else 1, master)
        raise
    except BaseException:
        if boot.stopping():
            _stop_the_previous_masters_workers()
            raise boot.Interrupted(0) from None  # whatever the stop's exception became
        raise
    _clear_leftovers(status, master)
    sys.exit(status)


def _stop_the_previous_masters_workers() -> None:
    """A master that replaced itself and is stopped before it serves: the workers of the one
    it replaced still serve; they finish their requests and stop (graceful, 30 s)."""
    if os.environ.get("APPSVC_RETIRE"):
        import signal  # not before the handlers: the signal module costs 8 ms of imports
        import time

        from appservice_gunicorn.serve import replacement

        old = replacement.OldWorkers.from_environment()
        old.stop(signal.SIGTERM)
        old.reap(time.monotonic() + replacement.GRACEFUL_SECONDS)


def _clear_leftovers(status: int, master: int) -> None:
    """Threads and children the app's code left in the master, or in a worker that exits
    (supervise/leftovers.py)."""
    if "appservice_gunicorn.serve.application" in sys.modules:  # gunicorn served
        from appservice_gunicorn.supervise import leftovers

        leftovers.clear(status, worker=os.getpid() != master)


if __name__ == "__main__":
    main()
