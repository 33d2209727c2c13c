"""Small helpers that keep every message the launcher prints on one readable line."""

MAX_MESSAGE = 500
# What str.splitlines() splits on.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line (line breaks escaped) and at most ``limit`` characters."""
    message = "".join(repr(ch)[1:-1] if ch in LINE_BREAKS else ch for ch in message)
    if len(message) > limit:
        message = message[: limit - 4] + " ..."
    return message


def show(value: str, limit: int = 60) -> str:
    """A user-supplied value for a message: quoted, escaped, shortened."""
    if len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value)} characters)"
    return repr(value)
