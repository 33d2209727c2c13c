"""Where a supervised server will listen, read from its command line (never run): a warning
when the requests App Service sends to ``$PORT`` would find nothing there, because the
server keeps its own default port (uvicorn's 8000, Flask's 5000) or listens on 127.0.0.1.
"""

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from appservice_gunicorn.startup import shell


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
    socket_variables: tuple[str, ...] = ()
    # Where its address may be set out of sight: then nothing is said.
    config_options: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()
    config_variables: tuple[str, ...] = ()
    # On 0.0.0.0:$PORT unless told (gunicorn, when PORT is set, as the launcher sets it).
    follows_port: bool = False
    # Options before its subcommand that take a value (``flask --app x run``).
    group_options: tuple[str, ...] = ()
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
        port_variables=("UVICORN_PORT",),
        host_variables=("UVICORN_HOST",),
        socket_variables=("UVICORN_FD", "UVICORN_UDS"),
    ),
    "hypercorn": Server(
        "hypercorn",
        "8000",
        True,
        address_options=("--bind", "-b", "--insecure-bind"),
        config_options=("--config", "-c"),
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
        config_options=("--env-file", "-e"),
        config_files=(".flaskenv", ".env"),
        group_options=("--app", "-A", "--env-file", "-e"),
    ),
    "streamlit": Server(
        "streamlit run",
        "8501",
        False,
        port_options=("--server.port",),
        host_options=("--server.address",),
        port_variables=("STREAMLIT_SERVER_PORT",),
        host_variables=("STREAMLIT_SERVER_ADDRESS",),
        config_files=(".streamlit/config.toml",),
        port_fix="add --server.port $PORT",
        host_fix="add --server.address 0.0.0.0",
    ),
    "gunicorn": Server(
        "gunicorn",
        "8000",
        False,
        address_options=("--bind", "-b"),
        config_options=("--config", "-c"),
        config_files=("gunicorn.conf.py",),
        config_variables=("GUNICORN_CMD_ARGS",),
        follows_port=True,
        port_fix="give it --bind 0.0.0.0:$PORT",
        host_fix="give it --bind 0.0.0.0:$PORT",
    ),
    "runserver": Server(
        "manage.py runserver",
        "8000",
        True,
        port_fix="give it 0.0.0.0:$PORT",
        host_fix="give it 0.0.0.0:$PORT",
    ),
}
SERVERS = {**SERVERS, "waitress": SERVERS["waitress-serve"]}  # python -m waitress
# A subcommand these need to serve at all (``flask db upgrade`` serves nothing).
SUBCOMMANDS = {"flask": "run", "streamlit": "run"}
# Django's runserver options that take a value (the address is the first other argument).
RUNSERVER_VALUED = ("--verbosity", "-v", "--settings", "--pythonpath")
# The interpreter's options that take a value, before ``-m`` or a script.
PYTHON_VALUED = ("-X", "-W", "-Q")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# Started before the server, these listen on $PORT themselves and pass requests on to it.
PROXIES = frozenset({"nginx", "caddy", "haproxy", "httpd", "apache2", "apachectl", "traefik"})
PROXIES |= {"envoy", "supervisord"}


