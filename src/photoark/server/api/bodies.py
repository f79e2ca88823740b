"""Reading a large request body (a part, a bundle) in bounded memory.

Routes that take such bodies are exempt from the 1 MiB :class:`~.limits.BodyLimitMiddleware`
and read them with :func:`large_body`, which:

- holds one of the account's :class:`~.bodyslots.BodySlots` (``--bodies-per-account``) from
  before the first byte until the block ends, i.e. until the service is done with the body;
  past the cap a request waits briefly, then gets ``503 busy`` with ``Retry-After``;
- grows the body with the bytes actually received, never by the declared ``Content-Length``
  (a client announcing 64 MiB and sending 10 bytes costs 10 bytes, plus uvicorn's read buffer
  of at most 64 KiB). The declared length is only checked against the route's bound: over it,
  the body is refused unread; a body growing past the bound is refused as soon as it does
  (``400 bad_request``, ``details.expected_size``);
- refuses a body that stays silent for ``settings.body_idle_seconds`` (``--body-timeout``)
  with :class:`~photoark.server.errors.RequestTimeout` (408); the middleware closes the
  connection after such an answer;
- treats a client that goes away mid-body as what it is: one INFO line, no traceback; the
  request ends with an answer nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Request

from photoark.server.api.bodyslots import BodySlots
from photoark.server.config import ServerSettings
from photoark.server.errors import BadRequest, RequestTimeout

__all__ = ["large_body", "read_body"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def large_body(
    request: Request, account: int, limit: int, what: str = "the part must be"
) -> AsyncIterator[bytearray]:
    """The body of ``request`` read under one of ``account``'s body slots (see the module doc);
    the slot is held until the block ends."""
    slots: BodySlots = request.app.state.body_slots
    settings: ServerSettings = request.app.state.settings
    async with slots.hold(account):
        yield await read_body(request, limit, settings.body_idle_seconds, what)


async def read_body(
    request: Request, limit: int, idle_seconds: float, what: str = "the part must be"
) -> bytearray:
    """The request body, refused as soon as it is known to exceed ``limit`` bytes (the message
    says ``f"{what} {limit} bytes"``) or when no byte arrives for ``idle_seconds``."""
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise BadRequest(f"{what} {limit} bytes", {"expected_size": limit})
    body = bytearray()  # grows with what arrives (amortised), never allocated ahead
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                message = await request.receive()
        except TimeoutError:
            raise RequestTimeout(
                f"no byte of the body for {idle_seconds:g} s ({len(body)} received)",
                {"received": len(body), "idle_seconds": idle_seconds},
            ) from None
        if message["type"] != "http.request":  # http.disconnect: nobody to answer
            log.info(
                "%s %s: the client went away after %d of %s body bytes",
                request.method,
                request.url.path,
                len(body),
                expected if expected is not None else "?",
            )
            raise BadRequest("the client went away before the end of the body")
        chunk: bytes = message.get("body", b"")
        if len(body) + len(chunk) > limit:
            raise BadRequest(f"{what} {limit} bytes", {"expected_size": limit})
        if expected is not None and len(body) + len(chunk) > expected:
            raise BadRequest("the body is longer than its Content-Length")
        body += chunk
        if not message.get("more_body", False):
            break
    if expected is not None and len(body) != expected:
        raise BadRequest("the body is shorter than its Content-Length")
    return body
