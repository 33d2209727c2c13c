"""The startup-command reader and classifier: quoting, $VAR, files, empty input, garbage."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.startup import shell
from appservice_gunicorn.startup.command import StartupError, classify, resolve_startup
from appservice_gunicorn.startup.shell import Step, split_steps
from appservice_gunicorn.startup.startup_file import read_startup_file
from tests.helpers import write

ENV = {"PORT": "8123", "HOME": "/home/site"}


def test_no_words_means_no_command(tmp_path: Path) -> None:
    assert resolve_startup([], tmp_path, ENV) is None
    assert resolve_startup([""], tmp_path, ENV) is None


def test_gunicorn_command_is_parsed_with_gunicorns_parser(tmp_path: Path) -> None:
    command = classify("gunicorn --bind=0.0.0.0 --timeout 600 --workers=4 hello:myapp", "x", ENV)
    assert command.kind == "gunicorn"
    assert command.app == "hello:myapp"
    assert command.settings == {"bind": ["0.0.0.0"], "timeout": 600, "workers": 4}


@pytest.mark.parametrize(
    "text",
    [
        "gunicorn -w 4 hello:myapp",
        "python -m gunicorn -w 4 hello:myapp",
        "python3.11 -m gunicorn -w 4 hello:myapp",
        "/usr/local/bin/gunicorn -w 4 hello:myapp",
        "-w 4 hello:myapp",
        "--workers=4 hello:myapp",
    ],
)
def test_gunicorn_invocations_and_bare_arguments(text: str) -> None:
    command = classify(text, "x", ENV)
    assert (command.kind, command.app, command.settings) == (
        "gunicorn",
        "hello:myapp",
        {"workers": 4},
    )


def test_a_bare_app_module_is_a_gunicorn_argument() -> None:
    assert classify("hello:myapp", "x", ENV).app == "hello:myapp"
    assert classify("mysite.wsgi", "x", ENV).app == "mysite.wsgi"


def test_quoting_keeps_words_together() -> None:
    command = classify("gunicorn --access-logformat '%(h)s %(r)s' 'hello:create_app()'", "x", ENV)
    assert command.settings["access_log_format"] == "%(h)s %(r)s"
    assert command.app == "hello:create_app()"


def test_variables_are_expanded_from_the_environment(tmp_path: Path) -> None:
    env = {**ENV, "SITE": str(tmp_path)}
    command = classify("gunicorn --bind=0.0.0.0:$PORT --chdir ${SITE} hello:app", "x", env)
    assert command.settings["bind"] == ["0.0.0.0:8123"]
    assert command.settings["chdir"] == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "env", "setting", "value"),
    [
        # A default, as App Service users write it for a local run.
        ("--bind 0.0.0.0:${PORT:-8000}", {}, "bind", ["0.0.0.0:8000"]),
        ("--bind 0.0.0.0:${PORT:-8000}", {"PORT": "9000"}, "bind", ["0.0.0.0:9000"]),
        ("--bind 0.0.0.0:${PORT:-8000}", {"PORT": ""}, "bind", ["0.0.0.0:8000"]),
        ("--bind 0.0.0.0:${PORT-8000}", {"PORT": "1"}, "bind", ["0.0.0.0:1"]),
        ("--workers ${WORKERS:-4}", {}, "workers", 4),
        ("--workers ${WORKERS:=3}", {}, "workers", 3),
        ('--workers "${WORKERS:-2}"', {}, "workers", 2),
        # Set, then the alternative; unset, the word is gone as in sh.
        ("${DEV:+--reload} --workers 2", {"DEV": "1"}, "reload", True),
        ("${DEV:+--reload} --workers 2", {}, "workers", 2),
        # A home folder's file, as sh gives it.
        (
            "--log-config ~/logging.conf",
            {"HOME": "/home/site"},
            "logconfig",
            "/home/site/logging.conf",
        ),
        ("--log-config '~/logging.conf'", {"HOME": "/home/site"}, "logconfig", "~/logging.conf"),
    ],
)
def test_the_shells_expansions_of_a_gunicorn_command(
    text: str, env: dict[str, str], setting: str, value: object
) -> None:
    """${PORT:-8000} was refused ("'-8000}' is not a port number"), and ~ went to gunicorn
    as a folder named '~'."""
    command = classify(f"gunicorn {text} hello:app", "x", env)
    assert command.kind == "gunicorn" and command.app == "hello:app"
    assert command.settings[setting] == value


def test_a_required_variable_that_is_not_set_is_named() -> None:
    with pytest.raises(StartupError, match=r"\$PORT is not set in the environment \(set it\)"):
        classify("gunicorn --bind 0.0.0.0:${PORT:?set it} hello:app", "x", {})
    with pytest.raises(StartupError, match=r"\$PORT is empty; set it"):
        classify("gunicorn --bind 0.0.0.0:${PORT:?} hello:app", "x", {"PORT": ""})


def test_an_empty_value_stays_a_word_so_options_keep_their_values() -> None:
    """`--name $EMPTY mymod:application` made --name take the app, and the launcher then
    served another app of the folder."""
    command = classify("gunicorn --name $EMPTY mymod:application", "x", {"EMPTY": ""})
    assert (command.app, command.settings["proc_name"]) == ("mymod:application", "")


def test_an_assigned_default_is_the_value_for_the_words_after_it() -> None:
    command = classify("gunicorn --bind ${B:=127.0.0.1:9000} --env B=$B hello:app", "x", {})
    assert command.settings["bind"] == ["127.0.0.1:9000"]
    assert command.settings["raw_env"] == ["B=127.0.0.1:9000"]


def test_single_quotes_keep_a_dollar_literal() -> None:
    command = classify("gunicorn --access-logformat '$x' hello:app", "x", ENV)
    assert command.settings["access_log_format"] == "$x"


def test_a_chdir_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match=r"invalid value for --chdir: can't chdir"):
        classify("gunicorn --chdir nowhere hello:app", "startup.txt", ENV, tmp_path)


def test_an_unset_variable_is_an_error_naming_it() -> None:
    with pytest.raises(StartupError, match=r"\$NOPE is not set"):
        classify("gunicorn --bind=0.0.0.0:$NOPE hello:app", "startup.txt", ENV)


def test_relative_chdir_is_taken_from_the_app_folder(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    command = classify("gunicorn --chdir src hello:app", "x", ENV, tmp_path)
    assert command.settings["chdir"] == str(tmp_path / "src")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gunicorn --wrokers=4 hello:app", "unknown gunicorn option '--wrokers=4'"),
        ("gunicorn --workers=abc hello:app", "--workers"),
        ("gunicorn --timeout", "expected one argument"),
        ("gunicorn a:app b:app", "expected one app module (module:variable), found 2"),
        ("gunicorn 'hello:app", "No closing quotation"),
        ("   ", "empty"),
        ("gunicorn\0 hello:app", "NUL"),
    ],
)
def test_unusable_commands_raise_one_line(text: str, message: str) -> None:
    with pytest.raises(StartupError) as caught:
        classify(text, "startup.txt", ENV)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "python -m uvicorn main:app --host 0.0.0.0 --port $PORT",
        "gunicorn hello:app | tee log",
        "gunicorn hello:app; echo done",
        "migrate && gunicorn hello:app > log",
        "migrate && FLASK_ENV=production gunicorn hello:app",
        "migrate; python -m uvicorn main:app",
        "echo $(whoami)",
        "echo `whoami`",
        "./run.sh",
        "python3 server.py",
    ],
)
def test_other_commands_are_supervised_as_written(text: str) -> None:
    command = classify(text, "x", ENV)
    assert (command.kind, command.text, command.steps) == ("shell", text, ())
    assert command.shell_argv() == ["/bin/sh", "-c", text]


@pytest.mark.parametrize(
    ("text", "steps", "final"),
    [
        (
            "python manage.py migrate --noinput && gunicorn mysite.wsgi",
            [("python manage.py migrate --noinput", True)],
            "gunicorn mysite.wsgi",
        ),
        ("a; b && gunicorn x:y", [("a", False), ("b", True)], "gunicorn x:y"),
        ("a && b; gunicorn x:y", [("a && b", False)], "gunicorn x:y"),
        ("a || true; gunicorn x:y", [("a || true", False)], "gunicorn x:y"),
        ("a 2>&1 | tee log && gunicorn x:y", [("a 2>&1 | tee log", True)], "gunicorn x:y"),
        # Operators inside quotes are words.
        ("echo 'a && b; c' && gunicorn x:y", [("echo 'a && b; c'", True)], "gunicorn x:y"),
        (
            'echo "x;y|z" ; python -m gunicorn x:y',
            [('echo "x;y|z"', False)],
            "python -m gunicorn x:y",
        ),
        # Comments, blank lines, a new line after '&&', 'exec' before the last command.
        (
            "# prepare\nmigrate\n\ngunicorn x:y # serve",
            [("migrate", False)],
            "gunicorn x:y # serve",
        ),
        ("a &&\n  exec gunicorn x:y", [("a", True)], "gunicorn x:y"),
        # set -e makes every later step stop the start when it fails.
        (
            "a\nset -eu\nb\nc\ngunicorn x:y",
            [("a", False), ("b", True, (), True), ("c", True, (), True)],
            "gunicorn x:y",
        ),
        ("gunicorn x:y", [], "gunicorn x:y"),
    ],
)
def test_command_lists_split_into_steps_and_a_final_command(
    text: str, steps: list[tuple[str, bool] | tuple[str, bool, tuple[str, ...], bool]], final: str
) -> None:
    assert split_steps(text) == (tuple(Step(*step) for step in steps), final)


@pytest.mark.parametrize(
    "text",
    [
        "cat <<EOF\nx\nEOF\ngunicorn x:y",  # a here-document
        "(a; b) && gunicorn x:y",
        "{ a; b; } && gunicorn x:y",
        "if true; then a; fi; gunicorn x:y",
        "for x in 1 2; do a; done; gunicorn x:y",
        "echo $(date) && gunicorn x:y",
        "a & gunicorn x:y",  # a background job
        "gunicorn x:y &",
        "a && gunicorn x:y || b",
        "cd src && gunicorn x:y",  # what the shell itself remembers is lost between steps
        "export A=1; gunicorn x:y",
        "A=1; gunicorn x:y",
        "set -o pipefail; gunicorn x:y",
        "a && && gunicorn x:y",
        "a &&",
        "echo 'unclosed && gunicorn x:y",
    ],
)
def test_lists_the_splitter_cannot_follow_are_refused(text: str) -> None:
    assert split_steps(text) is None


def test_a_list_ending_in_gunicorn_is_served_in_process_after_its_steps() -> None:
    command = classify("python manage.py migrate && gunicorn -w 2 mysite.wsgi", "x", ENV)
    assert (command.kind, command.app, command.settings) == (
        "gunicorn",
        "mysite.wsgi",
        {"workers": 2},
    )
    assert command.steps == (Step("python manage.py migrate", True),)


def test_separate_words_are_an_argv_not_shell_text(tmp_path: Path) -> None:
    # What a Docker exec-form CMD passes: quoted as words, never split differently.
    command = resolve_startup(["gunicorn", "-w", "1", "app:create_app()"], tmp_path, ENV)
    assert command is not None and command.kind == "gunicorn"
    assert (command.app, command.settings) == ("app:create_app()", {"workers": 1})
    words = resolve_startup(["python", "-c", "print('a && b')"], tmp_path, ENV)
    assert words is not None and words.kind == "shell"
    assert words.text == """python -c 'print('"'"'a && b'"'"')'"""


def test_startup_file_content_is_the_command(tmp_path: Path) -> None:
    (tmp_path / "startup.txt").write_text(
        "# my command\n\ngunicorn \\\n  --workers=2 hello:myapp\n"
    )
    command = resolve_startup(["startup.txt"], tmp_path, ENV)
    assert command is not None
    assert (command.origin, command.app, command.settings) == (
        "startup.txt",
        "hello:myapp",
        {"workers": 2},
    )


def test_a_file_named_by_absolute_path_inside_the_app_folder(tmp_path: Path) -> None:
    (tmp_path / "go.cmd").write_text("gunicorn hello:myapp")
    command = resolve_startup([str(tmp_path / "go.cmd")], tmp_path, ENV)
    assert command is not None and command.app == "hello:myapp"


def test_a_multi_line_file_ending_in_gunicorn_has_pre_start_steps(tmp_path: Path) -> None:
    (tmp_path / "startup.txt").write_text("python manage.py migrate\ngunicorn mysite.wsgi\n")
    command = resolve_startup(["startup.txt"], tmp_path, ENV)
    assert command is not None and (command.kind, command.app) == ("gunicorn", "mysite.wsgi")
    assert command.steps == (Step("python manage.py migrate", False),)


def test_a_sh_file_of_plain_commands_ending_in_gunicorn_is_served_in_process(
    tmp_path: Path,
) -> None:
    (tmp_path / "startup.sh").write_text("#!/bin/sh -e\nmigrate\nexec gunicorn hello:myapp\n")
    command = resolve_startup(["startup.sh"], tmp_path, ENV)
    assert command is not None and (command.kind, command.app) == ("gunicorn", "hello:myapp")
    # -e on the #! line: a failure stops; the step's $0 is the script, as when it runs.
    script = str((tmp_path / "startup.sh").resolve())
    assert command.steps == (Step("migrate", True, errexit=True, script=script),)


def test_any_other_sh_file_is_run_as_a_supervised_script(tmp_path: Path) -> None:
    script = "#!/bin/sh\ncd src\nexec gunicorn hello:myapp\n"
    # Saved by an editor that writes a BOM: the shell must not see it.
    (tmp_path / "startup.sh").write_bytes(b"\xef\xbb\xbf" + script.encode())
    command = resolve_startup(["startup.sh"], tmp_path, ENV)
    assert command is not None and command.kind == "script"
    path = str((tmp_path / "startup.sh").resolve())
    assert command.shell_argv() == ["/bin/sh", "-c", script, path]


@pytest.mark.parametrize(
    ("setup", "word", "message"),
    [
        (lambda p: None, "startup.txt", "not found in the app folder"),
        (lambda p: (p / "startup.txt").write_text(""), "startup.txt", "is empty"),
        (lambda p: (p / "startup.txt").write_text("# only\n#comments\n"), "startup.txt", "empty"),
        (lambda p: (p / "startup.txt").write_bytes(b"\x7fELF\0\0"), "startup.txt", "binary"),
        (
            lambda p: (p / "startup.txt").write_bytes(b"gunicorn \xff\xfe"),
            "startup.txt",
            "not UTF-8",
        ),
        (lambda p: (p / "startup.txt").mkdir(), "startup.txt", "is a directory"),
        (lambda p: None, "../startup.txt", "'..' leaves the app folder"),
        (lambda p: None, "/etc/passwd", "outside the app folder"),
        (
            lambda p: (p / "startup.txt").symlink_to("/etc/hostname"),
            "startup.txt",
            "symlink that points outside the app folder",
        ),
    ],
)
def test_bad_startup_files_are_reported(
    tmp_path: Path, setup: object, word: str, message: str
) -> None:
    assert callable(setup)
    setup(tmp_path)
    with pytest.raises(StartupError) as caught:
        resolve_startup([word], tmp_path, ENV)
    text = str(caught.value)
    assert message in text
    assert word.split("/")[-1] in text or word in text
    assert "\n" not in text


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    (tmp_path / "startup.txt").write_bytes(b"#" * (2 * 1024 * 1024))
    with pytest.raises(StartupError, match="larger than"):
        resolve_startup(["startup.txt"], tmp_path, ENV)


def test_classifying_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for text in (f"touch {marker}", f"gunicorn $(touch {marker}) hello:app", f"`touch {marker}`"):
        classify(text, "x", ENV)
    assert not marker.exists()
    assert os.listdir(tmp_path) == []


def test_a_refused_env_value_does_not_taint_the_next_command() -> None:
    # gunicorn's validating Config is shared within a process: a bad -e must not stick.
    with pytest.raises(StartupError, match="--env"):
        classify("gunicorn -e NOEQUALS hello:app", "startup.txt", ENV)
    assert classify("gunicorn -w 2 hello:app", "startup.txt", ENV).settings == {"workers": 2}


@pytest.mark.parametrize("flag", ["-h", "--help", "-v", "--version"])
def test_help_and_version_flags_are_refused_not_obeyed(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StartupError, match="only print; remove them"):
        classify(f"gunicorn {flag} hello:app", "startup.txt", ENV)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("name", ["startup.sh", "startup.txt", None])
def test_backslash_newline_continues_the_line(tmp_path: Path, name: str | None) -> None:
    """As App Service's Azure samples write startup.sh (bicep appCommandLine)."""
    text = (
        "python manage.py migrate && \\\n"
        "gunicorn --workers 2 --threads 4 --timeout 60 --access-logfile \\\n"
        "    '-' --error-logfile '-' --bind=0.0.0.0:8000 \\\n"
        "     azureproject.wsgi\n"
    )
    if name is None:
        command = resolve_startup([text], tmp_path, {})
    else:
        (tmp_path / name).write_text(text)
        command = resolve_startup([name], tmp_path, {})
    assert command is not None and command.kind == "gunicorn"
    assert command.app == "azureproject.wsgi"
    assert [step.command for step in command.steps] == ["python manage.py migrate"]
    assert command.settings["threads"] == 4 and command.settings["accesslog"] == "-"


