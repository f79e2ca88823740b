"""Assembles the web app: the guard around everything, the routes, the static files, errors
mapped to answers once, and the background sources of pushed events (started and stopped with
the app)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from photoark.client.errors import (
    ApiError,
    AuthFailed,
    ClientError,
    IntegrityFailure,
    ServerUnreachable,
)
from photoark.client.library import sync
from photoark.client.session import Session
from photoark.client.state.daemonstate import StatusBoard
from photoark.web.cache import NoThumbnail, OriginalCache, ThumbnailCache
from photoark.web.context import WebContext
from photoark.web.hub import BoardWatcher, Hub, LibraryFollower
from photoark.web.jobs import Jobs
from photoark.web.library import NotFound
from photoark.web.routes import cleanup, pages, photos, review, status
from photoark.web.security import Guard, GuardMiddleware

__all__ = ["build_context", "create_app"]


def build_context(session: Session, guard: Guard) -> WebContext:
    hub = Hub()
    cache = session.home.cache_dir
    return WebContext(
        session=session,
        guard=guard,
        hub=hub,
        jobs=Jobs(hub),
        thumbnails=ThumbnailCache(cache / "thumbnails"),
        originals=OriginalCache(cache / "originals"),
    )


def _status_of(err: ClientError) -> int:
    if isinstance(err, NotFound | NoThumbnail):
        return 404
    if isinstance(err, ServerUnreachable):
        return 503
    if isinstance(err, IntegrityFailure | AuthFailed):
        return 502  # the server's copy or our login is the problem, not the request
    if isinstance(err, ApiError) and 400 <= err.status < 500 and err.status != 401:
        return err.status
    if isinstance(err, ApiError):
        return 502
    return 400


def create_app(ctx: WebContext, follow: bool = True) -> FastAPI:
    """The app over ``ctx``; with ``follow``, it keeps the mirror in step with the server and
    pushes the daemon's status while it runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        follower = LibraryFollower(ctx.session, ctx.hub, ctx.write_lock)
        watcher = BoardWatcher(
            ctx.session.home.state_db,
            StatusBoard(ctx.session.db),
            lambda board: ctx.hub.publish("status", board),
        )
        if follow:
            # a server that is down: the pages say so, the follower keeps trying
            with ctx.write_lock, contextlib.suppress(ServerUnreachable):
                sync.pull(ctx.session)
            follower.start()
            watcher.start()
        try:
            yield
        finally:
            follower.stop()
            if follow:
                watcher.stop()
            ctx.originals.clear()

    app = FastAPI(
        title="photoark", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.ctx = ctx

    @app.exception_handler(ClientError)
    async def client_error(request: Request, err: ClientError) -> Response:
        return JSONResponse({"error": str(err), "hint": err.hint}, status_code=_status_of(err))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        return JSONResponse({"error": str(err.detail), "hint": ""}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse(
            {"error": f"bad request: {where}: {first.get('msg', 'invalid')}", "hint": ""},
            status_code=422,
        )

    @app.exception_handler(OSError)
    async def disk_error(request: Request, err: OSError) -> Response:
        return JSONResponse(
            {"error": f"{err.strerror or err}", "hint": "check the disk of the client's home"},
            status_code=507 if err.errno == 28 else 500,
        )

    for module in (pages, photos, review, cleanup, status):
        app.include_router(module.router)
    static = StaticFiles(packages=[("photoark.web", "static")])
    app.mount("/static", static, name="static")
    app.add_middleware(GuardMiddleware, guard=ctx.guard)
    return app
