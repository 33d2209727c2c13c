"""The little shell grammar the launcher needs, and nothing more.

``split_list`` cuts a command list at its top-level operators (``&&``, ``||``, ``;``, new
lines, ``|``, ``&``) so that the startup command can be run as pre-start steps and a final
gunicorn command.  Anything it does not follow with certainty (here-documents, subshells,
groups, command substitution, compound commands, functions) makes it answer ``None``:
such text is left to ``/bin/sh`` whole, as a supervised command.
"""

import os
import re
import shlex
import shutil
from typing import NamedTuple

OPERATORS = ("&&", "||", ";", "\n", "|", "&")
# Reserved words that open or close compound commands: their bodies hold operators too.
RESERVED = frozenset(
    "! { } [[ ]] case do done elif else esac fi for function if in select then until while".split()  # noqa: SIM905
)
SHELL_OPERATORS = frozenset("|&;<>()")
# Builtins whose effect (on the shell itself) would be lost between two steps: a list
# that uses one is supervised whole.  ``set -e`` is understood (it makes ';' stop).
STATEFUL = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        ". alias bg cd command declare eval exit export fg getopts hash jobs local read "
        "readonly return set shift source trap typeset ulimit umask unalias unset wait"
    ).split()
)
ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
ERREXIT_RE = re.compile(r"-[ux]*e[eux]*")


class Piece(NamedTuple):
    """One command of a list: its text (stripped) and the operator after it ("" at the end)."""

    text: str
    op: str


def join_continuations(text: str) -> str:
    """``text`` with each backslash-newline removed, as the shell reads it (a line ending
    in ``\\`` continues on the next), except inside single quotes, where it stays, and in
    a comment, which ends at its line's end whatever it holds (``# it's``)."""
    if "\\\n" not in text and "\\\r\n" not in text:
        return text
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\":
            following = text[index + 1 : index + 3]
            if following.startswith("\n") or following == "\r\n":
                index += 2 if following.startswith("\n") else 3
                continue
            out.append(text[index : index + 2])
            index += 2
            continue
        elif char == "#" and quote is None and (not out or out[-1] in _WORD_BREAKS):
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
            out.append(text[index:end])
            index = end
            continue
        elif char in "'\"" and quote is None:
            quote = char
        elif char == quote:
            quote = None
        out.append(char)
        index += 1
    return "".join(out)


# A '#' after one of these starts a comment; inside a word it is a plain character.
_WORD_BREAKS = frozenset(" \t\n\r;&|()<>")


def split_list(text: str) -> list[Piece] | None:
    """The top-level commands of ``text``, or None where the grammar is beyond this reader."""
    pieces: list[Piece] = []
    quote: str | None = None
    start = index = 0
    word_start = True
    while index < len(text):
        char = text[index]
        if quote == "'":
            quote = None if char == "'" else quote
            index += 1
            continue
        if quote == '"':
            if char == "\\":
                index += 2
                continue
            if char == "`" or text.startswith("$(", index):
                return None
            quote = None if char == '"' else quote
            index += 1
            continue
        if char == "\\":
            index += 2
            word_start = False
            continue
        if char in "'\"":
            quote = char
        elif char == "`" or char in "()" or text.startswith("$(", index):
            return None
        elif text.startswith("<<", index) or text.startswith("&>", index):
            return None  # here-documents; bash's &> (a background job to dash)
        elif char == "#" and word_start:
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        elif char == "&" and index > 0 and text[index - 1] in "<>":
            pass  # 2>&1: a redirection, not a background job
        else:
            op = next((op for op in OPERATORS if text.startswith(op, index)), None)
            if op is not None:
                if text.startswith(";;", index) or text.startswith("|&", index):
                    return None
                command = text[start:index].strip()
                if words_of(command):  # a comment alone is no command
                    pieces.append(Piece(command, op))
                elif op != "\n":
                    return None  # an operator with no command before it
                index += len(op)
                start = index
                word_start = True
                continue
        word_start = char.isspace()
        index += 1
    if quote is not None:
        return None
    last = text[start:].strip()
    if words_of(last):
        pieces.append(Piece(last, ""))
    elif pieces and pieces[-1].op in ("&&", "||", "|"):
        return None  # a dangling operator: the shell's syntax error, not ours to guess
    elif pieces and pieces[-1].op in (";", "\n"):
        pieces[-1] = pieces[-1]._replace(op="")
    for piece in pieces:
        words = words_of(piece.text)
        if words is None or (words and words[0] in RESERVED):
            return None
    return pieces


def words_of(text: str) -> list[str] | None:
    """``text`` split as the shell would split a simple command (None if it cannot)."""
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return None


def has_syntax(text: str) -> bool:
    """Whether ``text`` uses the shell beyond words: operators, substitution, redirection."""
    if "`" in text or "$(" in text:
        return True
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:
        return False
    return any(token and set(token) <= SHELL_OPERATORS for token in tokens)


