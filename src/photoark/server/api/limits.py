"""Request-size limits applied before any route runs.

:class:`BodyLimitMiddleware` refuses a request body over :data:`MAX_BODY_BYTES` (1 MiB) on
every route except the upload part ``PUT``, whose body the route itself bounds by the part's
exact expected size (at most ``MAX_PART_SIZE``). A declared ``Content-Length`` over the limit is
refused before a byte is read; a body without one (chunked) is read up to the limit and refused
as soon as it grows past it, so the server never holds more than the limit for one request. The
answer is a ``413`` problem with code ``too_large`` and ``details.max_bytes``.

A body that stays silent for ``idle_seconds`` (``--body-timeout``) is answered ``408``
``request_timeout``. The routes that bound their bodies themselves (part ``PUT``, bundle and
thumbnail ``POST``: see :mod:`.bodies`) apply the same timeout as they read. Either way the 408
closes the connection (``Connection: close``) instead of leaving it open for the rest of a body
that is not coming.

:data:`DbInt` bounds integers in paths and queries to what both databases store (a signed
64-bit integer), so an out-of-range id is a ``400 bad_request``, never a database error.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import Path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from photoark.protocol.errors import ErrorCode
from photoark.server.api.problems import problem_response

__all__ = ["MAX_BODY_BYTES", "MAX_DB_INT", "BodyLimitMiddleware", "DbInt"]

MAX_BODY_BYTES = 1024 * 1024
MAX_DB_INT = 2**63 - 1

DbInt = Annotated[int, Path(ge=0, le=MAX_DB_INT)]

_PART_PUT = re.compile(r"^/uploads/[^/]+/parts/[^/]+/?$")
_BUNDLE_POST = re.compile(r"^/files/(bundle|thumbnails)/?$")


class BodyLimitMiddleware:
    """Pure ASGI middleware: bodies over ``max_bytes`` get a 413 problem, bodies silent for
    ``idle_seconds`` (``None``: no limit) a 408 (see module doc)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, idle_seconds: float | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _bounds_itself(scope["method"], scope["path"]):
            await self.app(scope, receive, _close_after_timeout(send))
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        # Read the (bounded) body now and replay it: a chunked body is cut off at the limit.
        chunks: list[bytes] = []
        received = 0
        while True:
            try:
                async with asyncio.timeout(self.idle_seconds):
                    message = await receive()
            except TimeoutError:
                await self._timed_out(scope, receive, send, received)
                return
            if message["type"] != "http.request":  # client went away: let the app see it
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _timed_out(self, scope: Scope, receive: Receive, send: Send, received: int) -> None:
        response = problem_response(
            ErrorCode.REQUEST_TIMEOUT,
            f"no byte of the body for {self.idle_seconds:g} s ({received} received)",
            {"received": received, "idle_seconds": self.idle_seconds},
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            ErrorCode.TOO_LARGE,
            f"request body over {self.max_bytes} bytes",
            {"max_bytes": self.max_bytes},
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _bounds_itself(method: str, path: str) -> bool:
    """Routes that read their (large) body themselves, with their own bound."""
    return (method == "PUT" and _PART_PUT.match(path) is not None) or (
        method == "POST" and _BUNDLE_POST.match(path) is not None
    )


def _close_after_timeout(send: Send) -> Send:
    """``send``, with ``Connection: close`` added to a ``408`` answer (a silent body)."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 408:
            headers = [*message.get("headers", []), (b"connection", b"close")]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that first yields the buffered body (or ``pending``), then the real one."""
    first: list[Message] = (
        [pending]
        if pending is not None
        else [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
    )

    async def replay() -> Message:
        if first:
            return first.pop()
        return await receive()

    return replay
