"""gunicorn's command-line options: its own parser, and its validators as pure functions.

Every setting class in ``gunicorn.config.KNOWN_SETTINGS`` carries its validator; calling it
checks a value exactly as gunicorn would, without a ``Config`` whose state could leak from
one check into the next.
"""

import argparse
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from appservice_gunicorn.base.gunicorn_api import KNOWN_SETTINGS, SUPPORTED_WORKERS
from appservice_gunicorn.base.messages import show

SETTINGS: Mapping[str, Any] = {str(cls.name): cls for cls in KNOWN_SETTINGS}
_LONG_OPTIONS: Mapping[str, Any] = {
    option: cls for cls in KNOWN_SETTINGS for option in cls.cli or () if option.startswith("--")
}
# Settings whose value gunicorn parses again when it is read (Config.env and friends).
_PAIRS = {"raw_env": "--env", "raw_paste_global_conf": "--paste-global"}


class OptionError(Exception):
    """A gunicorn option or value gunicorn would refuse; the message is one line."""


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """gunicorn's command line, which raises where argparse would print and exit."""

    def error(self, message: str) -> NoReturn:
        raise _Refused(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Refused(message or f"exit {status}")


# gunicorn's names for its Tornado worker: the one worker a Tornado app can run under.
TORNADO_WORKERS = ("tornado", "gunicorn.workers.gtornado.TornadoWorker")


def parser(words: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """gunicorn's own argument parser: each setting adds its option, as gunicorn's
    ``Config.parser()`` has them do, to a parser that raises instead of exiting.  Its
    ``--help`` and ``--version`` are plain flags here: in a startup command they are a
    mistake (``parse`` says so), never something to print.

    With ``words``, only the settings those words could name: every option that one of
    them spells out, abbreviates or starts (``-w4``), so argparse reads them exactly as
    with all 120 options, which take 4 ms to add on every start that has gunicorn
    options (the benchmark's CPU to the first answer, one worker)."""
    if words is None:
        return _parser_of(frozenset(SETTINGS))
    named = frozenset(
        name
        for word in words
        if word.startswith("-") and word != "-"  # "-" alone is a value (stdout)
        for name, options in _OPTIONS.items()
        if any(_may_name(word, option) for option in options)
    )
    return _parser_of(named)


_OPTIONS: Mapping[str, tuple[str, ...]] = {
    str(cls.name): tuple(cls.cli) for cls in KNOWN_SETTINGS if cls.cli
}


def _may_name(word: str, option: str) -> bool:
    """Whether argparse could read ``word`` as ``option`` (or as ambiguous with it); a
    single-dash word may also hold several short flags (``-Rw4`` is ``-R -w 4``)."""
    written = word.partition("=")[0]
    if option.startswith(written) or option == word[:2]:
        return True
    combined = word[1:] if word[:1] == "-" and word[1:2] != "-" else ""
    return len(option) == 2 and option[1] in combined


@functools.cache
def _parser_of(names: frozenset[str]) -> argparse.ArgumentParser:
    built = _Parser(prog="gunicorn", add_help=False)
    built.add_argument("-h", "--help", dest="_help", action="store_true")
    built.add_argument("-v", "--version", dest="_version", action="store_true")
    built.add_argument("args", nargs="*")
    for name in SETTINGS:  # gunicorn's order
        if name in names and name in _OPTIONS:
            SETTINGS[name]().add_option(built)
    return built


def parse(
    args: Sequence[str], origin: str, base: Path | None = None
) -> tuple[str | None, dict[str, Any]]:
    """gunicorn arguments -> (app module, {setting: value}), each value validated.

    A relative ``--chdir`` is made absolute against ``base`` when one is given.
    """
    positional, given = _parsed(args, origin)
    settings = {name: given[name] for name in SETTINGS if name in given}  # gunicorn's order
    if base is not None and "chdir" in settings and not os.path.isabs(settings["chdir"]):
        settings["chdir"] = str(base / settings["chdir"])
    for name, value in settings.items():
        validate(name, value, origin)
    if len(positional) > 1:
        found = ", ".join(show(word) for word in positional[:4])
        raise OptionError(
            f"{origin}: expected one app module (module:variable), found {len(positional)}: "
            f"{found}; keep one, and put options before it with their '--'"
        )
    return (positional[0] if positional else None), settings


def _parsed(args: Sequence[str], origin: str) -> tuple[list[str], dict[str, Any]]:
    try:
        namespace, unknown = parser(args).parse_known_args(list(args))
    except (_Refused, argparse.ArgumentError) as exc:
        raise OptionError(f"{origin}: {exc}; fix it (see 'gunicorn --help')") from None
    if unknown:
        raise OptionError(
            f"{origin}: unknown gunicorn option {show(unknown[0])}; fix or remove it "
            "(see 'gunicorn --help')"
        )
    if namespace._help or namespace._version:
        raise OptionError(f"{origin}: -h/--help and -v/--version only print; remove them")
    settings = {k: v for k, v in vars(namespace).items() if v is not None and not k.startswith("_")}
    settings.pop("args")
    return namespace.args, settings


APP_SERVICE_APP_DIR = "/home/site/wwwroot"


def wsgi_workers() -> frozenset[str]:
    """gunicorn's own workers that call the app as WSGI (all but "asgi"): names and paths."""
    wsgi = {name: str(path) for name, path in SUPPORTED_WORKERS.items() if name != "asgi"}
    return frozenset([*wsgi, *wsgi.values()])


def is_option(word: str) -> bool:
    """Whether gunicorn's own parser takes ``word`` for one of its options: written out,
    abbreviated as argparse allows (``--work=4``), or short with its value (``-w4``)."""
    try:
        _, unknown = parser().parse_known_args([word])
    except (_Refused, argparse.ArgumentError):
        return True  # an option of gunicorn's that wants its value, or an ambiguous prefix
    return not unknown


def long_options() -> list[str]:
    """Every long option gunicorn's command line takes (``--workers``, ...)."""
    return list(_LONG_OPTIONS)


def validate(name: str, value: Any, origin: str, *, as_option: bool = True) -> Any:
    """``value`` as gunicorn's validator for ``name`` returns it; ``OptionError`` if refused.

    The message names the option (``--name``), or with ``as_option=False`` the setting.
    """
    option = "--" + name.replace("_", "-") if as_option else name
    try:
        checked = SETTINGS[name].validator(value)
    except Exception as exc:  # gunicorn's validators raise ValueError, TypeError, ...
        fix = ""
        if name == "chdir" and str(value).rstrip("/") == APP_SERVICE_APP_DIR:
            fix = "; that is App Service's app folder: write $APP_PATH, which names it anywhere"
        raise OptionError(f"{origin}: invalid value for {option}: {exc}{fix}") from None
    if name in _PAIRS and checked:
        for item in checked:
            if "=" not in str(item):
                raise OptionError(
                    f"{origin}: invalid value for {_PAIRS[name]}: {show(str(item))} is not "
                    "NAME=VALUE; write NAME=VALUE"
                )
    return checked


def is_hook(name: str) -> bool:
    """A setting whose value is a callable (server hooks): checking a name imports code."""
    setting = SETTINGS.get(name)
    return setting is not None and (setting.type is callable or "Hooks" in (setting.section or ""))
