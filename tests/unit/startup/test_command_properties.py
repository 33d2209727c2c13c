"""Any startup text or bytes gives a ``StartupCommand`` or one clear ``StartupError``.

Reading and classifying a startup command must never run it: the commands below would
create a marker file if anything executed them.
"""

from __future__ import annotations

import functools
import os
import string
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from appservice_gunicorn.startup.command import (
    MAX_COMMAND_CHARS,
    StartupCommand,
    StartupError,
    classify,
    resolve_startup,
)
from appservice_gunicorn.startup.startup_file import MAX_FILE_BYTES, read_startup_file

ENV = {"PORT": "8000", "HOME": "/home/site"}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces that startup commands are made of, so that generated text often parses
# far enough to reach gunicorn's option parser and validators.
OPTIONS = [
    "--workers",
    "-w",
    "--threads",
    "--bind",
    "-b",
    "--timeout",
    "--chdir",
    "--user",
    "--group",
    "-e",
    "--env",
    "--paste-global",
    "--umask",
    "--worker-class",
    "-k",
    "--forwarded-allow-ips",
    "--limit-request-line",
    "--log-level",
    "--statsd-host",
    "--reload-engine",
    "--ssl-version",
    "--keep-alive",
    "-c",
    "--config",
    "--wrokers",
]
WORDS = st.one_of(
    st.sampled_from(OPTIONS),
    st.builds(lambda o, v: f"{o}={v}", st.sampled_from(OPTIONS), st.text(max_size=8)),
    st.sampled_from(
        [
            "gunicorn",
            "python",
            "python3.12",
            "-m",
            "hello:app",
            "app:create_app()",
            "$PORT",
            "${PORT}",
            "$UNSET_VARIABLE",
            "'",
            '"',
            "\\",
            "#",
            "&&",
            "|",
            ";",
            "$(",
            "`",
            "\n",
            "\r\n",
            "\x00",
            "\x0b",
            "\u2028",
            "\ufeff",
            "abc",
            "0",
            "-1",
            "99999999999999999999",
        ]
    ),
    st.text(max_size=12),
)
COMMANDS = st.one_of(
    st.lists(WORDS, max_size=10).map(" ".join),
    st.text(max_size=200),
    st.text(alphabet=string.printable, max_size=200),
)


def one_clear_error(error: StartupError) -> str:
    message = str(error)
    assert message, "an empty error message"
    assert len(message.splitlines()) == 1, f"not one line: {message!r}"
    assert len(message) < 600, f"too long ({len(message)} characters): {message[:200]!r}..."
    return message


def check(parse: Callable[[], StartupCommand | None]) -> StartupCommand | None:
    """Run ``parse``: it returns a command (or None) or raises one clear StartupError."""
    try:
        command = parse()
    except StartupError as exc:
        one_clear_error(exc)
        return None
    if command is not None:
        assert command.kind in ("gunicorn", "shell", "script")
        assert command.text
    return command


@pytest.fixture(scope="module")
def app_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="startup-props-") as folder:
        root = Path(folder, "app")
        root.mkdir()
        (root / "hello.py").write_text("app = None\n")
        (root / "startup.txt").write_text("gunicorn hello:app\n")
        yield root


@FAST
@given(text=COMMANDS)
@example(text="gunicorn 'unbalanced")
@example(text='gunicorn --bind="0.0.0.0:$PORT hello:app')
@example(text="# only a comment")
@example(text="gunicorn --chdir=/does/not/exist hello:app")
@example(text="gunicorn --user=no-such-user-here hello:app")
@example(text="gunicorn -e NO_EQUALS_SIGN hello:app")
@example(text="gunicorn --paste-global NO_EQUALS hello:app")
@example(text="gunicorn one:app two:app three\x0bfour:app")
@example(text="gunicorn --workers=abc hello:app")
@example(text="\x00")
def test_classify_gives_a_command_or_one_clear_error(text: str, app_dir: Path) -> None:
    check(lambda: classify(text, "startup command", ENV, app_dir))


@FAST
@given(words=st.lists(WORDS, max_size=6))
@example(words=["a\x00.txt"])
@example(words=["../startup.txt"])
@example(words=["/etc/passwd"])
@example(words=["x" * 5000 + ".txt"])
@example(words=["startup.txt/"])
@example(words=["hello.py"])
def test_resolve_startup_gives_a_command_or_one_clear_error(
    words: list[str], app_dir: Path
) -> None:
    check(lambda: resolve_startup(words, app_dir, ENV))