def warnings(
    text: str, origin: str, env: Mapping[str, str], app_dir: Path | None = None
) -> list[str]:
    """Why a supervised command's server may not answer on ``$PORT`` (``env`` has it)."""
    words = last_command(text)
    found = _server(words) if words else None
    if found is None or PROXIES & set(re.findall(r"[\w.-]+", text)):
        return []  # not a server it knows, or one behind a proxy the command starts
    server, args, assigned = found
    variables = {**env, **assigned}
    if (
        _values(args, server.socket_options + server.config_options)
        or any(name in variables for name in server.socket_variables + server.config_variables)
        or (app_dir and any((app_dir / name).is_file() for name in server.config_files))
    ):
        return []  # it is handed a socket, or its address may be set out of sight
    hosts, ports = _listens(server, args)
    if server.follows_port and not hosts and not ports:
        return []
    ports = ports or [variables[n] for n in server.port_variables if n in variables]
    hosts = hosts or [variables[n] for n in server.host_variables if n in variables]
    wanted = env.get("PORT", "8000")
    said: list[str] = []
    if not ports and server.port != wanted:
        said.append(
            f"{origin}: {server.name} listens on port {server.port} unless told, but requests "
            f"come to port {wanted} ($PORT); {server.port_fix}"
        )
    elif ports and all(port.isdigit() and port != wanted for port in ports):
        said.append(
            f"{origin}: {server.name} is told to listen on port {ports[0]}, but requests come "
            f"to port {wanted} ($PORT); give it $PORT"
        )
    if (not hosts and server.loopback) or (hosts and all(h in LOOPBACK for h in hosts)):
        said.append(
            f"{origin}: {server.name} listens on 127.0.0.1 "
            f"{'as told' if hosts else 'unless told'}, which nothing outside the container "
            f"reaches; {server.host_fix}"
        )
    return said


def _listens(server: Server, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """The hosts and the ports the command line gives."""
    if server.name == "manage.py runserver":
        addresses = _positionals(args, RUNSERVER_VALUED)[:1]
    else:
        addresses = _values(args, server.address_options)
    hosts, ports = _values(args, server.host_options), _values(args, server.port_options)
    for address in addresses:
        before, colon, after = address.rpartition(":")
        if colon:
            hosts.append(before)
            ports.append(after)
        elif address.isdigit():
            ports.append(address)
        else:
            hosts.append(address)  # a host alone: on the server's own port
            ports.append(server.port)
    return hosts, ports


def last_command(text: str) -> list[str] | None:
    """The words of the last command of ``text``, the one left running; in a script the
    shell grammar of which is beyond what is read (a loop, a function), its last line."""
    joined = shell.join_continuations(text)
    pieces = shell.split_list(joined)
    if pieces is None:
        lines = [line.strip() for line in joined.splitlines()]
        pieces = shell.split_list(next((ln for ln in reversed(lines) if ln[:1] not in "#"), ""))
    for piece in reversed(pieces or []):
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
        while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
            args = args[2:] if args[0] in PYTHON_VALUED else args[1:]
        if len(args) > 1 and args[0] == "-m":
            program, args = args[1], args[2:]
        elif args and os.path.basename(args[0]) == "manage.py":
            program, args = "django-admin", args[1:]
        else:
            return None  # a script of the app's own, or -c: its port is not on the line
    if program == "django-admin":
        if not args or args[0] != "runserver":
            return None
        return SERVERS["runserver"], args[1:], assigned
    if program not in SERVERS or program == "runserver":
        return None
    server = SERVERS[program]
    needed = SUBCOMMANDS.get(program)
    if needed is not None:
        positionals = _positionals(args, server.group_options)
        if not positionals or positionals[0] != needed:
            return None
        args = args[args.index(needed) + 1 :]
    return server, args, assigned


def _positionals(args: Sequence[str], valued: Sequence[str]) -> list[str]:
    """The arguments that are not options nor an option's value."""
    found: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in valued:
            skip = True
        elif not arg.startswith("-") or arg == "-":
            found.append(arg)
    return found


def _values(args: Sequence[str], options: Sequence[str]) -> list[str]:
    """Every value given to one of ``options`` (``--opt value``, ``--opt=value``,
    ``-pVALUE``), up to a ``--`` (what follows is the app's own arguments)."""
    found: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            break
        for option in options:
            if arg == option:
                found.append(args[index + 1] if index + 1 < len(args) else "")
            elif arg.startswith(option + "="):
                found.append(arg[len(option) + 1 :])
            elif len(option) == 2 and arg.startswith(option) and not arg.startswith("--"):
                found.append(arg[2:])
    return found


def runs_server(text: str) -> bool:
    """Whether the command leaves a web server it knows running (uvicorn, flask run...)."""
    words = last_command(text)
    return words is not None and _server(words) is not None
