"""Remote debugging's plan: where debugpy listens, the settings it needs, and one line
when it cannot be done (the app is then served as usual)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.explain import decision
from appservice_gunicorn.plan.debugging import DebugAdapter
from appservice_gunicorn.plan.layers import LayeredSettings
from appservice_gunicorn.plan.plan import LauncherConfig, make_plan
from appservice_gunicorn.plan.settings import layer_settings
from tests.helpers import flask_app, write

ON = {"APPSVC_REMOTE_DEBUGGING": "TRUE"}


def settings(path: Path, startup: str | None = None, **env: str) -> LayeredSettings:
    return layer_settings(detect(path, startup, env), env)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    write(tmp_path, {"app.py": flask_app()})
    return tmp_path


@pytest.fixture
def no_debugpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher's Python as if debugpy were not installed (it is, for these tests)."""
    kept = [p for p in sys.path if not (Path(p or ".") / "debugpy").exists()]
    monkeypatch.setattr(sys, "path", kept)


def test_off_unless_asked(app: Path) -> None:
    layered = settings(app)
    assert layered.debug is None
    assert layered.value("timeout") == 600


def test_on_listens_on_the_tunnel_port_with_one_worker_no_timeout_no_preload(app: Path) -> None:
    layered = settings(
        app, "gunicorn --workers 4 --preload app:app", **ON, APPSVC_TUNNEL_PORT="5999"
    )
    assert layered.debug == DebugAdapter("0.0.0.0", 5999, wait=False)
    for name, value in (("workers", 1), ("timeout", 0), ("preload_app", False)):
        assert layered.values[name].value == value
        assert layered.source(name) == "env:APPSVC_REMOTE_DEBUGGING"
    # What the configuration asked for instead is said; the launcher's own default is not.
    assert [n for n in layered.notes if "while remote debugging" in n] == [
        "workers = 4 (from startup) is set to 1 while remote debugging (APPSVC_REMOTE_DEBUGGING)",
        "preload_app = True (from startup) is set to False while remote debugging "
        "(APPSVC_REMOTE_DEBUGGING)",
    ]


def test_port_defaults_to_debugpys_host_follows_host_and_break_waits(app: Path) -> None:
    layered = settings(app, **ON, HOST="127.0.0.1", APPSVC_REMOTE_DEBUGGING_BREAK="true")
    assert layered.debug == DebugAdapter("127.0.0.1", 5678, wait=True)


@pytest.mark.parametrize("port", ["0", "70000", "tunnel", "-1"])
def test_a_bad_tunnel_port_is_one_error_and_no_debugging(app: Path, port: str) -> None:
    layered = settings(app, **ON, APPSVC_TUNNEL_PORT=port)
    assert layered.debug is None
    assert layered.value("timeout") == 600
    assert layered.errors == [
        f"APPSVC_TUNNEL_PORT={port!r} is not a port number (1-65535); remote debugging is "
        "off: set APPSVC_TUNNEL_PORT to the port the debugger connects to"
    ]


@pytest.mark.usefixtures("no_debugpy")
def test_without_debugpy_one_error_names_pip_install_and_the_app_is_served(app: Path) -> None:
    layered = settings(app, **ON)
    assert layered.debug is None
    assert layered.value("timeout") == 600
    [error] = layered.errors
    assert "debugpy is not installed (looked in the launcher's Python)" in error
    assert "pip install debugpy" in error


@pytest.mark.usefixtures("no_debugpy")
def test_debugpy_is_found_in_the_apps_virtualenv(app: Path) -> None:
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    write(
        app,
        {
            "antenv/pyvenv.cfg": "home = /usr/bin\n",
            f"antenv/lib/{version}/site-packages/debugpy/__init__.py": "",
        },
    )
    assert settings(app, **ON).debug == DebugAdapter("0.0.0.0", 5678, wait=False)
    (app / f"antenv/lib/{version}/site-packages/debugpy/__init__.py").unlink()
    (app / f"antenv/lib/{version}/site-packages/debugpy").rmdir()
    assert "looked in the app's virtualenv" in settings(app, **ON).errors[0]


def test_the_default_site_is_not_debugged(tmp_path: Path) -> None:
    layered = settings(tmp_path, **ON)
    assert layered.debug is None
    assert layered.notes == [
        "APPSVC_REMOTE_DEBUGGING is set but there is no app to debug (the default site is served)"
    ]


def test_explain_shows_the_debugger_and_a_supervised_command_gets_a_note(app: Path) -> None:
    env = {**ON, "HOST": "127.0.0.1"}
    plan = make_plan(LauncherConfig(app, env=env))
    text = decision.render_text(plan)
    assert "  debugger:     debugpy on 127.0.0.1:5678\n" in text
    assert decision.as_dict(plan)["remote_debugging"] == {
        "host": "127.0.0.1",
        "port": 5678,
        "wait": False,
    }
    supervised = make_plan(LauncherConfig(app, ("uvicorn", "app:app"), env=env))
    assert decision.as_dict(supervised)["remote_debugging"] is None
    assert decision.SUPERVISED_DEBUGGING in decision.as_dict(supervised)["notes"]


@pytest.mark.usefixtures("no_debugpy")
def test_a_compressed_virtualenv_not_extracted_yet_is_not_said_to_lack_debugpy(
    app: Path,
) -> None:
    """--explain extracts nothing: what antenv.tar.gz holds cannot be seen, so no error."""
    write(
        app,
        {
            "oryx-manifest.toml": (
                'virtualEnvName="antenv"\ncompressedVirtualEnvFile="antenv.tar.gz"\n'
            ),
            "antenv.tar.gz": "",
        },
    )
    layered = settings(app, **ON)
    assert layered.errors == []
    assert layered.debug == DebugAdapter("0.0.0.0", 5678, wait=False)
