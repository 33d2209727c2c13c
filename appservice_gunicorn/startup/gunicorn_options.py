"""gunicorn's command-line options: its own parser, and its validators as pure functions.

Every setting class in ``gunicorn.config.KNOWN_SETTINGS`` carries its validator; calling it
checks a value exactly as gunicorn would, without a ``Config`` whose state could leak from
one check into the next.
"""

import argparse
import functools
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# isort: off
from appservice_gunicorn.startup import _preimport  # noqa: F401  (before gunicorn.config: see its docstring)
from gunicorn.config import KNOWN_SETTINGS, Config
# isort: on

from appservice_gunicorn.messages import show

SETTINGS: Mapping[str, Any] = {str(cls.name): cls for cls in KNOWN_SETTINGS}
_LONG_OPTIONS: Mapping[str, Any] = {
    option: cls for cls in KNOWN_SETTINGS for option in cls.cli or () if option.startswith("--")
}
# Settings whose value gunicorn parses again when it is read (Config.env and friends).
_PAIRS = {"raw_env": "--env", "raw_paste_global_conf": "--paste-global"}


class OptionError(Exception):
    """A gunicorn option or value gunicorn would refuse; the message is one line."""


class _ArgumentError(Exception):
    pass


def _raise(message: str) -> Any:
    raise _ArgumentError(message)


def _quiet(message: str, file: Any = None) -> None:
    return None


def _refuse_exit(status: int = 0, message: str | None = None) -> Any:
    raise _ArgumentError("-h/--help and -v/--version only print; remove them")


# The Config the parser is built from, untouched: the application's first ``Config``
# (``new_config``), so that a start with GUNICORN_CMD_ARGS builds one Config, as gunicorn.
_spare: list[Config] = []


# Built once per process (it takes milliseconds, on the start-up path); only read after.
@functools.cache
def parser() -> argparse.ArgumentParser:
    """gunicorn's own argument parser, made to raise instead of printing and exiting."""
    config = Config(prog="gunicorn")
    built = config.parser()  # reads the settings' definitions, changes nothing
    _spare.append(config)
    built.exit_on_error = False
    built.error = _raise  # type: ignore[method-assign]
    # --help and --version print and exit: in a startup command they are a mistake.
    built._print_message = _quiet  # type: ignore[method-assign]
    built.exit = _refuse_exit  # type: ignore[method-assign]
    return built


def new_config(usage: str | None, prog: str | None) -> Config:
    """A gunicorn ``Config`` with every setting at its default, as ``Config(usage, prog)``."""
    if not _spare:
        return Config(usage, prog=prog)
    config = _spare.pop()
    config.usage, config.prog = usage, prog or os.path.basename(sys.argv[0])
    config.env_orig = os.environ.copy()  # the environment as it is now, as Config() takes it
    return config


def parse(
    args: Sequence[str], origin: str, base: Path | None = None
) -> tuple[str | None, dict[str, Any]]:
    """gunicorn arguments -> (app module, {setting: value}), each value validated.

    A relative ``--chdir`` is made absolute against ``base`` when one is given.
    """
    spelled_out = _spelled_out(args)
    positional, given = spelled_out if spelled_out is not None else _parsed(args, origin)
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
        namespace, unknown = parser().parse_known_args(list(args))
    except (_ArgumentError, argparse.ArgumentError) as exc:
        raise OptionError(f"{origin}: {exc}; fix it (see 'gunicorn --help')") from None
    if unknown:
        raise OptionError(
            f"{origin}: unknown gunicorn option {show(unknown[0])}; fix or remove it "
            "(see 'gunicorn --help')"
        )
    settings = {k: v for k, v in vars(namespace).items() if v is not None and k != "args"}
    return namespace.args, settings


def _spelled_out(args: Sequence[str]) -> tuple[list[str], dict[str, Any]] | None:
    """What gunicorn's parser makes of ``args`` when each option is written out in full
    (``--name=value``, ``--name value``, ``--flag``) and at most one app module is given,
    without building that parser (120 options: 5 ms on every start that has gunicorn
    options); None for anything else (a short or abbreviated option, ``--``, a value that
    starts with ``-`` other than ``-`` alone, or does not convert), which the parser reads."""
    settings: dict[str, Any] = {}
    positional: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if not word.startswith("-"):
            positional.append(word)
            continue
        option, has_value, value = word.partition("=")
        setting = _LONG_OPTIONS.get(option)
        if setting is None or setting.nargs is not None:
            return None
        action = setting.action or "store"
        if action in ("store_true", "store_false", "store_const"):
            if has_value:
                return None
            settings[setting.name] = {"store_true": True, "store_false": False}.get(
                action, setting.const
            )
            continue
        if action not in ("store", "append"):
            return None
        if not has_value:
            # A lone "-" is a value to argparse (stdout, in --access-logfile -).
            if index == len(args) or (args[index].startswith("-") and args[index] != "-"):
                return None
            value = args[index]
            index += 1
        if value == "--":  # argparse drops it even as --name=--
            return None
        if action == "append":  # gunicorn gives these no type: the words as written
            settings.setdefault(setting.name, []).append(value)
            continue
        try:
            # Read from an instance, as gunicorn's add_option does (auto_int is a method).
            settings[setting.name] = (setting().type or str)(value)
        except (TypeError, ValueError):
            return None
    return (positional, settings) if len(positional) <= 1 else None


APP_SERVICE_APP_DIR = "/home/site/wwwroot"


def wsgi_workers() -> frozenset[str]:
    """gunicorn's own workers that call the app as WSGI (all but "asgi"): names and paths."""
    from gunicorn.workers import SUPPORTED_WORKERS

    wsgi = {name: str(path) for name, path in SUPPORTED_WORKERS.items() if name != "asgi"}
    return frozenset([*wsgi, *wsgi.values()])


def is_option(word: str) -> bool:
    """Whether gunicorn's own parser takes ``word`` for one of its options: written out,
    abbreviated as argparse allows (``--work=4``), or short with its value (``-w4``)."""
    try:
        _, unknown = parser().parse_known_args([word])
    except (_ArgumentError, argparse.ArgumentError):
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