@FAST
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        COMMANDS.map(lambda text: text.encode("utf-8", "surrogatepass")),
        COMMANDS.map(lambda text: text.encode("utf-16")),
    )
)
@example(data=b"")
@example(data=b"\xff\xfe\x00g\x00u\x00n\x00")
@example(data=b"gunicorn hello:app\x00")
@example(data=b"\xc3\x28 gunicorn")
@example(data=b"# only\n# comments\n\n")
@example(data=b"\xef\xbb\xbfgunicorn hello:app\r\n")
@example(data=b"gunicorn 'unbalanced\n")
@example(data=b"\\\n\\\n")
def test_startup_file_bytes_give_a_command_or_one_clear_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="startup-file-") as folder:
        root = Path(folder)
        for name in ("startup.txt", "startup.sh"):
            (root / name).write_bytes(data)
            try:
                text = read_startup_file(root / name, name)
            except StartupError as exc:
                one_clear_error(exc)
                continue
            assert text.strip()
            check(functools.partial(classify, text, name, ENV, root))
            check(functools.partial(resolve_startup, [name], root, ENV))


def test_ten_megabyte_startup_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "startup.txt"
    path.write_bytes(b"gunicorn " + b"x" * (10 * 1024 * 1024))
    with pytest.raises(StartupError) as info:
        read_startup_file(path, "startup.txt")
    message = one_clear_error(info.value)
    assert f"larger than {MAX_FILE_BYTES // 1024} KiB" in message


def test_ten_megabyte_command_text_gives_a_short_error() -> None:
    text = "gunicorn '" + "x" * (10 * 1024 * 1024)
    with pytest.raises(StartupError) as info:
        classify(text, "startup command", ENV)
    assert "characters long" in one_clear_error(info.value)


def test_longest_command_is_still_parsed_quickly() -> None:
    text = "gunicorn '" + "x" * (MAX_COMMAND_CHARS - 30) + "' hello:app"
    started = time.monotonic()
    with pytest.raises(StartupError) as info:  # two app modules
        classify(text, "startup command", ENV)
    # shlex is quadratic: a 1 MiB command took minutes before the length limit.
    assert time.monotonic() - started < 10
    assert "expected one app module" in one_clear_error(info.value)


# Every way of writing "run this" that a shell would honour.
RUNNERS = [
    "touch {m}",
    "$(touch {m})",
    "`touch {m}`",
    "gunicorn hello:app; touch {m}",
    "gunicorn hello:app && touch {m}",
    "gunicorn hello:app | touch {m}",
    "gunicorn --bind=$(touch {m}) hello:app",
    "gunicorn --bind=`touch {m}` hello:app",
    "gunicorn -c {m}.py hello:app",
    "gunicorn --paste={m}.ini",
    'python -c \'open("{m}", "w")\'',
    "sh -c 'touch {m}'",
    "/bin/touch {m}",
    "touch {m}\ngunicorn hello:app",
]


@pytest.fixture(scope="module")
def marker_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="startup-marker-") as folder:
        yield Path(folder)


def marker_configs(marker: Path) -> None:
    """A config and paste file that would create the marker if run or imported."""
    marker.with_suffix(".py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    marker.with_suffix(".ini").write_text("[app:main]\nuse = egg:nothing\n")


@FAST
@given(
    runner=st.sampled_from(RUNNERS),
    prefix=st.sampled_from(["", "  ", "# comment\n", "gunicorn ", "'"]),
    suffix=st.sampled_from(["", " ", "\n", " '", " # trailing", "\\\n"]),
)
def test_parsing_never_runs_anything(
    runner: str, prefix: str, suffix: str, marker_dir: Path
) -> None:
    marker = marker_dir / "ran"
    marker_configs(marker)
    text = prefix + runner.format(m=marker) + suffix
    check(lambda: classify(text, "startup command", ENV, marker_dir))
    startup = marker_dir / "startup.txt"
    startup.write_text(text)
    script = marker_dir / "startup.sh"
    script.write_text(text)
    cwd = os.getcwd()
    try:
        os.chdir(marker_dir)
        check(lambda: resolve_startup(["startup.txt"], marker_dir, ENV))
        check(lambda: resolve_startup(["startup.sh"], marker_dir, ENV))
        check(lambda: resolve_startup(text.split(" "), marker_dir, ENV))
    finally:
        os.chdir(cwd)
    assert not marker.exists(), f"parsing {text!r} ran something"


def test_marker_command_would_create_the_marker_if_run(tmp_path: Path) -> None:
    """The marker commands are real: run through the shell, they create the file."""
    marker = tmp_path / "ran"
    command = resolve_startup([f"touch {marker}"], tmp_path, ENV)
    assert command is not None and command.kind == "shell"
    assert os.spawnv(os.P_WAIT, "/bin/sh", command.shell_argv()) == 0
    assert marker.exists()
