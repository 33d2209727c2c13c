"""The application's redeploy decisions, in-process (no arbiter, no workers): what SIGHUP
would go live with, what it refuses, and when the master must prove a new app first."""

from __future__ import annotations

import logging
import shutil
import signal
import sys
from pathlib import Path

import flask
import pytest

from appservice_gunicorn.plan.plan import LauncherConfig
from appservice_gunicorn.serve.application import AppServiceApplication
from tests.helpers import flask_app, write

ENV = {"PATH": "/usr/bin:/bin", "PORT": "8000"}


@pytest.fixture
def app_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_sys_path: None) -> Path:
    # The application moves to the app folder, as gunicorn's master does, and exports
    # App Service's variables for the app: both undone after the test.
    monkeypatch.chdir(tmp_path)
    for name in ("APP_PATH", "HOST", "PORT"):
        monkeypatch.setenv(name, "")  # recorded as it was, so that teardown puts it back
        monkeypatch.delenv(name)
    return write(tmp_path / "site", {"app.py": flask_app()})


def application(folder: Path, *startup: str) -> AppServiceApplication:
    return AppServiceApplication(LauncherConfig(app_dir=folder, startup=startup, env=ENV))


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_redeploy_of_a_new_app_is_prepared_for_the_new_workers_to_prove(
    app_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = application(app_folder)
    assert app.plan is not None and app.plan.detection.app == "app:app"
    write(app_folder, {"application.py": flask_app()})  # App Service's first file name
    assert app.prepare_redeploy() is True
    assert errors(caplog) == []
    app.reload()
    assert app.plan.detection.app == "application:app"


def test_a_folder_that_now_needs_a_supervised_command_is_refused(
    app_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(app_folder, {"startup.txt": "gunicorn app:app\n"})
    app = application(app_folder, "startup.txt")
    write(app_folder, {"startup.txt": "uvicorn main:app\n"})
    running = app.plan
    assert app.prepare_redeploy() is False
    (line,) = errors(caplog)
    assert "now a command that is not gunicorn (uvicorn main:app)" in line
    assert "restart the container" in line
    assert app.plan is running


def test_a_redeploy_whose_step_fails_keeps_the_running_app(
    app_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(app_folder, {"startup.txt": "true && gunicorn app:app\n"})
    app = application(app_folder, "startup.txt")
    write(app_folder, {"startup.txt": "false && gunicorn app:app\n"})
    assert app.prepare_redeploy() is False
    assert any(
        "a pre-start step failed; keeping the app that is running" in e for e in errors(caplog)
    )


def test_a_redeploy_with_a_broken_config_file_keeps_the_running_app(
    app_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = application(app_folder)
    write(app_folder, {"gunicorn.conf.py": "workers = (\n"})
    assert app.prepare_redeploy() is False
    (line,) = errors(caplog)
    assert line.startswith("reload: ") and "gunicorn.conf.py" in line
    assert line.endswith("; keeping the app that is running")


def test_the_master_proves_only_what_its_workers_cannot(app_folder: Path) -> None:
    """New workers are the proof, unless the master itself would import the app
    (preload_app), replace its listeners (a new bind) or itself (a new framework)."""
    app = application(app_folder)
    plan = app.plan
    assert plan is not None
    assert app._master_must_prove(plan, None) is False
    assert app._master_must_prove(plan, "flask: 3.0 -> 3.1") is True
    preloading = application(app_folder, "--preload")
    assert preloading.plan is not None
    assert preloading._master_must_prove(preloading.plan, None) is True
    rebound = application(app_folder, "--bind=127.0.0.1:9999")
    assert rebound.plan is not None
    assert app._master_must_prove(rebound.plan, None) is True


def test_a_release_with_another_framework_and_another_bind_is_refused(
    app_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Loading another Flask takes a new master, which keeps the listening sockets (as
    gunicorn's USR2 does): it listened on the old address while PORT named the new one."""
    write(app_folder, {"gunicorn.conf.py": "bind = '127.0.0.1:8001'\nworkers = 2\n"})
    app = application(app_folder)
    assert "flask" in app.preloaded.files
    # A virtualenv with a copy of Flask, which the app imports (the proof passes).
    site = f"antenv/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    write(app_folder, {"antenv/pyvenv.cfg": "home = /usr/bin\n"})
    shutil.copytree(Path(flask.__file__).parent, app_folder / site / "flask")
    write(app_folder, {"gunicorn.conf.py": "bind = '127.0.0.1:8002'\nworkers = 2\n"})
    assert app.prepare_redeploy() is False
    (line,) = errors(caplog)
    assert line.startswith("reload: flask now comes from ")
    assert "and the bind changed (127.0.0.1:8001 -> 127.0.0.1:8002)" in line
    assert "restart the container" in line


def test_a_preloaded_app_that_fails_to_import_is_refused_by_the_proof(
    app_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = application(app_folder, "--preload")
    write(app_folder, {"app.py": "raise RuntimeError('DATABASE_URL is not set')\n" + flask_app()})
    assert app.prepare_redeploy() is False
    (line,) = errors(caplog)
    assert "the new deployment was refused and the running app keeps serving" in line
    assert "DATABASE_URL is not set" in line


@pytest.mark.parametrize(
    ("startup", "logged"),
    [
        ("true && gunicorn app:app", "A stop signal came before pre-start step 1/1; stopping"),
        ("gunicorn --preload app:app", "reload: a stop signal came before the new app was"),
    ],
    ids=["step", "proof"],
)
def test_a_redeploy_that_a_stop_ends_is_not_logged_as_refused(
    app_folder: Path, caplog: pytest.LogCaptureFixture, startup: str, logged: str
) -> None:
    """A stop gunicorn queued: no step or proof is started, nothing is called refused, and
    no second stop is sent to gunicorn (it would reach the handler below)."""
    write(app_folder, {"startup.txt": startup + "\n"})
    app = application(app_folder, "startup.txt")
    write(app_folder, {"app.py": flask_app("app", "the release")})
    app.stop_requested = lambda: True  # type: ignore[method-assign]
    handed_back: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: handed_back.append(signum))
    try:
        assert app.prepare_redeploy() is False
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert handed_back == []
    assert errors(caplog) == []
    assert logged in caplog.text