def test_a_backslash_newline_inside_single_quotes_stays() -> None:
    assert shell.join_continuations("echo 'a\\\nb' \\\n c") == "echo 'a\\\nb'  c"
    assert shell.join_continuations('echo "it\'s \\\n" x') == 'echo "it\'s " x'


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        # A quote in a comment opens nothing.
        ("# it's\necho one \\\n  two", "# it's\necho one   two"),
        ("echo one;# it's\necho two \\\n three", "echo one;# it's\necho two  three"),
        # A '#' inside a word is a character; a comment ends at its line, backslash or not.
        ("echo a#b 'c' \\\n d", "echo a#b 'c'  d"),
        ("echo one # it ends \\\necho two", "echo one # it ends \\\necho two"),
        ('echo "# not a comment \\\n" three', 'echo "# not a comment " three'),
    ],
)
def test_continuations_are_joined_as_the_shell_joins_them(text: str, joined: str) -> None:
    assert shell.join_continuations(text) == joined
    run = [
        subprocess.run(["/bin/sh", "-c", t], capture_output=True, text=True) for t in (text, joined)
    ]
    assert run[0].returncode == 0 and run[0].stdout == run[1].stdout, run


def test_a_quote_in_a_comment_keeps_the_steps_and_the_app(tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": "def app(environ, start_response):\n    return []\n"})
    (tmp_path / "startup.sh").write_text(
        "#!/bin/sh\n# startup.sh isn't run by App Service\nflask db upgrade\n"
        "gunicorn --workers 2 \\\n  hello:app\n"
    )
    command = resolve_startup(["startup.sh"], tmp_path, {})
    assert command is not None and (command.kind, command.app) == ("gunicorn", "hello:app")
    assert [step.command for step in command.steps] == ["flask db upgrade"]


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ("#!/bin/sh", ("/bin/sh",)),
        ("#! /bin/sh -e", ("/bin/sh", "-e")),
        ("#!/bin/sh\r", ("/bin/sh",)),
        ("#!/usr/bin/env sh", ("/usr/bin/env", "sh")),
        # Not a program that can run here: the script runs with /bin/sh, as before.
        ("#!/usr", ()),  # a folder (found in review: the launcher crashed on it)
        ("#!/usr/bin/env no-such-shell-xyz", ()),
        ("#!/no/such/shell", ()),
        ("#!bash", ()),
        ("echo no shebang", ()),
    ],
)
def test_a_scripts_interpreter_is_one_that_can_run_here(
    first_line: str, expected: tuple[str, ...]
) -> None:
    assert shell.interpreter(first_line + "\necho hi\n") == expected


