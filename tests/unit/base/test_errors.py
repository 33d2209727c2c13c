"""One way to say "cannot start", and one tree of loggers."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from appservice_gunicorn import cli
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.build.extractions import ArchiveError
from tests.unit.test_layout import MODULES


def test_a_launch_error_carries_its_message_and_exit_status() -> None:
    assert LaunchError("no app folder").status == 1
    error = LaunchError("a step failed", status=7)
    assert (str(error), error.status) == ("a step failed", 7)
    assert issubclass(ArchiveError, LaunchError)


def test_the_launcher_stops_with_the_errors_status_and_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert cli.main(["--app-dir", str(missing)]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "[ERROR]" in line]
    assert len(lines) == 1 and f"app folder {missing} does not exist" in lines[0], err
    assert "Traceback" not in err


def test_every_module_logs_to_a_child_of_the_package_logger() -> None:
    """``getLogger(__name__)``: one handler and one level (the package logger's) for all."""
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "getLogger":
                (argument,) = node.args
                named = ast.literal_eval(argument) if isinstance(argument, ast.Constant) else None
                # By __name__ (or its package part), or gunicorn's own error log.
                assert named in (None, "appservice_gunicorn", "gunicorn.error"), (name, named)
                if named == "appservice_gunicorn":
                    assert name == "appservice_gunicorn.cli", "only the CLI sets the package up"


def test_a_modules_logger_writes_through_the_package_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli.setup_logging()
    logging.getLogger("appservice_gunicorn.serve.master").warning("through the package")
    assert "[WARNING] through the package" in capsys.readouterr().err
