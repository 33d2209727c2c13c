"""The command line's split between launcher options and the startup command."""

from __future__ import annotations

import pytest

from appservice_gunicorn.cli import build_parser, parse_args


def test_no_options_gives_what_the_parser_would() -> None:
    """The usual start has no launcher options and skips building the parser: its answer
    must stay the parser's own defaults."""
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
