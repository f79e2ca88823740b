"""The status routes and the event stream the pages listen to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from photoark.web import statuspage
from photoark.web.routes.deps import Changing, Reading

__all__ = ["router"]

router = APIRouter(prefix="/api")


class WatchRequest(BaseModel):
    path: str
    album: str | None = None


@router.get("/status")
def status(ctx: Reading) -> dict[str, Any]:
    return statuspage.status(ctx)


@router.post("/watches")
def add_watch(ctx: Changing, body: WatchRequest) -> dict[str, Any]:
    return statuspage.add_watch(ctx, body.path, body.album)


@router.post("/watches/remove")
def remove_watch(ctx: Changing, body: WatchRequest) -> dict[str, Any]:
    return statuspage.remove_watch(ctx, body.path)


@router.get("/events")
def events(ctx: Reading) -> StreamingResponse:
    """Server-sent events: ``library`` (the mirror changed), ``status`` (the daemon's board),
    ``job`` (a background job's progress), ``server`` (reachability)."""
    return StreamingResponse(
        ctx.hub.stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "private, no-store", "X-Accel-Buffering": "no"},
    )
