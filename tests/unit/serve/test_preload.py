"""preload.py: which framework packages the master imports (read from the app's AST), and
when a redeploy makes them stale. Real files; only the launcher's own Flask is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.serve import preload
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


DJANGO_PROJECT = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
    "mysite/__init__.py": "",
    "mysite/wsgi.py": """
        import os

        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        application = get_wsgi_application()
    """,
    "mysite/settings.py": """
        from .base import *  # noqa

        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "mysite.middleware.Timing",
        ]
        MIDDLEWARE += ["django.middleware.locale.LocaleMiddleware"]
    """,
    "mysite/base.py": """
        DATABASES = {
            "default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"},
            "cache": {"ENGINE": "custom_backends.fast", "NAME": "cache"},
        }
    """,
}


def test_django_adds_the_database_backend_and_djangos_middleware_its_settings_name(
    tmp_path: Path,
) -> None:
    write(tmp_path, DJANGO_PROJECT)
    detection = detect(tmp_path, env={})
    added = preload.modules("django", detection, {})[len(preload.FRAMEWORKS["django"]) :]
    # Read from the settings (split with `from .base import *`), never imported; only
    # Django's own modules: the app's middleware and a third-party backend are not.
    assert added == [
        "django.db.backends.postgresql.base",
        "django.middleware.security",
        "django.middleware.common",
        "django.middleware.locale",
    ]
    write(tmp_path, {"mysite/other.py": "MIDDLEWARE = ['django.middleware.gzip.GZipMiddleware']\n"})
    chosen = preload.modules("django", detection, {"DJANGO_SETTINGS_MODULE": "mysite.other"})
    assert chosen[len(preload.FRAMEWORKS["django"]) :] == ["django.middleware.gzip"]
    assert preload.modules("flask", detection, {}) == ["flask"]


def test_django_settings_are_never_imported_by_preloading(tmp_path: Path) -> None:
    """DJANGO_SETTINGS_MODULE is hidden while the master preloads: a Django module that
    reads a setting when imported fails there (a DEBUG note) instead of importing the
    app's settings module, which is user code (here found outside the app folder, on
    PYTHONPATH, where leaving the app folder off sys.path does not hide it)."""
    app = write(tmp_path / "app", DJANGO_PROJECT)
    write(tmp_path / "conf", {"shop_settings.py": "open('IMPORTED', 'w').close()\n"})
    # Run apart: the partly imported Django must not stay in this test process.
    code = """
import os
from appservice_gunicorn import detect
from appservice_gunicorn.serve import preload
preload.FRAMEWORKS = {"django": ("django.contrib.auth.backends",)}
loaded = preload.preload(detect("app", env={}), "sync", {})
print("django.contrib.auth.backends" in loaded.files, os.environ["DJANGO_SETTINGS_MODULE"])
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shop_settings", "PYTHONPATH": "conf"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # Not imported, and the variable is back for the workers.
    assert done.stdout.split() == ["False", "shop_settings"]
    assert not (tmp_path / "IMPORTED").exists()
    assert app.is_dir()
