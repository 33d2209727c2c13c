"""Whether anything listens on $PORT some seconds after a supervised command started."""

from __future__ import annotations

import logging
import socket

import pytest

from appservice_gunicorn.supervise.port_watch import PortWatch, listening


def test_listening_reads_the_sockets_of_this_namespace() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        assert listening(port) is False  # bound, not listening
        server.listen()
        assert listening(port) is True
    with socket.socket(socket.AF_INET6) as server6:
        server6.bind(("::1", 0))
        server6.listen()
        assert listening(server6.getsockname()[1]) is True


def test_one_warning_when_nothing_listens_after_the_wait(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    watch = PortWatch(free, "The startup command", wait=0)
    with caplog.at_level(logging.WARNING):
        watch()
        watch()  # once only
    assert [r.getMessage() for r in caplog.records] == [
        f"The startup command has run for 0 s and nothing listens on port {free} ($PORT), "
        "where requests arrive: give the server --port $PORT (or --bind 0.0.0.0:$PORT), or "
        "check its output above"
    ]


def test_no_warning_before_the_wait_nor_when_the_server_listens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with caplog.at_level(logging.WARNING):
            PortWatch(port, "x", wait=3600)()
            PortWatch(port, "x", wait=0)()
    assert caplog.records == []


def test_a_server_that_listens_after_the_warning_gets_one_line_saying_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        watch = PortWatch(port, "The startup command", wait=0)
        with caplog.at_level(logging.INFO):
            watch()  # nothing listens yet: the warning
            server.listen()
            watch()  # now it does
            watch()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[1].startswith(f"The startup command listens on port {port} now, ")
