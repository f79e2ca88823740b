"""HTTP layer: thin routers that parse, authenticate and call one service function."""

from fastapi import APIRouter

from photoark.server.api import (
    auth,
    collections,
    direct,
    embeddings,
    events,
    files,
    health,
    marks,
    sync,
    trash,
    uploads,
    usage,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    collections.router,
    uploads.router,
    direct.router,
    files.router,
    trash.router,
    marks.router,
    embeddings.router,
    sync.router,
    usage.router,
    events.router,
)
