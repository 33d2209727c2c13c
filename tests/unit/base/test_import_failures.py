"""The one line a failed import of the app becomes: where in the app's own code it failed,
and the fix (an environment variable the app reads, first)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appservice_gunicorn.base.import_failures import user_failure


def failure_of(where: Path, files: dict[str, str], run: str) -> str:
    """The first line of ``user_failure`` for what running ``run`` (a file of ``files``,
    written under ``where``) raises."""
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    path = where / run
    try:
        exec(compile(path.read_text(), str(path), "exec"), {"__name__": "app"})
    except Exception as exc:
        return user_failure("importing 'app'", "app:app", where, exc).splitlines()[0]
    raise AssertionError(f"{run} raised nothing")


def test_a_variable_the_app_reads_from_the_environment_is_named_with_its_place(
    tmp_path: Path,
) -> None:
    settings = "import os\n\nUSER = os.environ['POSTGRES_USERNAME']\n"
    line = failure_of(tmp_path, {"cfg/settings.py": settings}, "cfg/settings.py")
    assert "raised KeyError: 'POSTGRES_USERNAME' (cfg/settings.py, line 3)" in line
    assert (
        "; set the environment variable POSTGRES_USERNAME (on App Service: an app setting)" in line
    )


def test_a_variable_app_service_sets_itself_says_so(tmp_path: Path) -> None:
    settings = "from os import environ\n\nHOSTS = [environ['WEBSITE_HOSTNAME']]\n"
    line = failure_of(tmp_path, {"settings.py": settings}, "settings.py")
    assert (
        "; set the environment variable WEBSITE_HOSTNAME (App Service sets it itself: set it "
        "when the app runs elsewhere)" in line
    )


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("CONFIG = {}\nNAME = CONFIG['name']\n", "KeyError: 'name' (app.py, line 2)"),
        (  # Flask's config pattern: the variable is set, the dictionary lacks its value
            "import os\nCONFIGS = {}\nCONFIG = CONFIGS[os.environ.get('HOME', 'x')]\n",
            f"KeyError: {os.environ.get('HOME', 'x')!r} (app.py, line 3)",
        ),
        ("environ_cfg = {}\nX = environ_cfg['name']\n", "KeyError: 'name' (app.py, line 2)"),
        ("\n\nraise RuntimeError('no database')\n", "RuntimeError: no database (app.py, line 3)"),
    ],
)
def test_any_other_error_names_its_place_in_the_apps_code(
    tmp_path: Path, code: str, raised: str
) -> None:
    line = failure_of(tmp_path, {"app.py": code}, "app.py")
    assert f"raised {raised}; fix the error in your code" in line


def test_a_symlinked_app_folder_still_names_the_place(tmp_path: Path) -> None:
    """The app served from a link to its folder, its files named by their real path (as a
    sys.path entry made from realpath(__file__) names them)."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "site").symlink_to(real)
    path = real / "app.py"
    path.write_text("\n\nraise RuntimeError('x')\n")
    try:
        exec(compile(path.read_text(), str(path), "exec"), {"__name__": "app"})
    except RuntimeError as exc:
        line = user_failure("importing 'app'", "app:app", tmp_path / "site", exc)
    assert "raised RuntimeError: x (app.py, line 3); fix the error" in line
