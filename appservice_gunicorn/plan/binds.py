"""The addresses gunicorn will listen on: one it could not use stops the start with one
line (gunicorn would raise from deep in its socket code), one the platform's requests
would not reach is a note."""

import os
import re
from collections.abc import Mapping

from appservice_gunicorn.base import environment
from appservice_gunicorn.base.errors import LaunchError

MAX_PORT = 65535


def unusable(bind: str) -> str | None:
    """Why gunicorn could not listen on ``bind`` (read as gunicorn reads it), or None."""
    if re.match(r"unix:", bind):
        return None
    if bind.startswith("fd://"):
        fd = bind[5:]
        if not fd.isdigit():
            return f"{fd!r} is not a file descriptor number; write fd://N"
        try:
            os.fstat(int(fd))
        except OSError:
            return (
                f"file descriptor {fd} is not open in the launcher; pass the socket "
                "to the launcher (systemd's socket activation, a supervisor) or bind an address"
            )
        return None
    address = bind.removeprefix("tcp://")
    if re.fullmatch(r"-?\d+", address):
        return f"a port alone is not an address; write 0.0.0.0:{address.lstrip('-')}"
    port = address.rpartition("]")[2] if address.startswith("[") else address
    _, colon, digits = port.rpartition(":")
    if not colon or not digits:
        return None  # gunicorn's default port
    try:
        number = int(digits)
    except ValueError:
        return f"{digits!r} is not a port number; write HOST:PORT"
    if not 0 <= number <= MAX_PORT:
        return f"port {number} is out of range (0-{MAX_PORT}); bind 0.0.0.0:$PORT"
    return None


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def check(value: object, source: str | None, env: Mapping[str, str]) -> list[str]:
    """``LaunchError`` for a bind gunicorn could not use; else notes for a bind of the
    user's that the platform's requests would not reach: on another port than the one the
    platform names (``PORT``, ``WEBSITES_PORT``), or, on App Service, on 127.0.0.1 only
    (it may be meant: a proxy in the same container)."""
    binds = [str(b) for b in value or []] if isinstance(value, list) else []
    for bind in binds:
        problem = unusable(bind)
        if problem is not None:
            raise LaunchError(f"bind {bind!r} (from {source}): {problem}")
    addresses = [found for bind in binds if (found := environment.split_bind(bind))]
    notes: list[str] = []
    if source == "launcher" or not addresses:
        return notes
    hosts, ports = [host for host, _ in addresses], [port for _, port in addresses]
    told = ", ".join(binds)
    if any(env.get(name, "").strip() for name in ("PORT", "WEBSITES_PORT")):
        wanted = environment.port(env)
        if int(wanted) not in ports:
            notes.append(
                f"bind {told} (from {source}) does not listen on port {wanted}, where requests "
                "come ($PORT): bind 0.0.0.0:$PORT, or leave the bind out (the launcher's is "
                "0.0.0.0:$PORT)"
            )
    if environment.on_app_service(env) and all(host in _LOOPBACK for host in hosts):
        notes.append(
            f"bind {told} (from {source}) listens on the loopback only, which App Service's "
            "requests do not reach: bind 0.0.0.0:$PORT"
        )
    return notes
