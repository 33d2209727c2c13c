"""Each rule of the core chain, on real folders; detection imports nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from tests.helpers import RULES, count_listings, flask_app, write

ENV: dict[str, str] = {}


def rule_reasons(path: Path, *startup: str) -> dict[str, tuple[bool, str]]:
    return {r.name: (r.matched, r.reason) for r in detect(path, list(startup), ENV).rules}


def test_empty_folder_falls_through_to_the_default_site(tmp_path: Path) -> None:
    found = detect(tmp_path, env=ENV)
    assert (found.kind, found.rule, found.app) == ("default", "default-site", None)
    assert [r.name for r in found.rules] == RULES
    assert [r.matched for r in found.rules] == [False] * 6 + [True]


def test_startup_command_with_an_app_wins(tmp_path: Path) -> None:
    write(tmp_path, {"application.py": flask_app(), "mysite/wsgi.py": "application = None\n"})
    found = detect(tmp_path, "gunicorn --workers=2 hello:myapp", ENV)
    assert (found.kind, found.rule, found.app) == ("wsgi", "startup", "hello:myapp")
    assert found.startup is not None and found.startup.settings == {"workers": 2}
    assert found.pythonpath == tmp_path


def test_a_blank_startup_command_is_none_and_the_procfile_is_read(tmp_path: Path) -> None:
    found = detect(tmp_path, "  ", ENV)
    assert [r.name for r in found.rules] == RULES
    assert [r.reason for r in found.rules if r.name == "procfile"] == ["no Procfile"]


@pytest.mark.parametrize("startup", ["--workers 2", "gunicorn --wrokers=2 hello:app"])
def test_every_rule_tried_is_listed_after_a_startup_command(tmp_path: Path, startup: str) -> None:
    write(tmp_path, {"app.py": flask_app(), "Procfile": "web: gunicorn other:app\n"})
    found = detect(tmp_path, startup, ENV)
    assert [r.name for r in found.rules] == RULES[:-1]
    procfile = next(r for r in found.rules if r.name == "procfile")
    assert (procfile.matched, procfile.reason) == (False, "not read: a startup command was given")


@pytest.mark.parametrize(
    "startup",
    ["gunicorn --chdir $APP_PATH hello:myapp", "gunicorn --chdir ${APP_PATH} hello:myapp"],
)
def test_a_startup_command_may_use_app_path_as_on_app_service(tmp_path: Path, startup: str) -> None:
    # App Service sets APP_PATH to the app folder; --app-dir names it here.
    found = detect(tmp_path, startup, ENV)
    assert (found.rule, found.app, found.startup_error) == ("startup", "hello:myapp", None)
    assert found.startup is not None and found.startup.settings["chdir"] == str(tmp_path)
    assert detect(tmp_path, startup, {"APP_PATH": "/elsewhere"}).startup == found.startup


def test_app_services_app_folder_named_where_it_is_not_points_to_app_path(
    tmp_path: Path,
) -> None:
    if Path("/home/site/wwwroot").is_dir():
        pytest.skip("/home/site/wwwroot exists on this machine (App Service itself)")
    found = detect(tmp_path, "gunicorn --chdir=/home/site/wwwroot hello:app", ENV)
    assert found.startup_error is not None
    assert found.startup_error.endswith(
        "that is App Service's app folder: write $APP_PATH, which names it anywhere"
    )


def test_an_unset_variable_in_the_startup_command_says_how_to_fix_it(tmp_path: Path) -> None:
    found = detect(tmp_path, "gunicorn --workers $NO_SUCH_COUNT hello:app", ENV)
    assert found.startup_error == (
        "startup command: $NO_SUCH_COUNT is not set in the environment; set it, or write its "
        "value in the command"
    )


def test_unusable_startup_is_reported_and_the_chain_goes_on(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"startup.txt": "gunicorn --wrokers=4 hello:myapp\n", "application.py": flask_app()},
    )
    found = detect(tmp_path, "startup.txt", ENV)
    assert found.rule == "app-file" and found.app == "application:app"
    assert found.startup_error is not None
    assert "startup.txt" in found.startup_error and "--wrokers" in found.startup_error
    assert found.rules[0].reason == found.startup_error


def test_startup_settings_without_an_app_apply_to_the_detected_app(tmp_path: Path) -> None:
    write(tmp_path, {"application.py": flask_app()})
    found = detect(tmp_path, "gunicorn --workers=3", ENV)
    assert found.app == "application:app"
    assert found.startup is not None and found.startup.settings == {"workers": 3}


def test_django_wsgi_in_a_package_under_the_app_folder(tmp_path: Path) -> None:
    write(tmp_path, {"mysite/__init__.py": "", "mysite/wsgi.py": "application = None\n"})
    found = detect(tmp_path, env=ENV)
    assert (found.kind, found.rule, found.app) == ("wsgi", "django", "mysite.wsgi:application")
    assert found.pythonpath == tmp_path


def test_django_beats_an_application_py(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"application.py": flask_app(), "mysite/__init__.py": "", "mysite/wsgi.py": "x = 1\n"},
    )
    assert detect(tmp_path, env=ENV).rule == "django"


def test_virtualenvs_are_never_searched(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "antenv/lib/wsgi.py": "",
            "antenv/wsgi_pkg/wsgi.py": "",
            "myenv/pyvenv.cfg": "home = /usr/bin\n",
            "myenv/site/wsgi.py": "",
        },
    )
    found = detect(tmp_path, env=ENV)
    assert found.kind == "default"
    django = next(r for r in found.rules if r.name == "django")
    assert "antenv: virtualenv" in django.reason and "myenv: virtualenv" in django.reason


def test_flask_application_py(tmp_path: Path) -> None:
    write(tmp_path, {"application.py": flask_app()})
    found = detect(tmp_path, env=ENV)
    assert (found.kind, found.rule, found.app) == ("wsgi", "app-file", "application:app")


def test_detection_imports_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    bomb = f"open({str(marker)!r}, 'w').write('x')\napp = None\n"
    write(
        tmp_path,
        {"application.py": bomb, "pkg/__init__.py": bomb, "pkg/wsgi.py": bomb, "manage.py": bomb},
    )
    before = set(sys.modules)
    detect(tmp_path, env=ENV)
    assert not marker.exists()
    assert {"application", "pkg", "pkg.wsgi", "manage"}.isdisjoint(set(sys.modules) - before)


def test_a_missing_app_folder_still_detects_nothing_to_serve(tmp_path: Path) -> None:
    found = detect(tmp_path / "missing", env=ENV)
    assert found.kind == "default"


def test_sources_are_read_as_python_reads_them(tmp_path: Path) -> None:
    # PEP 263: a latin-1 file with its coding line, and a non-ASCII name in it.
    source = "# -*- coding: latin-1 -*-\nfrom flask import Flask\n\nappli\xe9 = Flask(__name__)\n"
    (tmp_path / "app.py").write_bytes(source.encode("latin-1"))
    found = detect(tmp_path, None, {})
    assert (found.kind, found.app) == ("wsgi", "app:appli\xe9")


def test_a_nul_byte_is_reported_without_a_missing_line_number(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_bytes(b"app = 1\x00\n")
    reason = next(
        rule.reason for rule in detect(tmp_path, None, {}).rules if rule.name == "app-file"
    )
    assert "line None" not in reason and "null bytes" in reason


def test_a_manage_py_with_a_syntax_error_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "manage.py").write_text("import os\nos.environ.setdefault('X',\n")
    reason = next(r.reason for r in detect(tmp_path, None, {}).rules if r.name == "django")
    assert reason.startswith("manage.py: syntax error at line ")
    assert "does not set DJANGO_SETTINGS_MODULE" not in reason


def test_a_detection_is_immutable_and_hashable(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("def myapp(environ, start_response):\n    return []\n")
    first = detect(tmp_path, "gunicorn --workers=2 --bind=127.0.0.1:9 hello:myapp", {})
    again = detect(tmp_path, "gunicorn --workers=2 --bind=127.0.0.1:9 hello:myapp", {})
    assert first == again and hash(first) == hash(again)
    assert len({first, again}) == 1
    assert first.startup is not None
    with pytest.raises(TypeError):
        first.startup.settings["workers"] = 9  # type: ignore[index]


def test_each_folder_is_listed_at_most_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The virtualenv scan, the manage.py search and the wsgi.py search share listings."""
    files = {f"pkg{i}/sub/leaf/x.py": "" for i in range(5)}
    write(tmp_path, {**files, "app.py": flask_app(), "notes/readme.txt": ""})
    listed = count_listings(monkeypatch)
    found = detect(tmp_path, env=ENV)
    assert found.app == "app:app"
    assert len(listed) == len(set(listed))
    # The app folder and the folders the searches enter (three levels), nothing deeper.
    assert str(tmp_path) in listed and not any(path.endswith("/leaf") for path in listed)


def test_a_procfiles_release_process_is_named_in_a_note_not_run(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Procfile": "release: python manage.py migrate\nweb: gunicorn app:app\n",
            "app.py": "app = None\n",
        },
    )
    found = detect(tmp_path, env=ENV)
    assert found.rule == "procfile"
    (note,) = [n for n in found.notes if "release process" in n]
    assert note.startswith("Procfile's release process (python manage.py migrate) is not run")


def test_an_entrypoint_sh_that_no_startup_command_names_is_noticed(tmp_path: Path) -> None:
    write(tmp_path, {"entrypoint.sh": "#!/bin/sh\nexec gunicorn app:app\n"})
    notes = detect(tmp_path, env=ENV).notes
    assert any(n.startswith("entrypoint.sh is in the app folder but no startup") for n in notes)
