"""The ASGI application factory.

:func:`create_app` opens the blob stores (``--blobs``, ``--replicate-to``: S3 buckets are
checked now, so a wrong URL or missing credentials fail the start), the database, applies
migrations, builds the services, and keeps them on ``app.state`` (no module-level state: two
apps can live in one process, as tests do). Request bodies are bounded by
:class:`~.api.limits.BodyLimitMiddleware`. The lifespan runs the background jobs ``--jobs``
names (the blob sweeper, :mod:`.services.sweeper`; the expired-trash sweep; the copies to the
``--replicate-to`` stores, :mod:`.services.replication`), the sweeps under a lease so that one
replica of several does them; the change feed's poller (``GET /events``)
and, on PostgreSQL, its listener for other replicas' commits; and disposes of the engine.
:class:`~.api.events.PokeAfterWrites` tells the feed about this process's successful writes.
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
from photoark.server.blobs import BlobStore, ReplicatedStore, open_replicated
from photoark.server.config import ServerSettings
from photoark.server.services import build_services
from photoark.server.services.events import start_change_listener
from photoark.server.services.gc import run_sweeper, run_trash_expiry
from photoark.server.services.replication import Replicator, run_replication
from photoark.server.services.sweeper import Sweeper
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.leases import LeaseStore
from photoark.server.store.sweep import SweepStore

__all__ = ["create_app"]


def create_app(settings: ServerSettings, blobs: BlobStore | None = None) -> FastAPI:
    """The photoark API for ``settings``; ``blobs`` overrides the stores the settings name
    (tests: a plain store, or a :class:`ReplicatedStore` with replicas). Raises
    :class:`~photoark.server.blobs.BlobStoreError` when a store cannot be used."""
    # private to the server's user (it holds every account's data): 0700, also when an
    # earlier version made it 0755 (unless another user owns it: a mount its owner set up)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(settings.data_dir, 0o700)
    if blobs is None:
        stores = open_replicated(settings.blobs_url, settings.replicate_to, settings.data_dir)
    else:
        stores = blobs if isinstance(blobs, ReplicatedStore) else ReplicatedStore(blobs)
    engine = create_db_engine(settings.db_url)
    migrate(engine)
    services = build_services(settings, engine, stores)
    sweeper = Sweeper(SweepStore(engine), stores, services.uploads, settings.sweep_grace_seconds)
    leases = LeaseStore(engine)
    replicator = Replicator.for_engine(
        engine,
        stores,
        workers=settings.replication_workers,
        lease_seconds=settings.replication_lease_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs = []
        if "sweeper" in settings.jobs:
            interval = settings.gc_interval_seconds
            jobs.append(asyncio.create_task(run_sweeper(sweeper, interval, leases)))
        if "trash" in settings.jobs:
            interval = settings.trash_sweep_seconds
            jobs.append(asyncio.create_task(run_trash_expiry(services.trash, interval, leases)))
        if "replication" in settings.jobs and stores.replicas:
            jobs.append(asyncio.create_task(run_replication(replicator)))
        await services.events.start()
        try:
            async with start_change_listener(settings.db_url, services.events) as listener:
                _app.state.change_listener = listener  # None on SQLite; tests wait on it
                yield
        finally:
            await services.events.stop()
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            engine.dispose()
            stores.close()

    app = FastAPI(title="photoark", version=photoark.__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.blobs = stores.primary  # where bytes are written and read first
    app.state.stores = stores  # the primary and its replicas
    app.state.services = services
    app.state.sweeper = sweeper
    app.state.replicator = replicator
    app.state.body_slots = BodySlots(settings.bodies_per_account)  # api/bodies.py
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, idle_seconds=settings.body_idle_seconds)
    # a write may be a commit: clients watching changes and the replication queue are told
    app.add_middleware(PokeAfterWrites, pokes=(services.events.poke, replicator.poke))
    for router in ROUTERS:
        app.include_router(router)
    return app
