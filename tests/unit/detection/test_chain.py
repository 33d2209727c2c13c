"""The chain's shape: data (a tuple of rules), each rule one function of the context that
answers a Match or a Miss, and detect() a loop over it."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

from appservice_gunicorn import detect
from appservice_gunicorn.detection import chain
from appservice_gunicorn.detection.context import Context, Match, Miss
from appservice_gunicorn.detection.rules import startup
from tests.helpers import flask_app, write

ENV = {"PATH": "/usr/bin:/bin"}


def test_the_chain_is_a_tuple_of_rules_in_app_services_order() -> None:
    assert [name for name, _ in chain.CHAIN] == [
        "startup",
        "procfile",
        "config-file",
        "flask-app",
        "django",
        "app-file",
        "default-site",
    ]


def test_every_rule_takes_the_context_and_answers_a_match_or_a_miss() -> None:
    for name, rule in chain.CHAIN:
        hints = typing.get_type_hints(rule)
        parameters = list(inspect.signature(rule).parameters)
        assert len(parameters) == 1, name
        assert hints[parameters[0]] is Context, name
        assert hints["return"] == Match | Miss, name


def test_detect_tries_the_rules_in_order_until_one_matches(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    found = detect(tmp_path, env=ENV)
    names = [name for name, _ in chain.CHAIN]
    assert [rule.name for rule in found.rules] == names[: names.index("app-file") + 1]
    assert [rule.matched for rule in found.rules] == [False] * 5 + [True]
    assert (found.rule, found.app) == ("app-file", "app:app")


def test_a_rule_answers_with_values_and_changes_nothing_it_is_given(tmp_path: Path) -> None:
    """Notes and reasons come back in the answer, never through a list passed in."""
    write(tmp_path, {"Procfile": "web: uvicorn main:app --host 127.0.0.1 --port 9000\n"})
    env = {**ENV, "PORT": "8000"}
    context, notes = chain._context(tmp_path, None, env, None)
    observed, noted = list(context.search.observed), list(notes)
    outcome = dict(chain.CHAIN)["procfile"](context)
    assert isinstance(outcome, Match) and str(outcome.command).startswith("uvicorn main:app")
    # The supervised server's warnings are in the answer...
    assert any("requests come to port 8000 ($PORT)" in note for note in outcome.notes)
    # ... and nothing the rule was given changed.
    assert (context.search.observed, notes) == (observed, noted)
    # detect() passes them on to the log's notes.
    assert set(outcome.notes) <= set(detect(tmp_path, env=env).notes)


def test_a_settings_only_startup_command_is_a_miss_whose_settings_still_apply(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"app.py": flask_app()})
    context = chain._context(tmp_path, "--workers=3", ENV, None)[0]
    outcome = startup.rule(context)
    assert isinstance(outcome, Miss)
    assert "gunicorn settings only" in outcome.reason
    found = detect(tmp_path, "--workers=3", ENV)
    assert found.rule == "app-file"
    assert found.startup is not None and found.startup.settings["workers"] == 3
