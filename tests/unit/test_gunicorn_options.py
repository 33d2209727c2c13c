"""gunicorn's options parsed and checked by its own parser and validators."""

from __future__ import annotations

import os

import pytest
from gunicorn.config import Config

from appservice_gunicorn.startup import gunicorn_options
from appservice_gunicorn.startup.gunicorn_options import OptionError, new_config, parse, parser


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


def _by_parser(args: list[str]) -> tuple[list[str], dict[str, object]]:
    return gunicorn_options._parsed(args, "test")


def _samples() -> list[list[str]]:
    """Each long option of every gunicorn setting, written out as a user would, with a
    value its parser accepts."""
    samples = []
    for option, setting in gunicorn_options._LONG_OPTIONS.items():
        if setting.nargs is not None:
            continue
        action = setting.action or "store"
        if action in ("store_true", "store_false", "store_const"):
            samples.append([option, "app:app"])
            continue
        for value in ("3", "0o22", "x", "127.0.0.1:8000"):
            try:
                _by_parser([f"{option}={value}"])
            except OptionError:
                continue
            samples += [[f"{option}={value}"], [option, value, "app:app"]]
            break
    return samples


@pytest.mark.parametrize("args", _samples(), ids=" ".join)
def test_options_written_out_read_as_gunicorns_parser_reads_them(args: list[str]) -> None:
    assert gunicorn_options._spelled_out(args) == _by_parser(args)


def test_app_services_usual_options_are_read_without_the_parser() -> None:
    """``GUNICORN_CMD_ARGS="--timeout 600 --access-logfile '-' --error-logfile '-'"``."""
    args = ["--timeout", "600", "--access-logfile", "-", "--error-logfile", "-", "app:app"]
    assert gunicorn_options._spelled_out(args) == _by_parser(args)
    assert _by_parser(args) == (
        ["app:app"],
        {"timeout": 600, "accesslog": "-", "errorlog": "-"},
    )


def test_repeated_options_read_as_gunicorns_parser_reads_them() -> None:
    args = ["--bind=127.0.0.1:1", "--workers", "2", "--bind", "[::1]:2", "--workers=3"]
    assert gunicorn_options._spelled_out(args) == _by_parser(args)
    assert _by_parser(args)[1] == {"bind": ["127.0.0.1:1", "[::1]:2"], "workers": 3}


@pytest.mark.parametrize(
    "args",
    [
        ["-w", "4"],  # short
        ["--work=4"],  # abbreviated
        ["--timeout", "-1"],  # a value that looks like an option
        ["--workers=four"],  # does not convert: the parser says why
        ["--preload=yes"],  # a flag given a value
        ["--", "app:app"],
        ["--bind=--"],  # argparse drops a "--", even as a value
        ["a:app", "b:app"],  # two app modules
        ["--help"],
    ],
)
def test_anything_else_is_left_to_gunicorns_parser(args: list[str]) -> None:
    assert gunicorn_options._spelled_out(args) is None


def test_settings_come_in_gunicorns_order_whatever_the_command_line() -> None:
    """The order decides which of several bad values is reported first (and the order of
    ``--explain --json``): the same whether the parser or the fast path read the options."""
    orders = {
        tuple(parse(args, "x")[1])
        for args in (
            ["--timeout=30", "--workers=3"],
            ["--workers=3", "--timeout=30"],
            ["-t", "30", "--workers=3"],  # short: read by the parser
        )
    }
    assert len(orders) == 1
    messages = set()
    for args in (["--timeout=-1", "--workers=-1"], ["--workers=-1", "-t", "-1"]):
        with pytest.raises(OptionError) as caught:
            parse(args, "x")
        messages.add(str(caught.value).split(":")[1])
    assert len(messages) == 1
