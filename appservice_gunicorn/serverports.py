"""Where a supervised server will listen, read from its command line (never run): a warning
when the requests App Service sends to ``$PORT`` would find nothing there, because the
server keeps its own default port (uvicorn's 8000, Flask's 5000) or listens on 127.0.0.1.
"""

import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from . import shell


class Server(NamedTuple):
    name: str
    port: str  # where it listens unless told
    loopback: bool  # on 127.0.0.1 unless told
    port_options: tuple[str, ...] = ()
    host_options: tuple[str, ...] = ()
    address_options: tuple[str, ...] = ()  # host:port
    socket_options: tuple[str, ...] = ()  # a Unix socket or an inherited descriptor instead
    port_variables: tuple[str, ...] = ()  # read from the environment when no option says
    host_variables: tuple[str, ...] = ()
    port_fix: str = "add --port $PORT"
    host_fix: str = "add --host 0.0.0.0"


SERVERS: Mapping[str, Server] = {
    "uvicorn": Server(
        "uvicorn",
        "8000",
        True,
        port_options=("--port",),
        host_options=("--host",),
        socket_options=("--fd", "--uds"),
        port_variables=("UVICORN_PORT", "UVICORN_FD", "UVICORN_UDS"),
        host_variables=("UVICORN_HOST",),
    ),
    "hypercorn": Server(
        "hypercorn",
        "8000",
        True,
        address_options=("--bind", "-b", "--insecure-bind"),
        port_fix="add --bind 0.0.0.0:$PORT",
        host_fix="add --bind 0.0.0.0:$PORT",
    ),
    "daphne": Server(
        "daphne",
        "8000",
        True,
        port_options=("--port", "-p"),
        host_options=("--bind", "-b"),
        socket_options=("--unix-socket", "-u", "--fd", "--endpoint", "-e"),
        host_fix="add --bind 0.0.0.0",
    ),
    "waitress-serve": Server(
        "waitress-serve",
        "8080",
        False,
        port_options=("--port",),
        host_options=("--host",),
        address_options=("--listen",),
        socket_options=("--unix-socket",),
    ),
    "flask": Server(
        "flask run",
        "5000",
        True,
        port_options=("--port", "-p"),
        host_options=("--host", "-h"),
        port_variables=("FLASK_RUN_PORT",),
        host_variables=("FLASK_RUN_HOST",),
    ),
    "streamlit": Server(
        "streamlit run",
        "8501",
        False,
        port_options=("--server.port",),
        host_options=("--server.address",),
        port_variables=("STREAMLIT_SERVER_PORT",),
        port_fix="add --server.port $PORT",
    ),
    "runserver": Server(
        "manage.py runserver",
        "8000",
        True,
        port_fix="give it 0.0.0.0:$PORT",
        host_fix="give it 0.0.0.0:$PORT",
    ),
}
# A subcommand these need to serve at all (``flask db upgrade`` serves nothing).
SUBCOMMANDS = {"flask": "run", "streamlit": "run"}
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def warnings(text: str, origin: str, env: Mapping[str, str]) -> list[str]:
    """Why a supervised command's server may not answer on ``$PORT`` (``env`` has it)."""
    words = _last_command(text)
    found = _server(words) if words else None
    if found is None:
        return []
    server, args, assigned = found
    variables = {**env, **assigned}
    if any(_value(args, (option,)) is not None for option in server.socket_options):
        return []  # it listens where it is handed a socket: nothing to compare
    host, port = _listens(server, args)
    port = port or next((variables[n] for n in server.port_variables if n in variables), None)
    host = host or next((variables[n] for n in server.host_variables if n in variables), None)
    wanted = env.get("PORT", "8000")
    said: list[str] = []
    if port is None and server.port != wanted:
        said.append(
            f"{origin}: {server.name} listens on port {server.port} unless told, but requests "
            f"come to port {wanted} ($PORT); {server.port_fix}"
        )
    elif port is not None and port.isdigit() and port != wanted:
        said.append(
            f"{origin}: {server.name} is told to listen on port {port}, but requests come to "
            f"port {wanted} ($PORT); give it $PORT"
        )
    if (host is None and server.loopback) or host in LOOPBACK:
        said.append(
            f"{origin}: {server.name} listens on 127.0.0.1 "
            f"{'unless told' if host is None else 'as told'}, which nothing outside the "
            f"container reaches; {server.host_fix}"
        )
    return said


def _listens(server: Server, args: Sequence[str]) -> tuple[str | None, str | None]:
    """The (host, port) the command line gives, each None when it gives none."""
    if server.name == "manage.py runserver":
        address = next((arg for arg in args if not arg.startswith("-")), None)
    else:
        address = _value(args, server.address_options)
    host = port = None
    if address is not None:
        before, colon, after = address.rpartition(":")
        host, port = (before, after) if colon else (None, address)
    return _value(args, server.host_options) or host, _value(args, server.port_options) or port


def _last_command(text: str) -> list[str] | None:
    """The words of the last command of ``text``, the one left running."""
    for piece in reversed(shell.split_list(text) or []):
        words = shell.words_of(piece.text)
        if words:
            return words
    return None


def _server(words: Sequence[str]) -> tuple[Server, list[str], dict[str, str]] | None:
    """The known server ``words`` run, the arguments after its name, and the variables set
    before it (``exec`` and ``NAME=value`` are skipped)."""
    assigned: dict[str, str] = {}
    while words and (words[0] == "exec" or shell.ASSIGNMENT_RE.match(words[0])):
        if words[0] != "exec":
            name, _, value = words[0].partition("=")
            assigned[name] = value
        words = words[1:]
    if not words:
        return None
    program, args = os.path.basename(words[0]), list(words[1:])
    if program.startswith("python"):
        if len(args) > 1 and args[0] == "-m":
            program, args = args[1], args[2:]
        elif len(args) > 1 and os.path.basename(args[0]) == "manage.py":
            return (SERVERS["runserver"], args[2:], assigned) if args[1] == "runserver" else None
        else:
            return None
    if program not in SERVERS or program == "runserver":
        return None
    needed = SUBCOMMANDS.get(program)
    if needed is not None:
        if not args or args[0] != needed:
            return None
        args = args[1:]
    return SERVERS[program], args, assigned


def _value(args: Sequence[str], options: Sequence[str]) -> str | None:
    """The value given to any of ``options`` (``--opt value``, ``--opt=value``, ``-pVALUE``)."""
    for index, arg in enumerate(args):
        for option in options:
            if arg == option:
                return args[index + 1] if index + 1 < len(args) else ""
            if arg.startswith(option + "="):
                return arg[len(option) + 1 :]
            if len(option) == 2 and arg.startswith(option) and not arg.startswith("--"):
                return arg[2:]
    return None
