"""What App Service's build deploys, served for real: a compressed virtualenv (tar.gz, zip,
tar.zst) and a compressed output, each made with ``python -m venv`` and ``tar`` / ``zip``
as Oryx makes them; the app folder is never changed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import tree_digest, write
from tests.integration.conftest import Start, wait_for

APP = """
from flask import Flask

import only_in_the_venv

app = Flask(__name__)


@app.route("/")
def index():
    return only_in_the_venv.GREETING
"""


def body(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


def build_venv(folder: Path, greeting: str = "from the compressed venv") -> Path:
    """A real virtualenv holding a module the launcher's own Python lacks."""
    venv = folder / "antenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "only_in_the_venv.py").write_text(f"GREETING = {greeting!r}\n")
    return venv


def compress(folder: Path, archive: Path) -> Path:
    """As Oryx does: the folder's content at the archive's root."""
    if archive.name.endswith(".zip"):
        subprocess.run(["zip", "-qr", "--symlinks", str(archive), "."], cwd=folder, check=True)
    elif archive.name.endswith(".tar.zst"):
        subprocess.run(["tar", "--zstd", "-cf", str(archive), "-C", str(folder), "."], check=True)
    else:
        subprocess.run(["tar", "-czf", str(archive), "-C", str(folder), "."], check=True)
    return archive


def manifest(**values: str) -> str:
    return "".join(f'{key}="{value}"\n' for key, value in values.items())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"APPSVC_EXTRACT_DIR": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.mark.parametrize("name", ["antenv.tar.gz", "antenv.zip", "antenv.tar.zst"])
def test_compressed_venv_is_extracted_and_used(
    launch: Start, tmp_path: Path, env: dict[str, str], name: str
) -> None:
    app_dir = tmp_path / "wwwroot"
    app_dir.mkdir()
    compress(build_venv(tmp_path / "build"), app_dir / name)
    write(
        app_dir,
        {
            "app.py": APP,
            "oryx-manifest.toml": manifest(
                PlatformName="python", virtualEnvName="antenv", CompressedVirtualEnvFile=name
            ),
        },
    )
    before = tree_digest(app_dir)
    launcher = launch(app_dir, env=env)
    assert body(launcher.url) == "from the compressed venv"
    log = launcher.log()
    assert f"Extracted {name} to {tmp_path / 'cache'}" in log
    assert launcher.stop() == 0
    assert tree_digest(app_dir) == before, "the launcher changed the app folder"

    # A restart reuses the extracted copy.
    again = launch(app_dir, env=env)
    assert body(again.url) == "from the compressed venv"
    assert "Extracted" not in again.log()
    assert "(extracted, reused)" in again.log()


def test_compressed_output_is_extracted_and_the_chain_runs_there(
    launch: Start, tmp_path: Path, env: dict[str, str]
) -> None:
    output = tmp_path / "output"
    build_venv(output, "from the compressed output")
    write(output, {"app.py": APP, "oryx-manifest.toml": manifest(virtualEnvName="antenv")})
    app_dir = tmp_path / "wwwroot"
    app_dir.mkdir()
    compress(output, app_dir / "output.tar.gz")
    write(
        app_dir,
        {
            "oryx-manifest.toml": manifest(
                virtualEnvName="antenv",
                CompressDestinationDir="true",
                SourceDirectoryInBuildContainer="/tmp/8dc7e9bfa6b4c1e",
            )
        },
    )
    before = tree_digest(app_dir)

    explained = subprocess.run(
        [sys.executable, "-m", "appservice_gunicorn", "--explain", "--json"],
        cwd=app_dir,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    data = json.loads(explained.stdout)
    (archive,) = data["build_output"]["archives"]
    assert (archive["role"], archive["extracted"]) == ("output", False)
    assert not (tmp_path / "cache").exists(), "--explain extracted something"

    launcher = launch(app_dir, env=env)
    assert body(launcher.url) == "from the compressed output"
    log = launcher.log()
    assert "Extracted output.tar.gz" in log
    assert "rule app-file: app.py defines app" in log
    # A SIGHUP with the same archive reuses the extraction and serves on.
    launcher.send(signal.SIGHUP)
    wait_for(lambda: launcher.log().count("Serving app:app") == 2, 20, "the redeploy")
    assert body(launcher.url) == "from the compressed output"
    assert log.count("Extracted") == launcher.log().count("Extracted") == 1
    assert tree_digest(app_dir) == before


@pytest.mark.parametrize("damage", ["truncated", "traversal"])
def test_a_broken_archive_is_one_error_line(
    launch: Start, tmp_path: Path, env: dict[str, str], damage: str
) -> None:
    app_dir = tmp_path / "wwwroot"
    app_dir.mkdir()
    archive = compress(build_venv(tmp_path / "build"), app_dir / "antenv.tar.gz")
    if damage == "truncated":
        archive.write_bytes(archive.read_bytes()[:-300])
    else:
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(__file__, arcname="../../escaped.py")
    write(
        app_dir,
        {
            "app.py": APP,
            "oryx-manifest.toml": manifest(
                virtualEnvName="antenv", CompressedVirtualEnvFile="antenv.tar.gz"
            ),
        },
    )
    launcher = launch(app_dir, env=env, wait=False)
    assert launcher.wait(30) == 1
    log = launcher.log()
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and f"{archive}: " in errors[0]
    assert "Traceback" not in log
    assert not (tmp_path / "escaped.py").exists()
    assert not list((tmp_path / "cache").iterdir())


def test_a_missing_compressed_venv_is_named_in_the_import_error(
    launch: Start, tmp_path: Path, env: dict[str, str]
) -> None:
    write(
        tmp_path,
        {
            "app.py": APP,
            "oryx-manifest.toml": manifest(
                virtualEnvName="antenv", CompressedVirtualEnvFile="antenv.tar.gz"
            ),
        },
    )
    launcher = launch(tmp_path, env=env, wait=False)
    assert launcher.wait(30) == 4
    log = launcher.log()
    assert "No module named 'only_in_the_venv'" in log
    assert "names the compressed virtualenv 'antenv.tar.gz', which is not in" in log


def test_package_dir_packages_are_importable(
    launch: Start, tmp_path: Path, env: dict[str, str]
) -> None:
    write(
        tmp_path,
        {
            "app.py": APP,
            "oryx-manifest.toml": manifest(PackageDir="__oryx_packages__"),
            "__oryx_packages__/only_in_the_venv.py": "GREETING = 'from the package folder'\n",
        },
    )
    launcher = launch(tmp_path, env=env)
    assert body(launcher.url) == "from the package folder"
