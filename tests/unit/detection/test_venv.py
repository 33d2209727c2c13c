"""Virtualenvs in the app folder (venv.py): found, described, their problems reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.detection import venv
from tests.helpers import flask_app, write

# The documented order (README), written out rather than imported.
FLASK_STYLE_FILES = ["application.py", "app.py", "run.py", "index.py", "server.py", "main.py"]
NO_ENV: dict[str, str] = {}
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


# --- virtualenvs ------------------------------------------------------------------------------


def fake_venv(root: Path, version: str = RUNNING) -> Path:
    write(
        root,
        {
            "pyvenv.cfg": f"home = /usr/bin\ninclude-system-site-packages = false\n"
            f"version = {version}.1\n",
            f"lib/python{version}/site-packages/marker.txt": "",
        },
    )
    return root / "lib" / f"python{version}" / "site-packages"


DJANGO_IN_SRC = {
    "src/manage.py": "import os\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
    "src/mysite/__init__.py": "",
    "src/mysite/settings.py": "WSGI_APPLICATION = 'mysite.wsgi.application'\n",
    "src/mysite/wsgi.py": "application = None\n",
}


def test_the_virtualenv_beside_an_app_served_from_a_sub_folder_is_used(tmp_path: Path) -> None:
    """Azure's azure-django-postgres-flexible-appservice deployed whole: the project and its
    antenv are in src/.  Without it the app's imports failed ("no virtualenv was found")."""
    write(tmp_path, DJANGO_IN_SRC)
    site_packages = fake_venv(tmp_path / "src" / "antenv")
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("mysite.wsgi:application", tmp_path / "src")
    assert found.venv is not None and found.venv.site_packages == (site_packages,)
    assert any("no virtualenv in the app folder; using src/antenv" in n for n in found.notes)
    # One in the app folder, or one named, is the app's: the one beside is not looked for.
    fake_venv(tmp_path / "antenv")
    assert detect(tmp_path, env=NO_ENV).venv.path == tmp_path / "antenv"  # type: ignore[union-attr]
    named = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": "nowhere"})
    assert named.venv is None


@pytest.mark.parametrize("name", ["antenv", ".venv", "venv", "whatever"])
def test_virtualenv_is_found(tmp_path: Path, name: str) -> None:
    site_packages = fake_venv(tmp_path / name)
    write(tmp_path, {"app.py": flask_app("app")})
    found = detect(tmp_path, env=NO_ENV)
    assert found.venv is not None
    assert found.venv.path == tmp_path / name
    assert found.venv.site_packages == (site_packages,)
    assert not [note for note in found.notes if "virtualenv" in note]


def test_virtualenv_named_by_appsvc_virtual_env_wins(tmp_path: Path) -> None:
    fake_venv(tmp_path / "antenv")
    fake_venv(tmp_path / "deps")
    found = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": "deps"})
    assert found.venv is not None and found.venv.path == tmp_path / "deps"
    absolute = str(tmp_path / "deps")
    found = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": absolute})
    assert found.venv is not None and found.venv.path == tmp_path / "deps"


def test_missing_appsvc_virtual_env_is_reported(tmp_path: Path) -> None:
    found = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": "nope"})
    assert found.venv is None
    assert any("APPSVC_VIRTUAL_ENV='nope'" in note for note in found.notes)


def test_virtualenv_without_site_packages_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"antenv/pyvenv.cfg": "home = /usr/bin\n"})
    found = detect(tmp_path, env=NO_ENV)
    assert found.venv is not None and found.venv.site_packages == ()
    assert any("antenv" in note and "no site-packages" in note for note in found.notes)


def test_virtualenv_python_version_mismatch_is_warned(tmp_path: Path) -> None:
    other = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    fake_venv(tmp_path / "antenv", other)
    found = detect(tmp_path, env=NO_ENV)
    (warning,) = [note for note in found.notes if "built for Python" in note]
    assert f"built for Python {other}" in warning
    assert f"launcher runs Python {RUNNING}" in warning


def test_real_virtualenv_is_described(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True
    )
    described = venv.find(tmp_path, NO_ENV)
    assert described is not None
    assert described.python == sys.version_info[:2]
    assert [p.name for p in described.site_packages] == ["site-packages"]
    assert described.mismatch() is None
