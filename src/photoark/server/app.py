"""The ASGI application factory.

:func:`create_app` opens the database, applies migrations, builds the blob store and services,
and keeps them on ``app.state`` (no module-level state: two apps can live in one process, as
tests do). Request bodies are bounded by :class:`~.api.limits.BodyLimitMiddleware`. The
lifespan runs the blob sweeper (expired upload sessions and crash leftovers,
:mod:`.services.sweeper`), the expired-trash sweep and the change feed's poller
(``GET /events``), and disposes of the engine; :class:`~.api.events.PokeAfterWrites`
tells the feed about this process's successful writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI

import photoark
from photoark.server.api import ROUTERS
from photoark.server.api.bodyslots import BodySlots
from photoark.server.api.events import PokeAfterWrites
from photoark.server.api.limits import BodyLimitMiddleware
from photoark.server.api.problems import install_problem_handlers
from photoark.server.blobs import BlobStore, LocalBlobStore
from photoark.server.config import ServerSettings
from photoark.server.services import build_services
from photoark.server.services.gc import run_sweeper, run_trash_expiry
from photoark.server.services.sweeper import Sweeper
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.sweep import SweepStore

__all__ = ["create_app"]


def create_app(settings: ServerSettings, blobs: BlobStore | None = None) -> FastAPI:
    """The photoark API for ``settings``; ``blobs`` overrides the local blob store (tests)."""
    # private to the server's user (it holds every account's data): 0700, also when an
    # earlier version made it 0755 (unless another user owns it: a mount its owner set up)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(settings.data_dir, 0o700)
    engine = create_db_engine(settings.db_url)
    migrate(engine)
    blob_store = blobs if blobs is not None else LocalBlobStore(settings.data_dir)
    services = build_services(settings, engine, blob_store)
    sweeper = Sweeper(
        SweepStore(engine), blob_store, services.uploads, settings.sweep_grace_seconds
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs = [
            asyncio.create_task(run_sweeper(sweeper, settings.gc_interval_seconds)),
            asyncio.create_task(run_trash_expiry(services.trash, settings.trash_sweep_seconds)),
        ]
        await services.events.start()
        try:
            yield
        finally:
            await services.events.stop()
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            engine.dispose()

    app = FastAPI(title="photoark", version=photoark.__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.blobs = blob_store
    app.state.services = services
    app.state.sweeper = sweeper
    app.state.body_slots = BodySlots(settings.bodies_per_account)  # api/bodies.py
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, idle_seconds=settings.body_idle_seconds)
    app.add_middleware(PokeAfterWrites, feed=services.events)
    for router in ROUTERS:
        app.include_router(router)
    return app
