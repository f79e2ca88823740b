"""The background jobs run by the app's lifespan: the collector of expired upload sessions and
the sweep of expired trash.

:meth:`UploadService.collect_expired` and :meth:`TrashService.sweep_expired` do the work and are
what tests call directly; this module only repeats them every ``interval`` seconds off the event
loop, logging and surviving failures (a database outage is retried at the next round). Several
replicas sharing one database may run them at once: both jobs decide row by row inside their
transactions, so a row is collected or deleted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from photoark.server.services.trash import TrashService
from photoark.server.services.uploads import UploadService

__all__ = ["run_trash_expiry", "run_upload_gc"]

log = logging.getLogger(__name__)


async def run_upload_gc(uploads: UploadService, interval: float) -> None:
    """Collect expired uploads now and every ``interval`` seconds, until cancelled."""
    await _repeat(uploads.collect_expired, interval, "collected %d expired upload sessions")


async def run_trash_expiry(trash: TrashService, interval: float) -> None:
    """Delete expired trash for good now and every ``interval`` seconds, until cancelled."""
    await _repeat(trash.sweep_expired, interval, "deleted %d expired files from the trash")


async def _repeat(job: Callable[[], int], interval: float, done: str) -> None:
    while True:
        try:
            count = await asyncio.to_thread(job)
            if count:
                log.info(done, count)
        except Exception:
            log.exception("background job %s failed", getattr(job, "__qualname__", job))
        await asyncio.sleep(interval)