class Step(NamedTuple):
    """A pre-start step: shell text run as a supervised child before gunicorn starts."""

    command: str
    stop_on_failure: bool  # joined by '&&' (or under 'set -e'), not by ';' or a new line
    # The shell that runs it (a script's own '#!' line), else /bin/sh.
    shell: tuple[str, ...] = ()
    errexit: bool = False  # it stops the start because of 'set -e', not of '&&'
    script: str = ""  # the script it comes from: its $0, as when the script runs
    # What it exports reaches the app (PRE_RUN_COMMAND, pasted into App Service's script).
    exports: bool = False


class Refusal(NamedTuple):
    """Why a command list is not split into steps: the command (its text) and the reason."""

    command: str
    why: str


GRAMMAR = "is shell grammar the launcher does not split"
STATE = "changes the shell's state for the commands after it"


def split_steps(text: str, *, errexit: bool = False) -> tuple[tuple[Step, ...], str] | None:
    """(pre-start steps, final command) of a command list, or None if it cannot be split.

    ``a; b && c && final``: ``a`` runs whatever happens (``;``, a new line), ``b`` and
    ``c`` stop the start when they fail (``&&``); ``set -e`` makes every step stop it.
    """
    found = steps_or_refusal(text, errexit=errexit)
    return None if isinstance(found, Refusal) else found


def steps_or_refusal(text: str, *, errexit: bool = False) -> tuple[tuple[Step, ...], str] | Refusal:
    """``split_steps``, saying why when the list cannot be split."""
    pieces = split_list(text)
    if not pieces:
        return Refusal("", GRAMMAR)
    background = next((piece for piece in pieces if piece.op == "&"), None)
    if background is not None:  # only a supervised shell can own a background job
        return Refusal(background.text, "runs in the background, which only a shell can own")
    items: list[list[Piece]] = [[]]
    for piece in pieces:
        items[-1].append(piece)
        if piece.op in (";", "\n"):
            items.append([])
    if not items[-1]:
        items.pop()
    *before, last = items
    if len(last) > 1 and last[-2].op != "&&":
        return Refusal(last[-1].text, "ends a pipeline or an '||', which only a shell can run")
    steps: list[Step] = []
    for item in before:
        words = words_of(item[0].text) or []
        if len(item) == 1 and words[:1] == ["set"]:
            if not sets_errexit(words[1:]):
                return Refusal(item[0].text, STATE)
            errexit = True
            continue
        if refusal := _stateful_piece(item):
            return refusal
        steps.append(Step(_joined(item), errexit, errexit=errexit))
    if refusal := _stateful_piece(last):
        return refusal
    if any(piece.op == "||" for piece in last):
        # 'a || b && final' is '(a || b) && final': one step.
        steps.append(Step(_joined(last[:-1]), True))
    else:
        # 'a | b && c && final': each pipeline is a step of its own.
        pipeline: list[Piece] = []
        for piece in last[:-1]:
            pipeline.append(piece)
            if piece.op == "&&":
                steps.append(Step(_joined(pipeline), True))
                pipeline = []
    final = last[-1].text
    if (words_of(final) or [])[:1] == ["exec"]:
        final = final.split("exec", 1)[1].strip()
    return tuple(steps), final


def _joined(pieces: list[Piece]) -> str:
    """The pieces as one command, without the operator after the last one."""
    return " ".join([*(f"{p.text} {p.op}" for p in pieces[:-1]), pieces[-1].text])


def _stateful_piece(pieces: list[Piece]) -> Refusal | None:
    """The first piece that only the shell running the whole list can run, and why."""
    for piece in pieces:
        words = words_of(piece.text) or []
        if not words:
            return Refusal(piece.text, GRAMMAR)
        if words[0] in STATEFUL or (len(words) == 1 and ASSIGNMENT_RE.match(words[0])):
            return Refusal(piece.text, STATE)
    return None


def sets_errexit(options: list[str]) -> bool:
    """``set OPTIONS`` that turns on errexit and nothing that changes a step's meaning."""
    return options == ["-o", "errexit"] or (
        bool(options) and all(ERREXIT_RE.fullmatch(option) for option in options)
    )


def interpreter(script: str) -> tuple[str, ...]:
    """The program a script's ``#!`` line names, with its one argument, as the kernel runs it
    (``#!/usr/bin/env bash``: env, then bash); none when it has no such line or the program
    is not on this machine (the script then runs with /bin/sh, as before)."""
    first = script.split("\n", 1)[0].rstrip("\r")
    if not first.startswith("#!"):
        return ()
    program, _, argument = first[2:].strip().partition(" ")
    argument = argument.strip()
    if not _runnable(program):
        return ()
    if os.path.basename(program) == "env":
        # env runs the program it names: that one must be here too.
        named = next((word for word in argument.split() if not word.startswith("-")), "")
        if not named or not _runnable(shutil.which(named) or ""):
            return ()
    return (program, argument) if argument else (program,)


def _runnable(program: str) -> bool:
    return os.path.isabs(program) and os.path.isfile(program) and os.access(program, os.X_OK)


def shebang_errexit(script: str) -> bool:
    """A script whose ``#!`` line passes ``-e`` to its shell."""
    first = script.lstrip("\ufeff").split("\n", 1)[0]
    return first.startswith("#!") and any(
        ERREXIT_RE.fullmatch(word) for word in first[2:].split()[1:]
    )
