"""djangosettings: a setting's value read from the settings' files, never imported."""

from pathlib import Path

import pytest

from appservice_gunicorn.detection import django_settings as djangosettings
from appservice_gunicorn.files import pysource
from tests.helpers import count_calls, write

DEFAULT = "mysite.wsgi.application"

# Settings modules (mysite/settings.py, with mysite/base.py beside it) and what the AST
# says WSGI_APPLICATION is: the text's shortcut must lead the caller to the same module.
SETTINGS = {
    "startproject": ("WSGI_APPLICATION = 'mysite.wsgi.application'\n", DEFAULT),
    "double quotes, comment": ('WSGI_APPLICATION = "mysite.wsgi.application"  # x\n', DEFAULT),
    "another value": ("WSGI_APPLICATION = 'config.wsgi.app'\n", "config.wsgi.app"),
    "default, then another": (
        f"WSGI_APPLICATION = '{DEFAULT}'\nWSGI_APPLICATION = 'config.wsgi.app'\n",
        "config.wsgi.app",
    ),
    "another in an if": (
        f"WSGI_APPLICATION = '{DEFAULT}'\nif DEBUG:\n    WSGI_APPLICATION = 'dev.wsgi.app'\n",
        "dev.wsgi.app",
    ),
    "in a docstring, another in an if": (
        f'"""\nWSGI_APPLICATION = \'{DEFAULT}\'\n"""\nif 1:\n    WSGI_APPLICATION = "b.w.a"\n',
        "b.w.a",
    ),
    "only in a docstring": (f'"""\nWSGI_APPLICATION = "{DEFAULT}"\n"""\n', None),
    "only in a comment": ("# WSGI_APPLICATION = 'other.wsgi.application'\n", None),
    "annotated": (f"WSGI_APPLICATION: str = '{DEFAULT}'\n", DEFAULT),
    "chained after a backslash": (
        f"X = \\\nWSGI_APPLICATION = 'other.wsgi.app'\nWSGI_APPLICATION = '{DEFAULT}'\n",
        DEFAULT,
    ),
    "star import setting another": (
        f"WSGI_APPLICATION = '{DEFAULT}'\nfrom .base import *\n",
        "base.wsgi.app",
    ),
    "star import after a backslash": (
        f"WSGI_APPLICATION = '{DEFAULT}'\nfrom .base import \\\n    *\n",
        "base.wsgi.app",
    ),
    "not set": ("DEBUG = True\n", None),
    "the name in utf-7": (
        "# -*- coding: utf-7 -*-\n"
        f"WSGI_APPLICATION = '{DEFAULT}'\n+AFc-SGI_APPLICATION = 'evil.wsgi.app'\n",
        "evil.wsgi.app",
    ),
    "a star import in unicode_escape": (
        f"# coding: unicode_escape\nWSGI_APPLICATION = '{DEFAULT}'\nfrom .base \\u0069mport *\n",
        "base.wsgi.app",
    ),
    "declared utf-8": (f"# -*- coding: utf-8 -*-\nWSGI_APPLICATION = '{DEFAULT}'\n", DEFAULT),
    "non-ASCII spelling of the name": (
        f"WSGI_APPLICATION = '{DEFAULT}'\n\uff37SGI_APPLICATION = 'wide.wsgi.app'\n",
        "wide.wsgi.app",
    ),
}


@pytest.mark.parametrize("case", SETTINGS)
def test_a_setting_read_with_a_default_leads_to_the_module_the_ast_gives(
    tmp_path: Path, case: str
) -> None:
    source, from_ast = SETTINGS[case]
    write(
        tmp_path,
        {"mysite/settings.py": source, "mysite/base.py": "WSGI_APPLICATION = 'base.wsgi.app'\n"},
    )
    parsed = djangosettings.setting(tmp_path, "mysite.settings", "WSGI_APPLICATION")
    read = djangosettings.setting(tmp_path, "mysite.settings", "WSGI_APPLICATION", default=DEFAULT)
    assert parsed == from_ast
    assert (read or DEFAULT) == (parsed or DEFAULT)


def test_startproject_settings_are_not_parsed_for_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {"mysite/settings.py": "DEBUG = True\nWSGI_APPLICATION = 'mysite.wsgi.application'\n"},
    )
    parsed = count_calls(monkeypatch, pysource, "parse")
    assert (
        djangosettings.setting(tmp_path, "mysite.settings", "WSGI_APPLICATION", default=DEFAULT)
        == DEFAULT
    )
    assert djangosettings.setting(tmp_path, "mysite.settings", "SECRET_KEY", default="x") is None
    assert parsed == []
    assert djangosettings.setting(tmp_path, "mysite.settings", "WSGI_APPLICATION") == DEFAULT
    assert parsed == [tmp_path / "mysite" / "settings.py"]
