"""Every exception an ASGI app lets out reaches gunicorn's error log, with its traceback.

gunicorn's native ``asgi`` worker (26 and later) logs an exception raised after the
response was sent at DEBUG, without a traceback; Starlette and FastAPI always do that (their
error middleware sends the 500, then re-raises "so that servers can log it"), and so do
background tasks.  A FastAPI endpoint that fails is then a 500 and an empty log.  The app is
wrapped: an exception before the response is complete is re-raised untouched (the server
answers 500 and logs it, gunicorn and uvicorn alike); one after it is logged here, once, and
not re-raised.  In lifespan, a failure the app reports (``lifespan.startup.failed``) is
logged with its traceback, and the server's own message shortened to one line.
"""

import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# gunicorn's Logger writes its error log through this logger (uvicorn's workers too).
error_log = logging.getLogger("gunicorn.error")


class LogUnhandled:
    """The ASGI app ``app``, whose unhandled exceptions are always logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        complete = False

        async def watched_send(message: Message) -> None:
            nonlocal complete
            await send(message)
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                complete = True

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            if not complete:
                raise
            error_log.exception(
                "Exception in ASGI application after its response was sent (%s %s)",
                scope.get("method", ""),
                scope.get("path", ""),
            )

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # An app that raises before it takes lifespan.startup does not speak lifespan
        # (Django raises ValueError at once): servers then serve without it, and so do we.
        received = reported = False

        async def watched_receive() -> Message:
            nonlocal received
            message = await receive()
            received = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal reported
            if str(message.get("type", "")).endswith(".failed"):
                reported = True
                exc = sys.exc_info()[1]  # Starlette sends it from its except block
                if exc is not None:
                    error_log.error("ASGI %s", message["type"], exc_info=exc)
                    # The traceback is above: the server's line stays one line.
                    message = {**message, "message": f"{type(exc).__name__}: {exc}"}
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        except Exception:
            if received and not reported:
                error_log.exception("Exception in ASGI lifespan")
            raise  # the server decides, as before: stop, or serve without lifespan
