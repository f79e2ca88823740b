"""The background collector of expired upload sessions, run by the app's lifespan.

:meth:`UploadService.collect_expired` does the work and is what tests call directly; this module
only repeats it every ``interval`` seconds off the event loop, logging and surviving failures.
"""

from __future__ import annotations

import asyncio
import logging

from photoark.server.services.uploads import UploadService

__all__ = ["run_upload_gc"]

log = logging.getLogger(__name__)


async def run_upload_gc(uploads: UploadService, interval: float) -> None:
    """Collect expired uploads now and every ``interval`` seconds, until cancelled."""
    while True:
        try:
            count = await asyncio.to_thread(uploads.collect_expired)
            if count:
                log.info("collected %d expired upload sessions", count)
        except Exception:
            log.exception("upload garbage collection failed")
        await asyncio.sleep(interval)
