"""The Django rule (djangoproject.py): manage.py, settings, the breadth-first wsgi.py
search. Real files under ``tmp_path``; the settings are read, never imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from tests.helpers import flask_app, write

# The documented order (README), written out rather than imported.
FLASK_STYLE_FILES = ["application.py", "app.py", "run.py", "index.py", "server.py", "main.py"]
NO_ENV: dict[str, str] = {}
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


# --- Django -----------------------------------------------------------------------------------

MANAGE_PY = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""

WSGI_PY = """
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
"""


def split_settings_project(root: Path, manage_settings: str = "config.settings.production") -> Path:
    """A ``src/`` layout with split settings, and a decoy ``wsgi.py`` a search would pick."""
    return write(
        root,
        {
            "src/manage.py": MANAGE_PY.format(settings=manage_settings),
            "src/config/__init__.py": "",
            "src/config/settings/__init__.py": "",
            "src/config/settings/base.py": 'WSGI_APPLICATION = "config.wsgi.application"\n',
            "src/config/settings/production.py": "from .base import *  # noqa\nDEBUG = False\n",
            "src/config/settings/dev.py": (
                'from .base import *  # noqa\nWSGI_APPLICATION = "config.devwsgi.application"\n'
            ),
            "src/config/wsgi.py": WSGI_PY,
            "src/config/devwsgi.py": WSGI_PY,
            "src/config/asgi.py": "application = None\n",
            # Shallower than src/config/wsgi.py: a breadth-first search alone would take it.
            "legacy/wsgi.py": "application = None\n",
        },
    )


def test_django_nested_layout_through_manage_py(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.kind) == ("django", "wsgi")
    assert found.app == "config.wsgi:application"
    assert found.pythonpath == tmp_path / "src"
    reason = next(r.reason for r in found.rules if r.matched)
    assert "src/manage.py -> config.settings.production.WSGI_APPLICATION" in reason


def test_django_settings_module_from_environment_overrides_manage_py(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, env={"DJANGO_SETTINGS_MODULE": "config.settings.dev"})
    assert found.app == "config.devwsgi:application"


def test_django_manage_py_assignment_and_custom_variable(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "manage.py": "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'site_cfg'\n",
            "site_cfg.py": 'WSGI_APPLICATION = "serving.entry.wsgi_app"\n',
            "serving/__init__.py": "",
            "serving/entry.py": "wsgi_app = None\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("serving.entry:wsgi_app", tmp_path)


def test_a_setting_computed_after_a_star_import_keeps_the_imported_string(
    tmp_path: Path,
) -> None:
    # WSGI_APPLICATION = os.environ.get(..., WSGI_APPLICATION): the string from base.py is
    # the value unless the variable is set, and names a module no other rule would find.
    write(
        tmp_path,
        {
            "manage.py": "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'conf.settings'\n",
            "conf/__init__.py": "",
            "conf/base.py": 'WSGI_APPLICATION = "serving.entry.wsgi_app"\n',
            "conf/settings.py": (
                "import os\nfrom .base import *  # noqa\n"
                "WSGI_APPLICATION = os.environ.get('WSGI_APP', WSGI_APPLICATION)\n"
            ),
            "serving/__init__.py": "",
            "serving/entry.py": "wsgi_app = None\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("serving.entry:wsgi_app", tmp_path)


@pytest.mark.parametrize(
    "adds_src",
    [
        'sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))',
        'sys.path.append(str(Path(__file__).resolve().parent / "src"))',
        'BASE = Path(__file__).parent.resolve()\n    sys.path.insert(0, str(BASE / "src"))',
        'HERE = os.path.dirname(__file__)\n    sys.path.append(os.path.join(HERE, "src"))',
        'sys.path.insert(0, "src")',
    ],
)
def test_a_folder_manage_py_puts_on_sys_path_is_followed(tmp_path: Path, adds_src: str) -> None:
    """``manage.py`` at the top, the project in ``src/`` (put on the path by manage.py)."""
    write(
        tmp_path,
        {
            "manage.py": (
                "import os\nimport sys\nfrom pathlib import Path\n\n"
                f"def main():\n    {adds_src}\n"
                "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
            ),
            "src/mysite/__init__.py": "",
            "src/mysite/settings.py": 'WSGI_APPLICATION = "mysite.serving.application"\n',
            "src/mysite/serving.py": (
                "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
                "application = None\n"
            ),
            # A search for wsgi.py alone would serve this one.
            "tools/wsgi.py": "application = None\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app, found.pythonpath) == (
        "django",
        "mysite.serving:application",
        tmp_path / "src",
    )
    assert found.notes == ()


def test_settings_module_set_through_a_variable(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "manage.py": "import os\nSETTINGS = 'proj.conf'\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', SETTINGS)\n",
            "proj/__init__.py": "",
            "proj/conf.py": 'WSGI_APPLICATION = "proj.wsgi.application"\n',
            "proj/wsgi.py": "application = None\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "proj.wsgi:application"
    assert "manage.py -> proj.conf.WSGI_APPLICATION" in next(
        r.reason for r in found.rules if r.matched
    )


def test_the_reason_names_the_settings_the_served_module_uses(tmp_path: Path) -> None:
    """cookiecutter-django: manage.py says local, config/wsgi.py says production."""
    split_settings_project(tmp_path, manage_settings="config.settings.dev")
    write(tmp_path, {"src/config/settings/dev.py": "from .base import *  # noqa\n"})
    found = detect(tmp_path, env=NO_ENV)
    reason = next(r.reason for r in found.rules if r.matched)
    assert reason.endswith(
        "; config/wsgi.py sets config.settings.production, which the served app uses"
    )
    from_env = detect(tmp_path, env={"DJANGO_SETTINGS_MODULE": "config.settings.dev"})
    reason = next(r.reason for r in from_env.rules if r.matched)
    assert reason.endswith("(DJANGO_SETTINGS_MODULE=config.settings.dev from the environment)")


def test_django_missing_settings_module_is_noted_and_search_takes_over(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"manage.py": MANAGE_PY.format(settings="nowhere.settings"), "proj/wsgi.py": ""},
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "proj.wsgi:application"
    assert any("'nowhere.settings'" in note and "manage.py" in note for note in found.notes)


def test_a_missing_settings_module_from_the_environment_blames_the_environment(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"manage.py": MANAGE_PY.format(settings="proj.settings"), "proj/wsgi.py": ""})
    found = detect(tmp_path, env={"DJANGO_SETTINGS_MODULE": "proj.nosuch"})
    (note,) = [note for note in found.notes if "'proj.nosuch'" in note]
    assert note.startswith("DJANGO_SETTINGS_MODULE in the environment names settings module")
    assert note.endswith("deploy the settings or fix the variable") and "manage.py" not in note


def test_django_asgi_opt_in(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, env={"APPSVC_DJANGO_ASGI": "1"})
    assert (found.app, found.kind, found.worker_class) == (
        "config.asgi:application",
        "asgi",
        "asgi",
    )


def test_django_asgi_opt_in_by_startup_worker_class(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, "--worker-class asgi", env=NO_ENV)
    assert (found.app, found.kind) == ("config.asgi:application", "asgi")


def test_django_asgi_opt_in_without_asgi_py_serves_wsgi(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    (tmp_path / "src/config/asgi.py").unlink()
    found = detect(tmp_path, env={"APPSVC_DJANGO_ASGI": "true"})
    assert (found.app, found.kind) == ("config.wsgi:application", "wsgi")
    assert any("config/asgi.py does not exist" in note for note in found.notes)


# --- breadth-first search for wsgi.py ---------------------------------------------------------


def test_search_skips_hidden_tool_and_virtualenv_folders(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".git/hooks/wsgi.py": "",
            ".hidden/wsgi.py": "",
            "node_modules/pkg/wsgi.py": "",
            "__pycache__/wsgi.py": "",
            "antenv/wsgi.py": "",
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/wsgi.py": "",
            "vendor/site-packages/wsgi.py": "",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.kind == "default"
    reason = next(r.reason for r in found.rules if r.name == "django")
    for skipped in (
        ".git: hidden",
        ".hidden: hidden",
        "node_modules: node_modules",
        "__pycache__: __pycache__",
        "antenv: virtualenv",
        "env: virtualenv",
        "vendor/site-packages: site-packages",
    ):
        assert skipped in reason
    write(tmp_path, {"proj/wsgi.py": ""})
    assert detect(tmp_path, env=NO_ENV).app == "proj.wsgi:application"


def test_search_reaches_depth_three_and_not_four(tmp_path: Path) -> None:
    write(tmp_path, {"a/b/c/d/wsgi.py": ""})
    assert detect(tmp_path, env=NO_ENV).kind == "default"
    write(tmp_path, {"a/b/c/wsgi.py": ""})
    assert detect(tmp_path, env=NO_ENV).app == "a.b.c.wsgi:application"


def test_search_ties_shallowest_then_sorted_and_others_noted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"b/wsgi.py": "", "a/wsgi.py": "", "a/deep/wsgi.py": "", "0/x/wsgi.py": ""},
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "a.wsgi:application"
    (note,) = [n for n in found.notes if "several wsgi.py" in n]
    assert note.endswith("passed over: b/wsgi.py, 0/x/wsgi.py, a/deep/wsgi.py")


def test_search_puts_the_folder_above_the_package_on_the_path(tmp_path: Path) -> None:
    write(tmp_path, {"src/mysite/__init__.py": "", "src/mysite/wsgi.py": ""})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("mysite.wsgi:application", tmp_path / "src")


def test_django_inside_a_virtualenv_is_not_served(tmp_path: Path) -> None:
    site = f".venv/lib/python{RUNNING}/site-packages"
    write(
        tmp_path,
        {
            ".venv/pyvenv.cfg": f"home = /usr/bin\nversion = {RUNNING}.0\n",
            f"{site}/django/core/wsgi.py": "def get_wsgi_application(): ...\n",
            f"{site}/django/conf/project_template/manage.py": "",
            "app.py": flask_app("app"),
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app) == ("app-file", "app:app")
    assert found.venv is not None and found.venv.path == tmp_path / ".venv"


def test_settings_computed_at_run_time_are_named_as_such(tmp_path: Path) -> None:
    """Azure's Django quickstart: the settings module depends on WEBSITE_HOSTNAME."""
    write(
        tmp_path,
        {
            "manage.py": "import os\n"
            "settings_module = 'proj.production' if 'WEBSITE_HOSTNAME' in os.environ "
            "else 'proj.settings'\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', settings_module)\n",
            "proj/__init__.py": "",
            "proj/wsgi.py": "application = None\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "proj.wsgi:application"
    reason = next(r.reason for r in found.rules if r.name == "django")
    assert reason.startswith(
        "manage.py sets DJANGO_SETTINGS_MODULE from a value computed at run time"
    )


def test_a_path_built_too_deep_to_follow_is_no_traceback(tmp_path: Path) -> None:
    parents = ".parent" * 1500
    write(
        tmp_path,
        {
            "manage.py": "import os, sys\nfrom pathlib import Path\n"
            f"sys.path.insert(0, str(Path(__file__){parents}))\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
            "src/proj/__init__.py": "",
            "src/proj/settings.py": "",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.rule != "django" or found.app is not None


def test_a_served_module_that_sets_no_settings_module_is_a_note(tmp_path: Path) -> None:
    """JostCrow/default-django: only manage.py sets DJANGO_SETTINGS_MODULE; its wsgi.py
    does not, and the workers failed with ImproperlyConfigured."""
    write(
        tmp_path,
        {
            "manage.py": "import os\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.conf.dev')\n",
            "proj/__init__.py": "",
            "proj/conf/__init__.py": "",
            "proj/conf/dev.py": "WSGI_APPLICATION = 'proj.wsgi.application'\n",
            "proj/wsgi.py": "from django.core.wsgi import get_wsgi_application\n"
            "application = get_wsgi_application()\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app) == ("django", "proj.wsgi:application")
    (note,) = found.notes
    assert note.startswith("proj/wsgi.py sets no DJANGO_SETTINGS_MODULE (only manage.py does")
    assert "set DJANGO_SETTINGS_MODULE=proj.conf.dev in the app's settings" in note
    assert detect(tmp_path, env={"DJANGO_SETTINGS_MODULE": "proj.conf.dev"}).notes == ()
    # Set by the package the module is in: no note.
    write(tmp_path, {"proj/__init__.py": "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'x'\n"})
    assert detect(tmp_path, env=NO_ENV).notes == ()
