"""Route ``/events``: a server-sent-events stream of the caller's change counter.

The wire format (see :mod:`photoark.protocol.models`): ``event: change`` / ``data: {"version":
V}`` at once and on every move, ``: ping`` after a heartbeat of silence. What to watch and when
to wake is :class:`~photoark.server.services.events.ChangeFeed`'s job; this module only frames
it. :class:`PokeAfterWrites` tells the feed (and the replication queue) when a write request of
this process succeeded, so its own commits reach the streams, and the replicas, without waiting
for the next tick.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence

import anyio
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.services.events import ChangeFeed

__all__ = ["EventStreamResponse", "PokeAfterWrites", "router"]

router = APIRouter(tags=["events"])

PING = b": ping\n\n"
_WRITES = frozenset({"POST", "PATCH", "DELETE"})  # a part PUT never moves a counter


def change_event(version: int) -> bytes:
    return f"event: change\ndata: {json.dumps({'version': version})}\n\n".encode()


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` that ends as soon as the client goes away.

    Starlette notices a disconnect only at the next write under ASGI spec 2.4 servers; an idle
    stream writes once a heartbeat, so it would hold its watcher that long. Here a second task
    always listens for ``http.disconnect`` and cancels the stream (its ``finally`` blocks run).
    """

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


async def _frames(
    feed: ChangeFeed, user_id: int, version: int, token_id: int
) -> AsyncIterator[bytes]:
    with feed.watch(user_id, version, token_id) as watch:
        yield change_event(version)
        async for moved in watch.changes():
            yield PING if moved is None else change_event(moved)


@router.get("/events")
async def events(auth: CurrentUser, services: Svc) -> EventStreamResponse:
    feed = services.events
    version = await feed.current(auth.user_id)  # before the 200: a failure is a problem body
    return EventStreamResponse(
        _frames(feed, auth.user_id, version, auth.token_id),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class PokeAfterWrites:
    """Pure ASGI middleware: after a successful POST/PATCH/DELETE, call each of ``pokes``
    (:meth:`ChangeFeed.poke`, :meth:`~photoark.server.services.replication.Replicator.poke`:
    thread-safe, cheap, no-ops when nothing listens)."""

    def __init__(self, app: ASGIApp, pokes: Sequence[Callable[[], None]]) -> None:
        self.app = app
        self.pokes = tuple(pokes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return

        async def send_then_poke(message: Message) -> None:
            await send(message)
            # routes that write answer only once their transaction committed
            if message["type"] == "http.response.start" and message["status"] < 400:
                for poke in self.pokes:
                    poke()

        await self.app(scope, receive, send_then_poke)
