"""Reading a large request body (a part, a bundle) with a bound known before reading.

Routes that take such bodies are exempt from the 1 MiB :class:`~.limits.BodyLimitMiddleware`
and call :func:`read_body` with their own limit.
"""

from __future__ import annotations

from fastapi import Request

from photoark.server.errors import BadRequest

__all__ = ["read_body"]


async def read_body(
    request: Request, limit: int, what: str = "the part must be"
) -> bytes | bytearray:
    """The request body, refused as soon as it grows past ``limit`` bytes (the message says
    ``f"{what} {limit} bytes"``)."""
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise BadRequest(f"{what} {limit} bytes", {"expected_size": limit})
    if expected is not None:
        # one buffer of the announced size, filled in place: no list of chunks to join
        body = bytearray(expected)
        received = 0
        async for chunk in request.stream():
            end = received + len(chunk)
            if end > expected:
                raise BadRequest("the body is longer than its Content-Length")
            body[received:end] = chunk
            received = end
        if received != expected:
            raise BadRequest("the body is shorter than its Content-Length")
        return body
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BadRequest(f"{what} {limit} bytes", {"expected_size": limit})
        chunks.append(chunk)
    return b"".join(chunks)
