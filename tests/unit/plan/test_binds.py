"""Binds gunicorn could not use are one line naming the value; usable ones pass."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.plan import binds
from appservice_gunicorn.plan.plan import LauncherConfig, make_plan
from tests.helpers import flask_app, write


@pytest.mark.parametrize(
    ("bind", "problem"),
    [
        ("0.0.0.0:99999", "port 99999 is out of range (0-65535)"),
        ("127.0.0.1:-5", "port -5 is out of range"),
        ("[::1]:70000", "port 70000 is out of range"),
        ("tcp://0.0.0.0:65536", "port 65536 is out of range"),
        ("-1", "a port alone is not an address; write 0.0.0.0:1"),
        ("8000", "a port alone is not an address; write 0.0.0.0:8000"),
        ("fd://99", "file descriptor 99 is not open in the launcher"),
        ("fd://x", "'x' is not a file descriptor number"),
        ("0.0.0.0:http", "'http' is not a port number"),
    ],
)
def test_a_bind_gunicorn_could_not_use_says_why(bind: str, problem: str) -> None:
    said = binds.unusable(bind)
    assert said is not None and said.startswith(problem)


@pytest.mark.parametrize(
    "bind", ["0.0.0.0:8000", "[::]:0", "localhost", "unix:/run/app.sock", "tcp://1.2.3.4:65535"]
)
def test_usable_binds_pass(bind: str) -> None:
    assert binds.unusable(bind) is None


def test_an_open_descriptor_is_usable() -> None:
    with socket.socket() as listening:
        assert binds.unusable(f"fd://{listening.fileno()}") is None


@pytest.mark.parametrize(
    ("files", "startup", "env", "source"),
    [
        ({}, ("--bind=0.0.0.0:99999",), {}, "startup"),
        ({}, (), {"GUNICORN_CMD_ARGS": "--bind 0.0.0.0:99999"}, "GUNICORN_CMD_ARGS"),
        ({"gunicorn.conf.py": "bind = '0.0.0.0:99999'\n"}, (), {}, "gunicorn.conf.py"),
    ],
)
def test_the_plan_stops_with_the_bind_its_source_and_the_value(
    tmp_path: Path,
    files: dict[str, str],
    startup: tuple[str, ...],
    env: dict[str, str],
    source: str,
) -> None:
    write(tmp_path, {"app.py": flask_app(), **files})
    config = LauncherConfig(app_dir=tmp_path, startup=startup, env={"PATH": "/bin", **env})
    with pytest.raises(LaunchError) as raised:
        make_plan(config)
    assert str(raised.value) == (
        f"bind '0.0.0.0:99999' (from {source}): port 99999 is out of range (0-65535); "
        "bind 0.0.0.0:$PORT"
    )


def test_an_ipv6_loopback_bind_on_app_service_gets_its_note() -> None:
    """``[::1]`` was split at its last colon: host '[:' was no loopback address."""
    notes = binds.check(["[::1]"], "startup", {"WEBSITE_SITE_NAME": "mysite"})
    assert any("listens on the loopback only" in note for note in notes)
