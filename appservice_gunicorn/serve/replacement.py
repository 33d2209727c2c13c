"""The master replacing itself: ``execve`` of the launcher as it was started, same pid (so
still the container's PID 1), its listening sockets passed on as gunicorn's own USR2
upgrade passes them (``GUNICORN_FD``, read because ``GUNICORN_PID`` is set), and the pids
of the workers the new master must retire once its own serve."""

import os
import sys
from collections.abc import Iterable, Mapping

from appservice_gunicorn.base import boot

RETIRE = "APPSVC_RETIRE"


def exec_master(
    listeners: Iterable[int], env_orig: Mapping[str, str], retire: Iterable[int], cwd: str
) -> None:
    """Exec the launcher afresh; returns only by raising ``OSError``.  ``env_orig`` is the
    environment before gunicorn applied its ``--env`` settings; ``cwd`` where the launcher
    started (a relative ``--app-dir`` or ``APP_PATH`` means the same)."""
    environ = dict(env_orig)
    fds = list(listeners)
    for fd in fds:
        os.set_inheritable(fd, True)
    environ["GUNICORN_FD"] = ",".join(str(fd) for fd in fds)
    environ["GUNICORN_PID"] = str(os.getpid())
    environ[RETIRE] = ",".join(str(pid) for pid in sorted(retire))
    environ[boot.REPLACED] = "1"
    os.chdir(cwd)
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)
