"""buildoutput.py: the manifest App Service's build writes, and what detection makes of it
(a compressed venv or output, ``PackageDir``), read without extracting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.build import extractions, zstd
from appservice_gunicorn.build import output as buildoutput
from appservice_gunicorn.build.output import inspect, read_manifest
from tests.helpers import flask_app, write


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {extractions.CACHE_VARIABLE: str(tmp_path / "cache")}


@pytest.mark.parametrize(
    "text",
    [
        'virtualEnvName="antenv"\nCompressedVirtualEnvFile="antenv.tar.gz"\n',
        'VirtualEnvName="antenv"\ncompressedvirtualenvfile="antenv.tar.gz"\n',
        'VIRTUALENVNAME = "antenv"\nCOMPRESSEDVIRTUALENVFILE = "antenv.tar.gz"\n',
    ],
)
def test_manifest_keys_are_read_in_any_case(tmp_path: Path, text: str) -> None:
    write(tmp_path, {"oryx-manifest.toml": text})
    manifest, problem = read_manifest(tmp_path)
    assert problem is None and manifest is not None
    assert manifest.get("VirtualEnvName") == "antenv"
    assert manifest.get("compressedVirtualEnvFile") == "antenv.tar.gz"
    assert manifest.get("PackageDir") is None


def test_a_real_oryx_manifest_reads(tmp_path: Path) -> None:
    # As Oryx writes it (keys and quoting from a real build).
    write(
        tmp_path,
        {
            "oryx-manifest.toml": """
                Frameworks="python=3.11.7"
                PythonVersion="3.11.7"
                SourceDirectoryInBuildContainer="/tmp/8dc7e9bfa6b4c1e"
                packagedir="__oryx_packages__"
                virtualEnvName="antenv"
                CompressedVirtualEnvFile="antenv.tar.gz"
                OperationId="3f7b5b4c"
                PlatformName="python"
                CompressDestinationDir="false"
            """
        },
    )
    manifest, _ = read_manifest(tmp_path)
    assert manifest is not None
    assert manifest.get("SourceDirectoryInBuildContainer") == "/tmp/8dc7e9bfa6b4c1e"
    assert manifest.get("PackageDir") == "__oryx_packages__"
    assert manifest.get("CompressDestinationDir") == "false"


@pytest.mark.parametrize("text", ['virtualEnvName="antenv\n', "\xff\xfe", "a = = b"])
def test_an_unreadable_manifest_is_one_note_and_ignored(
    tmp_path: Path, env: dict[str, str], text: str
) -> None:
    (tmp_path / "oryx-manifest.toml").write_bytes(text.encode("latin-1"))
    write(tmp_path, {"app.py": flask_app()})
    found = detect(tmp_path, env=env)
    assert found.app == "app:app"
    (note,) = [n for n in found.notes if "oryx-manifest.toml" in n]
    assert "cannot be read" in note and "ignored" in note and "\n" not in note


def test_no_manifest_no_build_output(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, {"app.py": flask_app()})
    assert inspect(tmp_path, env) is None
    assert detect(tmp_path, env=env).build is None


def make_venv_archive(tmp_path: Path, name: str = "antenv.tar.gz") -> Path:
    venv = tmp_path / "build" / "antenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    archive = tmp_path / "app" / name
    archive.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-czf", str(archive), "-C", str(venv), "."], check=True)
    return archive


def test_detection_names_the_archive_and_where_it_would_go_without_extracting(
    tmp_path: Path, env: dict[str, str]
) -> None:
    archive = make_venv_archive(tmp_path)
    app = write(
        archive.parent,
        {
            "oryx-manifest.toml": 'virtualEnvName="antenv"\n'
            'compressedVirtualEnvFile="antenv.tar.gz"\n',
            "app.py": flask_app(),
        },
    )
    found = detect(app, env=env)
    assert found.build is not None and found.build.venv_archive is not None
    assert found.build.venv_archive.extracted is False
    assert found.venv is None  # not there until extracted
    assert not (tmp_path / "cache").exists()
    assert "would be extracted at start" in "\n".join(buildoutput.describe(found.build))

    prepared = buildoutput.prepare(found.build, env)
    again = detect(app, env=env, build=prepared)
    assert again.venv is not None and again.venv.path == found.build.venv_archive.target
    assert again.venv.site_packages  # a real venv's lib/pythonX.Y/site-packages
    # Detected afresh (a restart), the extracted copy is found and reused.
    reused = detect(app, env=env)
    assert reused.build is not None and reused.build.venv_archive is not None
    assert reused.build.venv_archive.extracted and reused.venv == again.venv


def test_the_manifests_venv_wins_over_the_folder_scan(tmp_path: Path, env: dict[str, str]) -> None:
    for name in ("antenv", "myvenv"):
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / name)], check=True
        )
    write(tmp_path, {"oryx-manifest.toml": 'virtualEnvName="myvenv"\n', "app.py": flask_app()})
    found = detect(tmp_path, env=env)
    assert found.venv is not None and found.venv.path == tmp_path / "myvenv"
    # An explicit APPSVC_VIRTUAL_ENV still wins.
    chosen = detect(tmp_path, env={**env, "APPSVC_VIRTUAL_ENV": "antenv"})
    assert chosen.venv is not None and chosen.venv.path == tmp_path / "antenv"


def test_a_missing_compressed_venv_is_a_note_and_an_import_hint(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write(
        tmp_path,
        {
            "oryx-manifest.toml": 'virtualEnvName="antenv"\n'
            'compressedVirtualEnvFile="antenv.tar.gz"\n',
            "app.py": flask_app(),
        },
    )
    found = detect(tmp_path, env=env)
    assert found.import_hint is not None
    assert "names the compressed virtualenv 'antenv.tar.gz', which is not in" in found.import_hint
    assert found.import_hint in found.notes


def test_package_dir_is_used_like_a_venv(tmp_path: Path, env: dict[str, str]) -> None:
    write(
        tmp_path,
        {
            "oryx-manifest.toml": 'packagedir="__oryx_packages__"\n',
            "__oryx_packages__/somepkg/__init__.py": "",
            # A package's own wsgi.py is no Django project of the app's.
            "__oryx_packages__/otherpkg/wsgi.py": "application = None\n",
            "app.py": flask_app(),
        },
    )
    found = detect(tmp_path, env=env)
    assert found.app == "app:app"
    assert found.venv is not None and found.venv.packages_only
    assert found.venv.site_packages == (tmp_path / "__oryx_packages__",)


def test_explain_says_when_zstd_support_is_missing(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "oryx-manifest.toml": 'virtualEnvName="antenv"\n'
            'compressedVirtualEnvFile="antenv.tar.zst"\n'
        },
    )
    (tmp_path / "antenv.tar.zst").write_bytes(b"(\xb5/\xfd")
    found = detect(tmp_path, env=env)
    assert found.build is not None
    monkeypatch.setattr(zstd, "support", lambda: None)
    lines = buildoutput.describe(found.build)
    assert any("antenv.tar.zst: no zstd support here" in line for line in lines)
    with pytest.raises(extractions.ArchiveError, match="no zstd support here"):
        buildoutput.prepare(found.build, env)


@pytest.mark.parametrize(
    ("key", "value"),
    [("VirtualEnvName", "/"), ("PackageDir", "../../.."), ("CompressedVirtualEnvFile", "../x.zip")],
)
def test_manifest_values_outside_the_app_folder_are_ignored(
    tmp_path: Path, env: dict[str, str], key: str, value: str
) -> None:
    write(tmp_path, {"oryx-manifest.toml": f'{key}="{value}"\n', "app.py": flask_app()})
    found = detect(tmp_path, env=env)
    assert found.venv is None
    assert any(f"{key} = {value!r} does not name something inside" in n for n in found.notes)


def _archive_of(folder: Path, files: dict[str, str], archive: Path) -> None:
    write(folder, files)
    subprocess.run(["tar", "-czf", str(archive), "-C", str(folder), "."], check=True)


@pytest.mark.parametrize(
    "manifest", [None, 'CompressDestinationDir="false"\n', "PlatformName = 'python'\n"]
)
def test_an_output_archive_is_extracted_only_when_the_manifest_says_so(
    tmp_path: Path, env: dict[str, str], manifest: str | None
) -> None:
    """An output.tar.gz of the app's own data beside its app.py was extracted, and the
    default site served from it."""
    app_dir = write(tmp_path / "wwwroot", {"app.py": flask_app()})
    _archive_of(tmp_path / "data", {"readme.txt": "data"}, app_dir / "output.tar.gz")
    if manifest is not None:
        write(app_dir, {"oryx-manifest.toml": manifest})
    build = inspect(app_dir, env)
    assert build is None or build.output_archive is None
    found = detect(app_dir, env=env)
    assert (found.rule, found.app) == ("app-file", "app:app")


def test_a_manifest_that_says_compressed_with_no_archive_stops_the_start(
    tmp_path: Path, env: dict[str, str]
) -> None:
    from appservice_gunicorn.base.errors import LaunchError
    from appservice_gunicorn.plan.plan import LauncherConfig, make_plan

    app_dir = write(tmp_path, {"oryx-manifest.toml": 'CompressDestinationDir = "true"\n'})
    with pytest.raises(LaunchError) as raised:
        make_plan(LauncherConfig(app_dir=app_dir, env=env))
    message = str(raised.value)
    assert "oryx-manifest.toml in" in message and 'CompressDestinationDir="true"' in message
    assert "neither output.tar.zst nor output.tar.gz is there" in message
    # detect() itself never raises: it says so in a note.
    assert message in detect(app_dir, env=env).notes


def test_a_venv_archive_inside_the_output_is_one_extraction_across_deploys(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Named after the output's extraction, which each deploy changes: the same venv was
    extracted again at every deploy, and the older copies were never pruned."""
    manifest = (
        'CompressDestinationDir="true"\nVirtualEnvName="antenv"\n'
        'CompressedVirtualEnvFile="antenv.tar.gz"\n'
    )
    build_dir = write(tmp_path / "build", {"oryx-manifest.toml": manifest})
    _archive_of(tmp_path / "venv", {"pyvenv.cfg": "home = /usr/bin\n"}, build_dir / "antenv.tar.gz")
    deployed = write(tmp_path / "wwwroot", {"oryx-manifest.toml": manifest})
    venv_targets = set()
    for release in range(3):
        _archive_of(
            build_dir, {"app.py": flask_app("app", f"v{release}")}, deployed / "output.tar.gz"
        )
        os.utime(deployed / "output.tar.gz", (1000 + release, 1000 + release))
        build = inspect(deployed, env)
        assert build is not None
        build = buildoutput.prepare(build, env, prune=True)
        assert build.venv_archive is not None and build.venv_archive.extracted
        venv_targets.add(build.venv_archive.target)
    assert len(venv_targets) == 1  # extracted once, reused by the next deploys
    cache = Path(env[extractions.CACHE_VARIABLE])
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["antenv", "output"]


