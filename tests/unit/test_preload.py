"""preload.py: which framework packages the master imports (read from the app's AST), and
when a redeploy makes them stale. Real files; only the launcher's own Flask is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from appservice_gunicorn import detect, preload
from tests.helpers import fastapi_app, flask_app, write


@pytest.mark.parametrize(
    ("files", "startup", "expected"),
    [
        ({"app.py": flask_app()}, None, ["flask"]),
        ({"main.py": fastapi_app()}, None, ["fastapi"]),
        (
            {"mysite/__init__.py": "", "mysite/wsgi.py": "import django\napplication = None\n"},
            None,
            ["django"],
        ),
        # Monkey-patching packages must come first in a process: nothing is preloaded.
        ({"app.py": "from gevent import monkey\n" + flask_app()}, None, []),
        ({"app.py": "import os\napp = object()\n"}, None, []),
        ({"production.ini": "[app:main]\n"}, "gunicorn --paste production.ini", []),
        ({}, None, []),
    ],
)
def test_frameworks_come_from_the_detection_and_the_apps_imports(
    tmp_path: Path, files: dict[str, str], startup: str | None, expected: list[str]
) -> None:
    write(tmp_path, files)
    assert preload.frameworks(detect(tmp_path, startup, env={})) == expected


def test_a_framework_vendored_in_the_app_folder_is_not_preloaded(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import mini\napp = mini.App()\n", "mini/__init__.py": ""})
    detection = detect(tmp_path, env={})
    assert not preload._outside_app("mini", detection)


@pytest.mark.parametrize(
    ("value", "off"), [("0", True), ("false", True), ("", False), ("1", False)]
)
def test_the_switch(tmp_path: Path, value: str, off: bool) -> None:
    write(tmp_path, {"app.py": flask_app()})
    loaded = preload.preload(detect(tmp_path, env={}), "sync", {preload.SWITCH: value})
    assert (loaded.files == {}) is off
    assert preload.preload(detect(tmp_path, env={}), "gevent", {}).files == {}


def test_stale_when_the_file_or_the_place_of_a_preloaded_module_changes(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    detection = detect(tmp_path, env={})
    loaded = preload.preload(detection, "sync", {})
    assert "flask" in loaded.files
    assert preload.stale(loaded, detection) is None
    file, size, mtime = loaded.files["flask"]
    changed = preload.Preloaded({"flask": (file, size, mtime - 1)})
    assert preload.stale(changed, detection) == f"{file} changed (an upgraded flask?)"
    site = tmp_path / "antenv" / "lib" / "python3.99" / "site-packages"
    write(site, {"flask/__init__.py": "", "../../../pyvenv.cfg": "home = /usr/bin\n"})
    moved = preload.stale(loaded, detect(tmp_path, env={}))
    assert moved is not None and moved.startswith(f"flask now comes from {site}")
