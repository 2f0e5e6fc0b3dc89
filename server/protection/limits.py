"""Request body size limit: 413 before a large body is read into memory.

A declared ``Content-Length`` over the limit is refused before any byte is read.
A chunked body (no length) is counted as it streams: the read that crosses the
limit raises ``BodyTooLarge``, an HTTPException, so FastAPI routes answer 413
through the app's error handler and other routes through this middleware.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import Metrics


def too_large_message(limit: int, size: int | None = None) -> str:
    got = f"is {size} bytes" if size is not None else "is larger than that"
    return (
        f"request body too large: the limit is {limit} bytes and this one {got} "
        "(CITELINE_MAX_BODY_BYTES)"
    )


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        metrics: Metrics,
        uploads: tuple[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics
        # (path, limit): POSTs to this path (file uploads) may be larger.
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        if self.uploads and scope["method"] == "POST" and scope["path"] == self.uploads[0]:
            limit = self.uploads[1]
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, declared, limit)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    self.metrics.refused.labels(reason="body_too_large").inc()
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._respond(scope, receive, send, None, limit)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, size: int | None, limit: int
    ) -> None:
        self.metrics.refused.labels(reason="body_too_large").inc()
        await self._respond(scope, receive, send, size, limit)

    async def _respond(
        self, scope: Scope, receive: Receive, send: Send, size: int | None, limit: int
    ) -> None:
        response = JSONResponse(
            {"error": too_large_message(limit, size)},
            status_code=413,
            # The unread rest of the body would otherwise be parsed as the next request.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
