"""A supervised command's program looked for where the command will run."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.startup.programs import missing

ENV = {"PATH": "/usr/bin:/bin"}


def test_a_program_on_no_path_is_a_note(tmp_path: Path) -> None:
    [found] = missing("nosuchserver app:app", "startup command", ENV, tmp_path)
    assert found.startswith("startup command: 'nosuchserver' is not found (looked on the PATH")
    assert "add it to requirements.txt" in found
    # The note reaches --explain and the log, through the detection.
    assert any(
        "'nosuchserver' is not found" in n for n in detect(tmp_path, "nosuchserver x", ENV).notes
    )


def test_the_program_left_running_is_the_one_looked_for(tmp_path: Path) -> None:
    assert missing("cd sub && exec nosuchserver --port 1", "s", ENV, tmp_path)
    assert not missing("nosuchstep; sh -c 'sleep 1'", "s", ENV, tmp_path)


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_found_in_the_virtualenv_the_app_folder_or_path(tmp_path: Path) -> None:
    _executable(tmp_path / "antenv/bin/venvserver")
    _executable(tmp_path / "folderserver")
    _executable(tmp_path / "tools/pathserver")
    env = {"PATH": f"{tmp_path / 'tools'}:/usr/bin"}
    venv_bin = tmp_path / "antenv/bin"
    for program in ("venvserver", "folderserver", "pathserver", "sh"):
        assert missing(f"{program} --port 8000", "s", env, tmp_path, (), venv_bin) == []


@pytest.mark.parametrize(
    "text", ["echo hi", "cd /", "$SERVER --port 1", "FOO=1 exec true", "./relative.sh", "exit 0"]
)
def test_builtins_variables_and_relative_paths_are_not_looked_for(
    tmp_path: Path, text: str
) -> None:
    assert missing(text, "s", ENV, tmp_path) == []


def test_an_absolute_path_must_be_an_executable_file(tmp_path: Path) -> None:
    assert missing(f"{tmp_path}/none --x", "s", ENV, tmp_path) == [
        f"s: '{tmp_path}/none' is not an executable file, so the command will fail"
    ]
    (tmp_path / "plain").write_text("")
    assert missing(f"{tmp_path}/plain", "s", ENV, tmp_path)
    assert not missing(f"{_executable(tmp_path / 'run')}", "s", ENV, tmp_path)


def test_python_dash_m_needs_the_module(tmp_path: Path) -> None:
    python = os.path.basename(sys.executable)
    [found] = missing(f"{python} -u -m nosuchmodule.main app:app", "s", ENV, tmp_path)
    assert "no module 'nosuchmodule' in the virtualenv, the app folder" in found
    assert missing(f"{python} -m json.tool", "s", ENV, tmp_path) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/__init__.py").write_text("")
    assert missing(f"{python} -m mine", "s", ENV, tmp_path) == []
    site = tmp_path / "site-packages"
    (site / "installed").mkdir(parents=True)
    (site / "installed/__init__.py").write_text("")
    assert missing(f"{python} -m installed", "s", ENV, tmp_path, [site]) == []


@pytest.mark.parametrize(
    "text",
    [
        "cd src && python -m myapp",
        "PYTHONPATH=src python -m myapp",
        "export PYTHONPATH=src\npython -m myapp",
    ],
)
def test_a_module_looked_for_elsewhere_than_the_command_runs_is_not_noted(
    tmp_path: Path, text: str
) -> None:
    """From a review: the module is src/myapp, which the command reaches, and which serves."""
    (tmp_path / "src/myapp").mkdir(parents=True)
    (tmp_path / "src/myapp/__main__.py").write_text("")
    assert (
        missing(text.replace("python", os.path.basename(sys.executable)), "s", ENV, tmp_path) == []
    )


@pytest.mark.parametrize(
    "text",
    [
        "main() {\n  gunicorn app:app\n}\nmain",
        "function serve {\n  gunicorn app:app\n}\nserve",
        "export PATH=$PWD/tools:$PATH\nmytool --port 1",
        "PATH=/opt/bin mytool",
    ],
)
def test_shell_functions_and_a_changed_path_are_not_looked_for(tmp_path: Path, text: str) -> None:
    assert missing(text, "s", ENV, tmp_path) == []


def test_a_compressed_virtualenv_not_extracted_yet_is_not_looked_into(tmp_path: Path) -> None:
    """--explain extracts nothing: the programs of antenv.tar.gz cannot be seen."""
    (tmp_path / "oryx-manifest.toml").write_text(
        'virtualEnvName="antenv"\ncompressedVirtualEnvFile="antenv.tar.gz"\n'
    )
    (tmp_path / "antenv.tar.gz").write_bytes(b"")
    notes = detect(tmp_path, "hypercorn main:app --bind 0.0.0.0:$PORT", ENV).notes
    assert not [n for n in notes if "not found" in n], notes


@pytest.mark.parametrize(
    "init", ["tini", "/usr/bin/tini", "tini-static-amd64", "dumb-init", "dumb-init_1.2.5_x86_64"]
)
def test_an_init_before_the_command_is_a_note_to_drop_it(tmp_path: Path, init: str) -> None:
    """tini was "not found; install it (add it to requirements.txt)": not a Python package,
    and the launcher is the init already."""
    [found] = missing(f"{init} -- gunicorn app:app", "startup command", ENV, tmp_path)
    assert found.startswith(f"startup command: {init} is an init for containers")
    assert "drop it from the command" in found and "requirements.txt" not in found