def test_a_program_that_cannot_be_started_is_a_status_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from appservice_gunicorn.supervise import supervisor

    missing = supervisor.run([str(tmp_path / "missing")], {}, tmp_path, grace_seconds=1)
    folder = supervisor.run([str(tmp_path)], {}, tmp_path, grace_seconds=1)
    assert (missing.status, folder.status) == (127, 126)
    assert f"{tmp_path / 'missing'} cannot be run: No such file or directory" in caplog.text


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"#!/bin/sh\r\ncd /app\r\nexit 7\r\n", "#!/bin/sh\ncd /app\nexit 7\n"),
        # Not saved with Windows line endings: a CR LF inside quotes is the script's own.
        (b"printf 'a\r\nb'\nexit 7\n", "printf 'a\r\nb'\nexit 7\n"),
    ],
    ids=["windows", "cr-lf-in-quotes"],
)
def test_a_script_saved_with_windows_line_endings_is_read_with_unix_ones(
    tmp_path: Path, data: bytes, text: str
) -> None:
    (tmp_path / "startup.sh").write_bytes(data)
    assert read_startup_file(tmp_path / "startup.sh", "startup.sh") == text


def test_a_startup_file_no_command_names_is_a_note(tmp_path: Path) -> None:
    """microsoft/python-sample-vscode-flask-tutorial deploys startup.txt; App Service runs it
    only when its Startup Command names it, and so does the launcher: it says so."""
    write(tmp_path, {"startup.txt": "gunicorn hello:myapp\n", "hello.py": "myapp = None\n"})
    notes = detect(tmp_path, env=ENV).notes
    assert any(
        "startup.txt is in the app folder but no startup command names it, so it is not run" in note
        and "here: python -m appservice_gunicorn startup.txt" in note
        for note in notes
    ), notes
    assert not any("startup.txt" in n for n in detect(tmp_path, "startup.txt", ENV).notes)
    # A Procfile that runs it (or anything else) is the command: nothing to say.
    write(tmp_path, {"Procfile": "web: sh startup.txt\n"})
    assert not any("startup.txt" in n for n in detect(tmp_path, env=ENV).notes)


