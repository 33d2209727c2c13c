"""The package as a user gets it: an sdist, a wheel built from that sdist, a fresh venv."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import uv

from tests.integration.conftest import Start

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_built_from_the_sdist_serves_the_default_site(
    launch: Start, tmp_path: Path
) -> None:
    assert (ROOT / "pyproject.toml").is_file(), "run from a checkout (nox does)"
    tool = uv.find_uv_bin()
    dist = tmp_path / "dist"
    subprocess.run([tool, "build", "-q", "--sdist", "-o", str(dist), str(ROOT)], check=True)
    (sdist,) = dist.glob("*.tar.gz")
    # The wheel from the sdist, not from the checkout: what an installer building from
    # source gets, and where a file the sdist forgot would be missing.
    subprocess.run([tool, "build", "-q", "--wheel", "-o", str(dist), str(sdist)], check=True)
    (wheel,) = dist.glob("*.whl")
    # The README as the index shows it: relative links made absolute (pyproject.toml).
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        description = archive.read(metadata).decode()
    assert "](docs/" not in description and "](examples/" not in description
    assert "/blob/main/docs/configuration.md)" in description
    venv = tmp_path / "venv"
    subprocess.run([tool, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([tool, "pip", "install", "-q", "-p", python, str(wheel)], check=True)
    where = subprocess.run(
        [
            python,
            "-c",
            "from appservice_gunicorn.explain import defaultsite; print(defaultsite.site_folder())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith("appservice_gunicorn/_defaultsite")

    # The console script is the entry point too (appservice_gunicorn.__main__:main).
    script = subprocess.run(
        [str(venv / "bin" / "appservice-gunicorn"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    assert script.stdout.startswith("appservice-gunicorn ")

    empty = tmp_path / "empty"
    empty.mkdir()
    launcher = launch(empty, command=[python, "-m", "appservice_gunicorn"])
    with urllib.request.urlopen(launcher.url + "/", timeout=10) as response:
        page = response.read().decode()
    assert "<title>Your container is running, but no app was found</title>" in page
    with urllib.request.urlopen(launcher.url + "/static/style.css", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/css; charset=utf-8"
        assert response.read()
