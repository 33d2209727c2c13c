"""The environment the testing API gives each launcher."""

from __future__ import annotations

from appservice_gunicorn.testing import launcher_env


def test_each_launcher_gets_a_loopback_bind_and_a_control_socket_of_its_own() -> None:
    first, second = (launcher_env(port)["GUNICORN_CMD_ARGS"] for port in (8001, 8002))
    assert first.startswith("--bind=127.0.0.1:8001 ")
    assert "--control-socket=" in first and "--control-socket=" in second
    assert first.split("--control-socket=")[1] != second.split("--control-socket=")[1]


def test_a_test_that_chooses_where_the_control_socket_goes_keeps_it() -> None:
    for env in ({"HOME": "/srv/home"}, {"XDG_RUNTIME_DIR": ""}):
        assert "--control-socket" not in launcher_env(8001, env)["GUNICORN_CMD_ARGS"]
    chosen = launcher_env(8001, {"GUNICORN_CMD_ARGS": "--control-socket=/run/app.ctl"})
    assert chosen["GUNICORN_CMD_ARGS"].count("--control-socket") == 1