@pytest.mark.parametrize(
    "command",
    [
        "quartapp:create_app()",
        "gunicorn quartapp:create_app()",
        "--workers=1 quartapp:create_app()",
    ],
)
def test_an_unquoted_factory_call_is_named_with_the_quotes_it_needs(
    tmp_path: Path, command: str
) -> None:
    """Azure's openai-chat-app-quickstart: sh refused the parentheses ("Bad function name")."""
    write(tmp_path, {"quartapp.py": "def create_app():\n    pass\n"})
    found = detect(tmp_path, command, ENV)
    assert found.kind == "command"
    assert found.notes[0] == (
        "startup command: quartapp:create_app() is read by the shell, for which parentheses "
        "are grammar: quote it (gunicorn 'quartapp:create_app()') to have gunicorn call the "
        "factory"
    )
    quoted = detect(tmp_path, "gunicorn 'quartapp:create_app()'", ENV)
    assert (quoted.kind, quoted.app, quoted.notes) == ("wsgi", "quartapp:create_app()", ())


@pytest.mark.parametrize(
    "command",
    ["echo 'serving app:main()' && gunicorn app:app", 'echo "app:main()"', "true # app:main()"],
)
def test_a_factory_call_in_quotes_or_a_comment_is_no_note(tmp_path: Path, command: str) -> None:
    from appservice_gunicorn.startup.command import unquoted_calls

    assert unquoted_calls(command, "startup command") == []


