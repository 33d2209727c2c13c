"""The command line's split between launcher options and the startup command."""

from __future__ import annotations

import pytest

from appservice_gunicorn import __version__
from appservice_gunicorn.cli import build_parser, parse_args


def test_no_options_gives_the_parser_defaults() -> None:
    expected = vars(build_parser().parse_args([]))
    expected["startup"] = ["gunicorn", "--workers=4", "app:app"]
    assert vars(parse_args(["gunicorn", "--workers=4", "app:app"])) == expected


@pytest.mark.parametrize(
    ("argv", "app_dir", "startup"),
    [
        (["--app-dir", "/srv/app", "startup.txt"], "/srv/app", ["startup.txt"]),
        (["--app-dir=/srv/app", "--", "--explain"], "/srv/app", ["--explain"]),
        (["--strict", "gunicorn", "--strict"], None, ["gunicorn", "--strict"]),
    ],
)
def test_options_end_at_the_startup_command(
    argv: list[str], app_dir: str | None, startup: list[str]
) -> None:
    args = parse_args(argv)
    assert (args.app_dir, args.startup) == (app_dir, startup)


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["--app-dirr", "/srv/app"], "did you mean --app-dir?"),
        (["--app-dirr=/srv/app"], "did you mean --app-dir?"),
        (["--exlpain"], "did you mean --explain?"),
        (["--strict", "--jsno"], "did you mean --json?"),
        (["-V"], "did you mean -v?"),
        (["--wrokers=4", "app:app"], "did you mean --workers?"),
        (["-x", "app:app"], "unrecognized option '-x': neither"),
    ],
)
def test_a_word_that_looks_like_an_option_but_is_none_is_a_usage_error(
    argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: appservice-gunicorn")
    assert "appservice-gunicorn: error: unrecognized option '" in err
    assert suggestion in err


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version_flags_print_the_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args([flag])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"appservice-gunicorn {__version__}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--workers=4", "app:app"],
        ["-w", "4", "app:app"],
        ["-w4", "app:app"],
        ["--work=4", "app:app"],  # abbreviated, as gunicorn's own parser takes it
        ["--bind", "127.0.0.1:9000", "app:app"],
    ],
)
def test_gunicorn_options_first_still_reach_gunicorn(argv: list[str]) -> None:
    assert parse_args(argv).startup == argv


def test_words_after_the_separator_are_the_startup_command_whatever_they_look_like() -> None:
    assert parse_args(["--", "--app-dirr", "x"]).startup == ["--app-dirr", "x"]
