"""The background jobs run by the app's lifespan: the blob sweeper (expired upload sessions and
crash leftovers) and the sweep of expired trash.

:meth:`Sweeper.sweep <photoark.server.services.sweeper.Sweeper.sweep>` and
:meth:`TrashService.sweep_expired` do the work and are what tests call directly; this module
only repeats them every ``interval`` seconds off the event loop, logging and surviving failures
(a database outage is retried at the next round).

Several replicas sharing one database and blob store: given a
:class:`~photoark.server.store.leases.LeaseStore`, a round runs only on the holder of the job's
lease (``sweeper``, ``trash``; ttl = 2 × interval, renewed at each of its rounds), and the other
replicas skip it, so the bucket is listed once per interval, not once per replica. When the
holder stops (its lease is released) or dies (its lease runs out), another replica takes the
next round. The lease saves work, it is not needed for correctness: both jobs decide row by row
inside their transactions and delete blobs idempotently, so a round that overlaps another
(a holder slower than its ttl) still collects or deletes each row once. Without a lease store
every round runs (one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from photoark.server.services.sweeper import Sweeper
from photoark.server.services.trash import TrashService
from photoark.server.store.leases import LeaseStore, new_holder_id

__all__ = ["SWEEPER_LEASE", "TRASH_LEASE", "run_sweeper", "run_trash_expiry"]

log = logging.getLogger(__name__)

SWEEPER_LEASE = "sweeper"
TRASH_LEASE = "trash"


async def run_sweeper(
    sweeper: Sweeper,
    interval: float,
    leases: LeaseStore | None = None,
    holder: str | None = None,
) -> None:
    """Sweep the blob store now and every ``interval`` seconds, until cancelled; with
    ``leases``, only the rounds in which ``holder`` (default: a fresh random id) holds the
    ``sweeper`` lease."""
    lease = _Lease(leases, SWEEPER_LEASE, holder, 2 * interval)
    await _repeat(sweeper.sweep, interval, "swept %s", lease)


async def run_trash_expiry(
    trash: TrashService,
    interval: float,
    leases: LeaseStore | None = None,
    holder: str | None = None,
) -> None:
    """Delete expired trash for good now and every ``interval`` seconds, until cancelled; with
    ``leases``, only in the rounds in which ``holder`` holds the ``trash`` lease."""
    lease = _Lease(leases, TRASH_LEASE, holder, 2 * interval)
    await _repeat(trash.sweep_expired, interval, "deleted %d expired files from the trash", lease)


class _Lease:
    """A job's lease as seen by one runner (no store: always held)."""

    def __init__(self, store: LeaseStore | None, name: str, holder: str | None, ttl: float) -> None:
        self.store = store
        self.name = name
        self.holder = holder or new_holder_id()
        self.ttl = ttl
        self.held = False

    def acquire(self) -> bool:
        if self.store is None:
            return True
        held = self.store.acquire(self.name, self.holder, self.ttl)
        if held != self.held:
            log.info(
                "%s the %r job lease (%s)",
                "took" if held else "lost",
                self.name,
                self.holder,
            )
        self.held = held
        return held

    def release(self) -> None:
        if self.store is not None and self.held:
            self.store.release(self.name, self.holder)
            self.held = False


async def _repeat(job: Callable[[], object], interval: float, done: str, lease: _Lease) -> None:
    """Run ``job`` now and every ``interval`` seconds while ``lease`` is held; log
    ``done % result`` when the result is truthy (something was done). On cancellation, give
    the lease up so another replica takes the next round without waiting for its expiry."""
    try:
        while True:
            try:
                if await asyncio.to_thread(lease.acquire):
                    result = await asyncio.to_thread(job)
                    if result:
                        log.info(done, result)
                else:
                    log.debug("another replica holds the %r lease; round skipped", lease.name)
            except Exception:
                log.exception("background job %s failed", getattr(job, "__qualname__", job))
            await asyncio.sleep(interval)
    except asyncio.CancelledError:
        if lease.held:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(lease.release)
        raise
