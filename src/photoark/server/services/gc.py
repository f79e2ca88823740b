"""The background jobs run by the app's lifespan: the blob sweeper (expired upload sessions and
crash leftovers) and the sweep of expired trash.

:meth:`Sweeper.sweep <photoark.server.services.sweeper.Sweeper.sweep>` and
:meth:`TrashService.sweep_expired` do the work and are what tests call directly; this module
only repeats them every ``interval`` seconds off the event loop, logging and surviving failures
(a database outage is retried at the next round). Several replicas sharing one database and
blob store may run them at once: both jobs decide row by row inside their transactions and
delete blobs idempotently, so a row is collected or deleted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from photoark.server.services.sweeper import Sweeper
from photoark.server.services.trash import TrashService

__all__ = ["run_sweeper", "run_trash_expiry"]

log = logging.getLogger(__name__)


async def run_sweeper(sweeper: Sweeper, interval: float) -> None:
    """Sweep the blob store now and every ``interval`` seconds, until cancelled."""
    await _repeat(sweeper.sweep, interval, "swept %s")


async def run_trash_expiry(trash: TrashService, interval: float) -> None:
    """Delete expired trash for good now and every ``interval`` seconds, until cancelled."""
    await _repeat(trash.sweep_expired, interval, "deleted %d expired files from the trash")


async def _repeat(job: Callable[[], object], interval: float, done: str) -> None:
    """Run ``job`` now and every ``interval`` seconds; log ``done % result`` when the result
    is truthy (something was done)."""
    while True:
        try:
            result = await asyncio.to_thread(job)
            if result:
                log.info(done, result)
        except Exception:
            log.exception("background job %s failed", getattr(job, "__qualname__", job))
        await asyncio.sleep(interval)
