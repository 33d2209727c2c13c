"""The launcher's first lines: signal handlers, before anything heavy is imported.

As a container's PID 1 the kernel drops any signal that has no handler, so a SIGTERM sent
while Python imports gunicorn would be lost and the launcher would go on to serve.  These
handlers are installed by ``__main__`` (the module and the console script) before the CLI
is even imported, using the C module ``_signal`` (the ``signal`` module costs 8 ms of imports):

- SIGTERM, SIGINT, SIGQUIT while starting end the launcher at once, with status 0 as
  gunicorn's own stop does;
- SIGHUP while starting is remembered and handed to gunicorn once it serves: a redeploy
  of whatever changed after the folder was read.

gunicorn installs its own handlers when it starts serving; a supervised command blocks
these signals and forwards them.

The garbage collector is off while the launcher starts: start-up creates some 100,000
objects that live as long as the process (gunicorn, the launcher, a preloaded framework),
and collecting while they come is wasted work.  ``started`` turns it back on before the
workers fork, after ``gc.freeze()``, so that collections in a worker never write to the
pages of the objects it inherited (Python's documented recipe for servers that fork), and
before a supervised command runs.
"""

import _signal  # type: ignore[import-not-found]
import gc
import sys

_NAMES = {2: "SIGINT", 3: "SIGQUIT", 15: "SIGTERM"}
# Set when the master replaced itself (master.py): its steps ran, its workers still serve.
REPLACED = "APPSVC_REPLACED"
# The working directory the launcher started in (the master's own moves to the app folder).
START_CWD = ""
SIGHUP = 1
_hup_pending = False
# A stop signal arrived while starting.  Its exception can be lost on the way out: raised
# inside a C extension's import (``_ssl`` importing ``_socket``) it comes out as an
# ImportError, and code that catches ImportError would swallow it.
_stopping = False


class Interrupted(SystemExit):
    """A stop signal while starting: ends the launcher with status 0."""


def _stop(signum: int, frame: object) -> None:
    global _stopping
    _stopping = True
    sys.stderr.write(f"appservice-gunicorn: {_NAMES[signum]} received while starting; exiting\n")
    raise Interrupted(0)


def _remember_hup(signum: int, frame: object) -> None:
    global _hup_pending
    _hup_pending = True


def install(cwd: str) -> None:
    """The launcher's first act (``__main__``): the handlers, the collector off, and the
    working directory it started in remembered.  A master that replaced itself blocked the
    stop signals across its exec: unblocked now, one that came meanwhile arrives here."""
    global START_CWD
    for signum in _NAMES:
        _signal.signal(signum, _stop)
    _signal.signal(SIGHUP, _remember_hup)
    gc.disable()
    START_CWD = cwd
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {*_NAMES, SIGHUP})


def stopping() -> bool:
    """Whether a stop signal arrived while starting (its exception may have been lost)."""
    return _stopping


def keep_hup() -> None:
    """A SIGHUP taken by a supervised pre-start step while starting: handed to gunicorn
    once it serves, as one that came to the handler above."""
    global _hup_pending
    _hup_pending = True


def take_pending_hup() -> bool:
    """Whether a SIGHUP arrived while starting (and forget it)."""
    global _hup_pending
    pending, _hup_pending = _hup_pending, False
    return pending


def started(*, forking: bool) -> None:
    """Start-up is over: the collector runs again (``forking``: after freezing what the
    workers will inherit).  A stop that arrived while starting ends the launcher here, if
    its exception was lost."""
    if _stopping:
        raise Interrupted(0)
    if forking:
        gc.freeze()
    gc.enable()
