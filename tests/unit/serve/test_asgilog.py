"""asgilog.LogUnhandled, driven through the ASGI protocol itself (asyncio, no server)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from appservice_gunicorn.serve.asgilog import LogUnhandled, Message


def run(app: Any, scope: dict[str, Any], incoming: list[Message]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(LogUnhandled(app)(scope, receive, send))
    return sent


HTTP = {"type": "http", "method": "GET", "path": "/x"}


def test_before_the_response_the_exception_goes_to_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise KeyError("early")

    with pytest.raises(KeyError):
        run(app, HTTP, [])
    assert caplog.records == []  # the server answers 500 and logs it


def test_after_the_response_it_is_logged_here_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"Internal Server Error"})
        raise ValueError("late")

    with caplog.at_level(logging.ERROR, logger="gunicorn.error"):
        sent = run(app, HTTP, [])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    (record,) = caplog.records
    assert record.getMessage() == (
        "Exception in ASGI application after its response was sent (GET /x)"
    )
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_a_reported_lifespan_failure_keeps_its_traceback_here(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        try:
            raise ConnectionError("no database")
        except ConnectionError:
            await send({"type": "lifespan.startup.failed", "message": "Traceback ...long"})

    with caplog.at_level(logging.ERROR, logger="gunicorn.error"):
        sent = run(app, {"type": "lifespan"}, [{"type": "lifespan.startup"}])
    assert sent == [{"type": "lifespan.startup.failed", "message": "ConnectionError: no database"}]
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is ConnectionError


def test_an_app_without_lifespan_support_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")

    with pytest.raises(ValueError):
        run(app, {"type": "lifespan"}, [{"type": "lifespan.startup"}])
    assert caplog.records == []
