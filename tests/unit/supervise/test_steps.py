"""Pre-start steps run by the real shell, one supervised child each: what a failure means,
and the environment App Service gives them."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from appservice_gunicorn.plan.plan import LauncherConfig, Plan, make_plan
from appservice_gunicorn.supervise import steps
from tests.helpers import flask_app, write

ENV = {"PATH": "/usr/bin:/bin", "PORT": "8123"}


def plan_for(folder: Path, startup: str, env: dict[str, str] | None = None) -> Plan:
    config = LauncherConfig(app_dir=folder, startup=(startup,), env={**ENV, **(env or {})})
    return make_plan(config, settings=False)


def test_steps_run_in_order_and_gunicorn_may_then_start(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    plan = plan_for(tmp_path, "echo one >> trace; echo two >> trace && gunicorn app:app")
    assert [step.command for step in plan.steps] == ["echo one >> trace", "echo two >> trace"]
    assert steps.run_steps(plan) is None
    assert (tmp_path / "trace").read_text() == "one\ntwo\n"


def test_a_failed_and_step_stops_the_start_with_its_status_and_names_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"app.py": flask_app()})
    plan = plan_for(tmp_path, "python3 -c 'raise SystemExit(3)' && gunicorn app:app")
    assert steps.run_steps(plan) == 3
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "Pre-start step 1/1 (python3 -c 'raise SystemExit(3)') exited with status 3" in line
    assert "join it with ';' instead of '&&'" in line


def test_a_failed_step_after_a_semicolon_is_logged_and_the_start_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"app.py": flask_app()})
    plan = plan_for(tmp_path, "false; gunicorn app:app")
    assert steps.run_steps(plan) is None
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "exited with status 1; going on" in line


def test_a_set_e_step_runs_under_set_e_and_names_set_e_in_its_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"app.py": flask_app(), "start.sh": "set -e\nfalse\nexec gunicorn app:app\n"})
    plan = plan_for(tmp_path, "start.sh")
    (step,) = plan.steps
    assert step.errexit and steps._as_run(step) == "set -e\nfalse\n:"
    assert steps.run_steps(plan) == 1
    assert "the 'set -e' of" in caplog.text


def test_pre_run_command_fails_without_stopping_the_start(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    plan = plan_for(tmp_path, "gunicorn app:app", {"PRE_RUN_COMMAND": "exit 9"})
    (pre_run,) = plan.steps
    assert (pre_run.command, pre_run.stop_on_failure) == ("exit 9", False)
    assert steps.run_steps(plan) is None


def test_a_step_gets_app_services_environment_and_the_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "antenv"
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write(tmp_path, {"app.py": flask_app()})
    plan = plan_for(tmp_path, "gunicorn app:app", {"PYTHONPATH": "/opt/extra"})
    env = steps.command_env(plan)
    assert (env["PORT"], env["HOST"], env["APP_PATH"]) == ("8123", "0.0.0.0", str(tmp_path))
    assert env["VIRTUAL_ENV"] == str(venv)
    assert env["PATH"].split(os.pathsep)[0] == str(venv / "bin")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(site), "/opt/extra"]
    assert "TMPDIR" not in env  # the usual temp folders are writable here


def test_what_pre_run_command_exports_reaches_the_app_and_the_next_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """App Service pastes PRE_RUN_COMMAND into its startup script: an export persists.
    Run as a child of its own, the export was lost with it."""
    monkeypatch.setenv("GREETING", "")  # recorded, so that teardown puts it back
    monkeypatch.delenv("GREETING")
    monkeypatch.setattr(steps, "EXPORTED", {})
    write(tmp_path, {"app.py": flask_app()})
    plan = plan_for(
        tmp_path,
        'echo "$GREETING" > seen && gunicorn app:app',
        {"PRE_RUN_COMMAND": "export GREETING=hi; UNEXPORTED=x"},
    )
    assert [step.exports for step in plan.steps] == [True, False]
    assert steps.run_steps(plan) is None
    assert os.environ["GREETING"] == "hi"  # the launcher's: the workers inherit it
    assert steps.EXPORTED == {"GREETING": "hi"}
    assert (tmp_path / "seen").read_text() == "hi\n"  # the next step got it
    assert "UNEXPORTED" not in os.environ


def test_pre_run_command_comes_from_build_env_when_the_environment_has_none(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "app.py": flask_app(),
            "build.env": '# Oryx\'s\nPRE_RUN_COMMAND="echo from build.env"\nOTHER=1\n',
        },
    )
    (step,) = plan_for(tmp_path, "gunicorn app:app").steps
    assert (step.command, step.exports) == ("echo from build.env", True)
    (step,) = plan_for(tmp_path, "gunicorn app:app", {"PRE_RUN_COMMAND": "echo env"}).steps
    assert step.command == "echo env"  # the environment wins, as with Oryx's config
