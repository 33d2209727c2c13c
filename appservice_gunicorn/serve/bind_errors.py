"""The line that says why gunicorn could not listen: another program holds the port."""

import errno
import logging
import socket
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


def explain_busy(addresses: Iterable[Any]) -> None:
    """gunicorn gave up binding ``addresses`` (its ``cfg.address``): for each TCP one that
    another program holds, log how to move."""
    for address in addresses:
        if not isinstance(address, tuple):
            continue  # a Unix socket or file descriptor
        host, port = address[0], address[1]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    log.error(
                        "Port %s on %s is already in use by another program: stop it, or "
                        "serve on another port with PORT=<number> (or --bind)",
                        port,
                        host or "all addresses",
                    )
