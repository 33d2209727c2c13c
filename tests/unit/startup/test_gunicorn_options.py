"""gunicorn's options parsed and checked by its own parser and validators."""

from __future__ import annotations

import pytest
from gunicorn.config import KNOWN_SETTINGS, Config

from appservice_gunicorn.startup import gunicorn_options
from appservice_gunicorn.startup.gunicorn_options import OptionError, parse, parser


def test_options_are_parsed_and_validated() -> None:
    app, settings = parse(["--workers=3", "--timeout", "30", "hello:app"], "startup.txt")
    assert (app, settings) == ("hello:app", {"workers": 3, "timeout": 30})
    with pytest.raises(OptionError, match=r"startup\.txt: argument -w/--workers: invalid int"):
        parse(["--workers=many"], "startup.txt")
    with pytest.raises(OptionError, match=r"startup\.txt: invalid value for --timeout"):
        parse(["--timeout=-1"], "startup.txt")


def _gunicorns(args: list[str]) -> tuple[list[str], dict[str, object]]:
    """What gunicorn's own ``Config.parser()`` makes of ``args``."""
    namespace = Config(prog="gunicorn").parser().parse_args(args)
    given = {k: v for k, v in vars(namespace).items() if v is not None and k != "args"}
    return namespace.args, given


def _samples() -> list[list[str]]:
    """Each option of every gunicorn setting, as a user would write it, long and short,
    with a value gunicorn's parser accepts."""
    samples = []
    for setting in KNOWN_SETTINGS:
        if setting.nargs is not None:
            continue
        for option in setting.cli or ():
            action = setting.action or "store"
            if action in ("store_true", "store_false", "store_const"):
                samples.append([option, "app:app"])
                continue
            for value in ("3", "0o22", "x", "127.0.0.1:8000"):
                try:
                    _gunicorns([option, value])
                except SystemExit:
                    continue
                samples.append([option, value, "app:app"])
                break
    return samples


@pytest.mark.parametrize("args", _samples(), ids=" ".join)
def test_every_option_reads_as_gunicorns_own_parser_reads_it(args: list[str]) -> None:
    """The launcher's parser is built from gunicorn's settings as gunicorn builds its own:
    an option gunicorn adds or changes is read the same here."""
    assert parser().parse_known_args(args)[1] == []
    positional, given = gunicorn_options._parsed(args, "test")
    assert (positional, given) == _gunicorns(args)


def test_app_services_usual_options_are_read() -> None:
    """``GUNICORN_CMD_ARGS="--timeout 600 --access-logfile '-' --error-logfile '-'"``."""
    args = ["--timeout", "600", "--access-logfile", "-", "--error-logfile", "-", "app:app"]
    assert parse(args, "x") == ("app:app", {"timeout": 600, "accesslog": "-", "errorlog": "-"})


def test_repeated_options_read_as_gunicorns_parser_reads_them() -> None:
    args = ["--bind=127.0.0.1:1", "--workers", "2", "--bind", "[::1]:2", "--workers=3"]
    assert parse(args, "x")[1] == {"workers": 3, "bind": ["127.0.0.1:1", "[::1]:2"]}


@pytest.mark.parametrize("flag", ["--help", "-h", "--version", "-v"])
def test_help_and_version_in_a_command_are_refused_not_printed(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(OptionError, match=r"startup\.txt: -h/--help and -v/--version only print"):
        parse([flag, "app:app"], "startup.txt")
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--workers=four"], "argument -w/--workers: invalid int value: 'four'"),
        (["--preload=yes"], "argument --preload: ignored explicit argument 'yes'"),
        (["--workers"], "argument -w/--workers: expected one argument"),
    ],
)
def test_what_gunicorns_parser_refuses_is_one_line_naming_the_option(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(OptionError) as info:
        parse(args, "startup.txt")
    assert str(info.value).startswith(f"startup.txt: {said}")
    assert capsys.readouterr() == ("", "")


def test_settings_come_in_gunicorns_order_whatever_the_command_line() -> None:
    """The order decides which of several bad values is reported first (and the order of
    ``--explain --json``): gunicorn's, not the command line's."""
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


@pytest.mark.parametrize(
    ("words", "settings"),
    [
        (["--workers=4", "app:app"], {"workers"}),
        (["-w4"], {"workers"}),
        (["--work=4"], {"workers", "worker_class", "worker_connections", "worker_tmp_dir"}),
        (["--access-logfile", "-", "--timeout", "600"], {"accesslog", "timeout"}),
        (["--wrokers=4"], set()),
    ],
)
def test_a_command_line_is_read_by_a_parser_of_the_options_it_may_name(
    words: list[str], settings: set[str]
) -> None:
    """Adding all 120 options costs 4 ms a start: only those a word spells out, abbreviates
    or starts are added, and argparse then reads the words as with all of them (the test
    above, over every option)."""
    dests = {action.dest for action in parser(words)._actions}
    assert dests - {"_help", "_version", "args"} == settings


@pytest.mark.parametrize(
    "words", [["-Rw4", "app:app"], ["-Rw", "4"], ["-Dkgevent"], ["-Rb0.0.0.0:1"]]
)
def test_combined_short_flags_read_as_gunicorns_parser_reads_them(words: list[str]) -> None:
    """``-Rw4`` is ``-R -w 4`` to argparse: a parser of the options the words name must
    have ``-w`` too (found by a fuzz of random command lines against gunicorn's parser)."""
    assert gunicorn_options._parsed(words, "test") == _gunicorns(words)


def test_a_combined_flag_that_wants_a_value_is_refused_as_gunicorn_refuses_it() -> None:
    with pytest.raises(OptionError, match=r"argument -k/--worker-class: expected one argument"):
        parse(["-Dk"], "startup.txt")
