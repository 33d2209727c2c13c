"""gunicorn's options parsed and checked by its own parser and validators."""

from __future__ import annotations

import os

import pytest
from gunicorn.config import Config

from appservice_gunicorn import gunicorn_options
from appservice_gunicorn.gunicorn_options import OptionError, new_config, parse, parser


def test_options_are_parsed_and_validated() -> None:
    app, settings = parse(["--workers=3", "--timeout", "30", "hello:app"], "startup.txt")
    assert (app, settings) == ("hello:app", {"workers": 3, "timeout": 30})
    with pytest.raises(OptionError, match=r"startup\.txt: argument -w/--workers: invalid int"):
        parse(["--workers=many"], "startup.txt")
    with pytest.raises(OptionError, match=r"startup\.txt: invalid value for --timeout"):
        parse(["--timeout=-1"], "startup.txt")


def test_the_application_config_is_the_parsers_own_at_its_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parser's Config is not built twice: the application takes it, with every setting
    at gunicorn's default and the environment of the moment it is taken."""
    parser.cache_clear()
    monkeypatch.setattr(gunicorn_options, "_spare", [])
    parser()
    spare = gunicorn_options._spare[0]
    monkeypatch.setenv("APPSVC_TEST_LATER", "1")
    config = new_config("usage", "appservice-gunicorn")
    assert config is spare
    assert (config.usage, config.prog) == ("usage", "appservice-gunicorn")
    assert config.env_orig == dict(os.environ)
    fresh = Config("usage", prog="appservice-gunicorn")
    assert {name: s.value for name, s in config.settings.items()} == {
        name: s.value for name, s in fresh.settings.items()
    }
    # Once taken, a new one each time (a redeploy's).
    assert new_config("usage", "appservice-gunicorn") is not spare
