"""The environment the testing API gives each launcher."""

from __future__ import annotations

from tests.launcher import launcher_env


def test_each_launcher_gets_a_loopback_bind_of_its_own_port() -> None:
    first, second = (launcher_env(port)["GUNICORN_CMD_ARGS"] for port in (8001, 8002))
    assert first == "--bind=127.0.0.1:8001" and second == "--bind=127.0.0.1:8002"


def test_the_control_socket_is_left_to_the_launcher() -> None:
    """The launcher gives each of its runs a control socket of its own (runtime.py): the
    testing API needs no workaround, and a test's own choice reaches gunicorn unchanged."""
    assert "--control-socket" not in launcher_env(8001)["GUNICORN_CMD_ARGS"]
    chosen = launcher_env(8001, {"GUNICORN_CMD_ARGS": "--control-socket=/run/app.ctl"})
    assert chosen["GUNICORN_CMD_ARGS"].count("--control-socket") == 1
