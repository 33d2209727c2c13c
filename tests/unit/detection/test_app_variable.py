"""A startup command's module:variable read against its module's source: a note (with the
close match) only when the source says for sure that the name is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.detection.app_variable import bound_names, note, tornado_class
from tests.helpers import flask_app, write


def test_a_misspelt_variable_gets_the_close_match(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    assert note(tmp_path, "app:ap", None, "startup command") == (
        "startup command: app.py defines no 'ap'; did you mean 'app'? (gunicorn would fail "
        "to load it)"
    )
    assert (
        "app.py defines no 'ap'; did you mean 'app'?"
        in detect(tmp_path, "gunicorn app:ap").notes[0]
    )


def test_no_close_match_says_to_fix_the_command(tmp_path: Path) -> None:
    write(tmp_path, {"web/site.py": "server = object()\n"})
    assert note(tmp_path, "web.site:zzz", None, "startup.txt") == (
        "startup.txt: web/site.py defines no 'zzz'; fix the startup command (gunicorn would "
        "fail to load it)"
    )


@pytest.mark.parametrize(
    "source",
    [
        "app = 1\n",
        "from flask import Flask as app\n",
        "import framework.app as app\n",
        "import app\n",
        "for app in [1]:\n    pass\n",
        "with open(__file__) as app:\n    pass\n",
        "try:\n    from x import app\nexcept ImportError:\n    app = None\n",
        "def make():\n    global app\n    app = 1\n",
        "def app(environ, start_response):\n    pass\n",
        "class app:\n    pass\n",
        "if (app := 1):\n    pass\n",
        "match 1:\n    case app:\n        pass\n",
        "def create_app():\n    return 1\n",
    ],
)
def test_every_way_a_module_binds_the_name_is_no_note(tmp_path: Path, source: str) -> None:
    write(tmp_path, {"main.py": source})
    variable = "create_app()" if "create_app" in source else "app"
    assert note(tmp_path, f"main:{variable}", None, "startup") is None


@pytest.mark.parametrize(
    "source",
    [
        "from framework import *\n",
        "globals()['app'] = 1\n",
        "vars()['app'] = 1\n",
        "import sys\nsetattr(sys.modules[__name__], 'app', 1)\n",
        "exec('app = 1')\n",
        "def __getattr__(name):\n    return 1\n",
        "import sys\nsys.modules[__name__].__dict__['app'] = 1\n",
    ],
)
def test_a_module_whose_names_the_source_cannot_tell_gets_no_note(
    tmp_path: Path, source: str
) -> None:
    write(tmp_path, {"main.py": source})
    assert bound_names(tmp_path / "main.py") is None
    assert note(tmp_path, "main:app", None, "startup") is None


def test_no_note_for_a_module_outside_the_folder_or_gunicorns_default(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "x = 1\n", "src/pkg/wsgi.py": "application = 1\n"})
    assert note(tmp_path, "installed.module:app", None, "startup") is None
    assert note(tmp_path, "main", None, "startup") is None  # gunicorn's "application": its own
    assert note(tmp_path, "pkg.wsgi:application", "src", "startup") is None
    assert note(tmp_path, "pkg.wsgi:app", "src", "startup") is not None  # --pythonpath followed


TORNADO = """\
import tornado.web
from tornado.web import Application as App

def make_app():
    return tornado.web.Application([])

app = make_app()
other = App([])
plain = object()
"""


def test_tornado_applications_are_read_from_the_source(tmp_path: Path) -> None:
    write(tmp_path, {"server.py": TORNADO})
    assert tornado_class(tmp_path, "server:app") == "Application"
    assert tornado_class(tmp_path, "server:make_app()") == "Application"
    assert tornado_class(tmp_path, "server:other") == "Application"
    assert tornado_class(tmp_path, "server:plain") is None
    assert tornado_class(tmp_path, "missing:app") is None


def test_a_name_local_to_a_factory_is_not_the_modules(tmp_path: Path) -> None:
    """pallets/flask's tutorial: ``app`` is create_app()'s own; gunicorn flaskr:app fails."""
    write(
        tmp_path, {"flaskr/__init__.py": "def create_app():\n    app = object()\n    return app\n"}
    )
    assert note(tmp_path, "flaskr:app", None, "s") == (
        "s: flaskr/__init__.py defines no 'app'; fix the startup command (gunicorn would fail to "
        "load it)"
    )
    assert note(tmp_path, "flaskr:create_app()", None, "s") is None


def test_a_package_wins_over_a_module_of_the_same_name(tmp_path: Path) -> None:
    """As Python imports it: app/__init__.py, not app.py."""
    write(tmp_path, {"app.py": "other = 1\n", "app/__init__.py": "app = 1\n"})
    assert note(tmp_path, "app:app", None, "s") is None


def test_returns_of_functions_nested_in_a_factory_are_not_its_own(tmp_path: Path) -> None:
    """From a review: a Flask view returning tornado's json_encode() is no Tornado app."""
    write(
        tmp_path,
        {
            "main.py": """
                from flask import Flask
                from tornado.escape import json_encode

                def create_app():
                    app = Flask(__name__)

                    @app.route("/")
                    def index():
                        return json_encode({"ok": True})

                    return app

                app = create_app()
            """
        },
    )
    assert tornado_class(tmp_path, "main:app") is None
