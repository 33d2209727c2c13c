"""The shell's parameter expansion, for a gunicorn command the launcher runs itself: what
``sh`` would make of ``$NAME`` and ``${NAME}`` in its words."""

import re
import shlex
from collections.abc import Mapping

VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class UnsetVariable(Exception):
    """``$NAME`` in a command whose value is not in the environment."""


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$VAR`` and ``${VAR}`` as a shell would, except inside single quotes.

    A value is inserted as one word (quoted), never re-read as shell syntax; an unset
    variable raises ``UnsetVariable`` rather than becoming a silent empty string.
    """
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
                name = match.group("braced") or match.group("plain")
                if name not in env:
                    raise UnsetVariable(name)
                value = env[name]
                if quote is None:
                    out.append(shlex.quote(value))
                else:
                    out.append(re.sub(r'(["\\$`])', r"\\\1", value))
                index = match.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)
