"""The shell's parameter expansion, for a gunicorn command the launcher runs itself: what
``sh`` would make of ``$NAME``, ``${NAME}``, ``${NAME:-default}`` (and ``-``, ``=``, ``+``,
``?`` with or without the colon) and a leading ``~`` in its words."""

import re
import shlex
from collections.abc import Mapping, MutableMapping

VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    # A default (or alternative) made of plain characters: one with quotes or expansions
    # of its own is not matched, and the text is then left to the shell (supervised).
    r"(?:(?P<op>:?[-=+?])(?P<word>[^}$`\\'\"]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class UnsetVariable(Exception):
    """``$NAME`` in a command whose value is not in the environment (``args``: the name,
    what ``${NAME:?message}`` says or "", and whether it is set but empty)."""


def value(match: re.Match[str], env: MutableMapping[str, str]) -> str:
    """What ``sh`` puts in place of a ``VAR_RE`` match (``UnsetVariable`` where it would
    fail, or where the variable is unset and there is no default: never a silent empty
    string); ``${NAME:=word}`` also sets it in ``env``, for the words after it."""
    name = match.group("braced") or match.group("plain")
    op, word, current = match.group("op"), match.group("word") or "", env.get(name)
    # With a colon, an empty value counts as unset.
    unset = current is None or (op is not None and op.startswith(":") and not current)
    if op is None or op.endswith("?"):
        if unset:
            raise UnsetVariable(name, word.strip(), current == "")
        return str(current)
    if op.endswith("+"):
        return "" if unset else word
    if unset and op.endswith("="):
        env[name] = word
    return word if unset else str(current)


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Expand variables as a shell would, except inside single quotes, and a word's
    leading ``~`` to ``$HOME``.

    A value is inserted as one word (quoted), never re-read as shell syntax.  An empty
    alternative (``${DEV:+--reload}``) outside quotes is no word, as in ``sh``; another
    empty value stays an empty word, so that an option never takes the next word for its
    value (``--name $EMPTY app:app``).
    """
    env = dict(env)  # ${NAME:=word} sets it for the rest of the command only
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'":
            out.append(text[index : index + 2])
            index += 2
            continue
        if char in "'\"" and quote in (None, char):
            quote = None if quote == char else char
        elif char == "$" and quote != "'":
            match = VAR_RE.match(text, index)
            if match:
                found = value(match, env)
                if quote is None:
                    dropped = not found and (match.group("op") or "").endswith("+")
                    out.append("" if dropped else shlex.quote(found))
                else:
                    out.append(re.sub(r'(["\\$`])', r"\\\1", found))
                index = match.end()
                continue
        elif char == "~" and quote is None and _home_at(text, index) and "HOME" in env:
            out.append(shlex.quote(env["HOME"]))
            index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _home_at(text: str, index: int) -> bool:
    """A ``~`` at ``index`` that ``sh`` replaces by the home folder: a word's first
    character, followed by ``/`` or the word's end (not ``~user``)."""
    starts = index == 0 or text[index - 1] in " \t\n"
    ends = index + 1 == len(text) or text[index + 1] in "/ \t\n"
    return starts and ends
