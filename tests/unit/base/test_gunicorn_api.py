"""The private behaviours of gunicorn the master relies on, one named test each, run on
gunicorn's real classes: an upgrade that changes one fails the test that says which.

serve/master.py builds on them (see its docstrings): the pyproject's upper bound on
gunicorn is the newest major this suite passes on, and ``nox -s gunicorn_newest`` runs it
against gunicorn's newest release.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from appservice_gunicorn.base.gunicorn_api import Arbiter, BaseApplication, Config


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


class _App(BaseApplication):
    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return _wsgi


class _Stop(Exception):
    pass


def test_arbiter_reload_forks_the_new_workers_then_calls_manage_workers() -> None:
    """LauncherArbiter.manage_workers waits for the new workers there, and raises out of
    reload() when they fail, before gunicorn stops the old ones."""
    calls: list[str] = []

    class Recording(Arbiter):
        def spawn_worker(self) -> int:
            calls.append("spawn_worker")
            return 0

        def manage_workers(self) -> None:
            calls.append("manage_workers")
            raise _Stop

    arbiter = Recording(_App(workers=3, bind=["127.0.0.1:0"], control_socket_disable=True))
    with pytest.raises(_Stop):
        arbiter.reload()
    assert calls == ["spawn_worker"] * 3 + ["manage_workers"]


class _ExitAtOnce:
    """A worker class whose child leaves at once (nothing of pytest runs in it)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from gunicorn.workers.sync import SyncWorker

        class Worker(SyncWorker):
            def init_process(self) -> None:
                os._exit(0)

        return Worker(*args, **kwargs)


def test_each_spawned_worker_gets_the_arbiters_next_worker_age() -> None:
    """The master tells a redeploy's new workers from the old ones by ``Worker.age``
    against the ``worker_age`` noted before ``reload()``."""
    arbiter = Arbiter(_App(workers=1, bind=["127.0.0.1:0"], control_socket_disable=True))
    arbiter.worker_class = _ExitAtOnce  # type: ignore[assignment]
    arbiter.pid = os.getpid()  # as start() sets it
    before = arbiter.worker_age
    pid = arbiter.spawn_worker()
    try:
        assert arbiter.worker_age == before + 1
        assert arbiter.WORKERS[pid].age == before + 1
    finally:
        os.waitpid(pid, 0)
        arbiter.WORKERS[pid].tmp.close()


def test_a_worker_holds_its_heartbeat_file_as_tmp_with_close() -> None:
    """The master closes ``worker.tmp`` of workers it drops itself (a refused redeploy's)."""
    from gunicorn.glogging import Logger
    from gunicorn.workers.sync import SyncWorker

    config = Config()
    worker = SyncWorker(1, os.getpid(), [], _App(), 30, config, Logger(config))
    descriptor = worker.tmp.fileno()
    os.fstat(descriptor)
    worker.tmp.close()
    with pytest.raises(OSError):
        os.fstat(descriptor)


def test_config_keeps_the_environment_it_was_made_in_as_env_orig(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replaced master execs itself with ``cfg.env_orig``: the environment before
    gunicorn's ``--env`` settings were applied."""
    monkeypatch.setenv("APPSVC_COUPLING", "before")
    config = Config()
    monkeypatch.setenv("APPSVC_COUPLING", "after")
    assert config.env_orig["APPSVC_COUPLING"] == "before"


START_WITH_INHERITED_SOCKET = """
import os, socket, sys
from appservice_gunicorn.base.gunicorn_api import Arbiter, BaseApplication

class App(BaseApplication):
    def load_config(self):
        self.cfg.set("bind", ["127.0.0.1:1"])  # not bound: the inherited socket is used
        self.cfg.set("control_socket_disable", True)
    def load(self):
        return None

arbiter = Arbiter(App())
arbiter.start()
(listener,) = arbiter.LISTENERS
print(listener.sock.getsockname()[1], "GUNICORN_FD" in os.environ)
"""


def test_a_master_started_with_gunicorn_pid_listens_on_the_sockets_of_gunicorn_fd() -> None:
    """A master that replaces itself (exec, same pid) passes its listening sockets as
    gunicorn's own USR2 upgrade does: GUNICORN_FD, read only when GUNICORN_PID is set."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        listening.set_inheritable(True)
        fd, port = listening.fileno(), listening.getsockname()[1]
        # The bind it is told (port 1) is not used: the inherited socket is.
        env = {**os.environ, "GUNICORN_FD": str(fd), "GUNICORN_PID": "1"}
        result = subprocess.run(
            [sys.executable, "-c", START_WITH_INHERITED_SOCKET],
            capture_output=True,
            text=True,
            env=env,
            pass_fds=(fd,),
            timeout=60,
            cwd="/",
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(port), "False"]