@pytest.mark.parametrize("startup", ["startup.sh prod", "./startup.sh prod"])
def test_a_script_of_the_app_folder_with_arguments_runs_as_app_service_runs_it(
    tmp_path: Path, startup: str
) -> None:
    """``startup.sh prod`` was read as gunicorn's arguments: "expected one app module,
    found 2", and the app-file rule served something else."""
    write(tmp_path, {"startup.sh": "#!/bin/sh\necho $1\n", "app.py": "app = None\n"})
    found = detect(tmp_path, startup, {"PATH": "/usr/bin:/bin"})
    assert (found.rule, found.kind) == ("startup", "command")
    # Without its execute bit, its own shell runs it, with the same arguments.
    assert found.command == f"/bin/sh {tmp_path / 'startup.sh'} prod"
    (tmp_path / "startup.sh").chmod(0o755)
    assert detect(tmp_path, startup, {"PATH": "/usr/bin:/bin"}).command == startup


def test_gunicorns_arguments_without_the_program_still_name_an_app_module(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"hello.py": "myapp = None\n"})
    found = detect(tmp_path, "--workers=4 hello:myapp", {"PATH": "/usr/bin:/bin"})
    assert (found.rule, found.app) == ("startup", "hello:myapp")


def test_a_rejected_command_says_which_steps_will_not_run(tmp_path: Path) -> None:
    text = "python manage.py migrate && python manage.py collectstatic && gunicorn -w abc app:app"
    detection = detect(tmp_path, text, ENV)
    assert detection.startup_error is not None
    assert detection.startup_error.endswith(
        ". The pre-start steps before it will not run either: python manage.py migrate; "
        "python manage.py collectstatic"
    ), detection.startup_error


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("cd sub\ngunicorn app:app\n", "line 2: 'cd sub' changes the shell's state"),
        (
            "celery -A proj worker &\ngunicorn app:app\n",
            "line 2: 'celery -A proj worker' runs in the background",
        ),
        ("set -e\nFOO=1\ngunicorn app:app\n", "line 3: 'FOO=1' changes the shell's state"),
        (
            "export X=1\ngunicorn app:app\n# export X=1 was needed\n",
            "line 2: 'export X=1' changes the shell's state",
        ),
        (
            "python manage.py migrate\nuvicorn main:app --port $PORT\n",
            "line 3: 'uvicorn main:app --port $PORT' is the command left running, and it is "
            "not gunicorn",
        ),
        (
            "python manage.py migrate || gunicorn app:app\n",
            "line 2: 'gunicorn app:app' ends a pipeline or an '||', which only a shell can run",
        ),
        (
            "gunicorn app:app | tee -a /home/LogFiles/app.log\n",
            "line 2: 'tee -a /home/LogFiles/app.log' ends a pipeline or an '||'",
        ),
        (
            "for i in 1 2; do echo $i; done\ngunicorn app:app\n",
            "line 2: 'for i in 1 2; do echo $i; done' is shell grammar the launcher does not split",
        ),
    ],
)
def test_a_supervised_script_says_which_line_makes_it_supervised(
    tmp_path: Path, script: str, why: str
) -> None:
    write(tmp_path, {"startup.sh": "#!/bin/sh\n" + script})
    detection = detect(tmp_path, "startup.sh", ENV)
    assert detection.kind == "command"
    matched = next(rule for rule in detection.rules if rule.matched)
    assert matched.reason.startswith(f"startup.sh: runs as a supervised shell script ({why}")