def test_a_changed_venv_archive_of_the_same_size_and_time_is_extracted_anew(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A reproducible build (times set to 0) changed by one byte: named after the deployed
    archive, it reused the previous release's virtualenv."""
    manifest = 'CompressDestinationDir="true"\nCompressedVirtualEnvFile="antenv.tar.gz"\n'
    deployed = write(tmp_path / "wwwroot", {"oryx-manifest.toml": manifest})
    targets = []
    for version in ("A", "B"):
        venv = write(tmp_path / f"venv{version}", {"pkg.py": f"VERSION = {version!r}\n"})
        build_dir = write(tmp_path / f"build{version}", {"oryx-manifest.toml": manifest})
        build_dir.joinpath("app.py").write_text(flask_app())
        for folder, archive in ((venv, build_dir / "antenv.tar.gz"), (build_dir, None)):
            out = archive or deployed / "output.tar.gz"
            subprocess.run(
                ["tar", "--mtime=@0", "--sort=name", "-czf", str(out), "-C", str(folder), "."],
                check=True,
            )
            os.utime(out, (0, 0))
        build = buildoutput.prepare(inspect(deployed, env) or pytest.fail("no build"), env)
        assert build.venv_archive is not None
        targets.append(build.venv_archive.target)
        assert (build.venv_archive.target / "pkg.py").read_text() == f"VERSION = {version!r}\n"
    assert targets[0] != targets[1]
