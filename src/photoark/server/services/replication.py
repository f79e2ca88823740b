"""Replication: copies of every committed object on each replica store (``--replicate-to``).

A commit adds one ``object_copies`` row per (object, replica store) inside its own transaction
(:meth:`~photoark.server.store.copies.CopyStore.enqueue`); this module empties that queue.
:class:`Replicator` does the work in threads, :func:`run_replication` repeats it on the app's
event loop. Any number of workers, on any number of server replicas sharing the database,
share the queue through leases on rows:

1. **claim**: due rows as copy slots free up (``workers`` copies at a time per process, the
   stores taking turns; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
   SQLite), each now ``copying`` under this worker's lease (300 s, ``--replication-lease``),
   renewed every third of it while it runs;
2. **skip** the rows whose object no live file names any more (its file was deleted, or its
   thumbnail replaced, before the copy): the rows are dropped and whatever an earlier attempt
   left is deleted;
3. **copy** from the primary (:func:`~photoark.server.blobs.replicated.copy_object`: CopyObject
   inside one S3 service, a stream otherwise) after checking the primary holds the size the
   commit recorded (a damaged primary must not overwrite a good copy);
4. **verify** with a HEAD on the target: the recorded size marks the row ``done``; anything else
   (an error, another size) puts it back to ``pending``, due after ``min(5·2^attempts, 3600)``
   seconds, with the error kept (``/health/replication`` counts it as failing).

A worker killed mid-copy holds its rows until their lease runs out; another worker then copies
again (the write replaces what is there), and the replica sweep
(:meth:`~photoark.server.services.sweeper.Sweeper.sweep_replica`) aborts the half multipart
upload it left. A copy finished after its row was dropped (the file was deleted meanwhile) is
deleted again at once. Stopping (:meth:`Replicator.stop`, on cancellation of
:func:`run_replication`) claims nothing more; copies already running in threads finish or fail
on their own (a thread cannot be interrupted), and rows claimed but not started wait for their
lease, as after a kill.

**Backfill.** A store added after files were committed has no rows for them:
:meth:`Replicator.backfill` adds them from the live files, in batches of file ids, under the
job lease ``backfill:<store>`` (one server replica walks the table). :func:`run_replication`
backfills each store at start and every :data:`BACKFILL_EVERY` seconds; after a complete pass
the lease is kept for :data:`BACKFILL_EVERY` seconds, so replicas starting meanwhile skip it.
(Every server replica must name the same ``--replicate-to`` stores: commits through one that
does not know a store add no rows for it until the next backfill.)

**Logs.** While rows are pending, one INFO line a minute per store: ``replication to NAME:
N pending, oldest S s, K copied in the last minute``; a WARNING per failed copy, at most one a
minute per store (the next one says how many were left out).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy import Engine

from photoark.server.blobs.base import BlobStore
from photoark.server.blobs.replicated import ReplicatedStore, copy_object
from photoark.server.errors import NotFound, ServerError
from photoark.server.store.copies import LEASE_SECONDS, CopyRow, CopyStore
from photoark.server.store.leases import LeaseStore, new_holder_id
from photoark.server.store.sweep import SweepStore

__all__ = [
    "BACKFILL_EVERY",
    "LAG_LOG_SECONDS",
    "POLL_SECONDS",
    "Outcome",
    "ReplicationReport",
    "Replicator",
    "backfill_lease",
    "run_replication",
]

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # an idle loop looks for due rows this often (sooner when poked)
LAG_LOG_SECONDS = 60.0  # the INFO lag line, per store, while rows are pending
WARN_EVERY_SECONDS = 60.0  # at most one WARNING about failed copies per store this often
BACKFILL_EVERY = 86400.0  # a store's backfill is redone this often (at start, then daily)
BACKFILL_BATCH = 1000  # files per backfill transaction
BACKFILL_LEASE_SECONDS = 600.0  # the backfill lease while it runs (renewed at each batch)
STOP_WAIT_SECONDS = 10.0  # on cancellation, how long the loop waits for its thread's round

Outcome = Literal["copied", "failed", "dropped", "lost"]
_T = TypeVar("_T")


def backfill_lease(store: str) -> str:
    """The job lease a backfill of ``store`` runs under."""
    return f"backfill:{store}"[:64]


@dataclass
class ReplicationReport:
    """What one :meth:`Replicator.run_once` did."""

    claimed: int = 0
    copied: int = 0  # verified on the target, row done
    failed: int = 0  # back to pending, with a backoff
    dropped: int = 0  # the object is not referenced any more: row dropped, nothing kept
    lost: int = 0  # the row went (dropped by a sweep) while it was copied

    def __bool__(self) -> bool:
        return self.claimed > 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class _CopyFailed(Exception):
    """A copy that did not verify (the message says why)."""


class Replicator:
    """Copies objects from ``stores.primary`` to ``stores.replicas`` as ``object_copies`` asks
    (see the module docstring). Thread-safe; :meth:`run_once` is what tests and the loop call.
    """

    def __init__(
        self,
        stores: ReplicatedStore,
        copies: CopyStore,
        sweep: SweepStore,
        leases: LeaseStore,
        *,
        workers: int = 4,
        lease_seconds: float = LEASE_SECONDS,
        worker: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if workers < 1 or lease_seconds <= 0:
            raise ValueError("workers must be >= 1 and lease_seconds > 0")
        self._stores = stores
        self._copies = copies
        self._sweep = sweep
        self._leases = leases
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.worker = worker or new_holder_id()  # this process's id in object_copies.worker
        self._clock = clock
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._stopped: list[ThreadPoolExecutor] = []  # stopped pools, maybe still copying
        self._stopping = threading.Event()
        self._copied: dict[str, int] = {}  # per store, since the last lag line
        self._lag_logged_at = clock()
        self._warned_at: dict[str, float] = {}
        self._unwarned: dict[str, int] = {}  # failures left out of the WARNINGs since the last
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @classmethod
    def for_engine(
        cls,
        engine: Engine,
        stores: ReplicatedStore,
        *,
        workers: int = 4,
        lease_seconds: float = LEASE_SECONDS,
    ) -> Replicator:
        """A replicator over ``engine``'s queue, with a fresh worker id."""
        return cls(
            stores,
            CopyStore(engine),
            SweepStore(engine),
            LeaseStore(engine),
            workers=workers,
            lease_seconds=lease_seconds,
        )

    @property
    def names(self) -> list[str]:
        """The replica stores' names (``object_copies.store``)."""
        return list(self._stores.replicas)

    # -- one round ----------------------------------------------------------------------------

    def claim(self, store: str, n: int | None = None) -> list[CopyRow]:
        """Claim up to ``n`` (default: ``workers``) due rows of ``store`` for this worker."""
        return self._copies.claim(store, self.worker, n or self.workers, self.lease_seconds)

    def run_once(self) -> ReplicationReport:
        """Copy what is due until nothing is: ``workers`` copies at a time, a slot that frees
        up claiming the next due row (the stores taking turns), leases renewed while copies
        run. Each row is settled: copied, failed (backing off: not retried in this round),
        or dropped. An empty report (false) when nothing was due."""
        report = ReplicationReport()
        running: dict[concurrent.futures.Future[Outcome], CopyRow] = {}
        drained: set[str] = set()  # stores with nothing more due in this round
        turn = 0
        renew_at = time.monotonic() + self.lease_seconds / 3
        while True:
            names = [n for n in self.names if n not in drained]
            while names and len(running) < self.workers and not self._stopping.is_set():
                name = names[turn % len(names)]
                turn += 1
                free = self.workers - len(running)
                rows = self.claim(name, free)
                report.claimed += len(rows)
                if len(rows) < free:
                    drained.add(name)
                    names.remove(name)
                if rows:
                    pool = self._executor()
                    for row in self._skip_unreferenced(name, rows, report):
                        running[pool.submit(self.copy, row)] = row
            if not running or self._stopping.is_set():
                return report  # stopping: the copies running finish and record on their own
            timeout = min(1.0, max(0.0, renew_at - time.monotonic()))
            finished, _ = concurrent.futures.wait(
                running, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                row = running.pop(future)
                if future.cancelled():
                    continue
                try:
                    report.add(future.result())
                except Exception:  # the database failed while recording: the lease runs out
                    log.exception("replication of %s to %s failed", row.object_key, row.store)
                    report.add("failed")
            if running and time.monotonic() >= renew_at:
                ids = [row.id for row in running.values()]
                self._copies.renew(ids, self.worker, self.lease_seconds)
                renew_at = time.monotonic() + self.lease_seconds / 3
            self.log_lag()

    def _skip_unreferenced(
        self, store: str, rows: list[CopyRow], report: ReplicationReport
    ) -> list[CopyRow]:
        """Drop the rows whose object no live file names (step 2); the others."""
        referenced = self._sweep.live_file_objects([row.object_key for row in rows])
        gone = [row for row in rows if row.object_key not in referenced]
        if gone:
            target = self._stores.store(store)
            for row in gone:
                if row.attempts > 1:  # an earlier attempt may have left the object there
                    _discard(target, store, row.object_key)
                report.add("dropped")
            self._copies.drop([row.object_key for row in gone], store)
            log.debug("replication to %s: %d copies of deleted objects dropped", store, len(gone))
        return [row for row in rows if row.object_key in referenced]

    def copy(self, row: CopyRow) -> Outcome:
        """Copy one claimed row's object and record the outcome (steps 3-4). Never raises for
        a failed copy: the row goes back to pending with its error."""
        target = self._stores.store(row.store)
        key = row.object_key
        try:
            size = self._copy(target, row)
        except NotFound:
            if not self._sweep.live_file_objects([key]):  # deleted while we were at it
                _discard(target, row.store, key)
                self._copies.drop([key], row.store)
                return "dropped"
            return self._failed(row, f"the primary store has no object {key}")
        except Exception as err:
            return self._failed(row, f"{type(err).__name__}: {err}")
        if not self._copies.done(row.id, size):  # dropped meanwhile: its file was deleted
            if not self._sweep.live_file_objects([key]):
                _discard(target, row.store, key)
            return "lost"
        with self._lock:
            self._copied[row.store] = self._copied.get(row.store, 0) + 1
        return "copied"

    def _copy(self, target: BlobStore, row: CopyRow) -> int:
        """The copy and its check; the size verified on the target."""
        primary = self._stores.primary
        key = row.object_key
        if row.size is not None:
            stored = primary.stored_size(key)
            if stored is None:
                raise NotFound(f"no object {key}")
            if stored != row.size:
                raise _CopyFailed(
                    f"the primary holds {stored} bytes of {key}, the commit recorded {row.size}:"
                    " not copying a damaged object"
                )
        copied = copy_object(primary, target, key)
        expected = row.size if row.size is not None else copied
        landed = target.stored_size(key)
        if landed != expected:
            raise _CopyFailed(
                f"the replica holds {landed} bytes of {key} after the copy, not {expected}"
            )
        return landed

    def _failed(self, row: CopyRow, error: str) -> Outcome:
        due = self._copies.failed(row.id, self.worker, error)
        now = self._clock()
        with self._lock:
            quiet = now - self._warned_at.get(row.store, -WARN_EVERY_SECONDS) < WARN_EVERY_SECONDS
            if quiet:
                self._unwarned[row.store] = self._unwarned.get(row.store, 0) + 1
                more = 0
            else:
                self._warned_at[row.store] = now
                more = self._unwarned.pop(row.store, 0)
        retry = "not retried by this worker" if due is None else f"retry in {due - now:.0f} s"
        args = (row.store, row.object_key, row.attempts, retry, error)
        if quiet:
            log.debug("replication to %s: copy of %s failed (attempt %d, %s): %s", *args)
        else:
            suffix = f" ({more} more failed copies not logged)" if more else ""
            log.warning(
                "replication to %s: copy of %s failed (attempt %d, %s): %s%s", *args, suffix
            )
        return "failed"

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="replication")
            return self._pool

    # -- lag ----------------------------------------------------------------------------------

    def log_lag(self, force: bool = False) -> None:
        """Once a minute (or now, with ``force``): an INFO line per store that has rows pending
        or copied some in the last minute."""
        now = self._clock()
        if not force and now - self._lag_logged_at < LAG_LOG_SECONDS:
            return
        self._lag_logged_at = now
        with self._lock:
            copied, self._copied = self._copied, {}
        for name in self.names:
            lag = self._copies.lag(name)
            done = copied.get(name, 0)
            if lag.pending or done:
                log.info(
                    "replication to %s: %d pending, oldest %.0f s, %d copied in the last minute",
                    name,
                    lag.pending,
                    lag.oldest_pending_seconds,
                    done,
                )

    # -- backfill -----------------------------------------------------------------------------

    def backfill(
        self, store: str, batch: int = BACKFILL_BATCH, keep_for: float = BACKFILL_EVERY
    ) -> bool:
        """Add rows for the objects of every live file to ``store``'s queue (idempotent), under
        the lease ``backfill:<store>``; after a complete pass the lease is kept ``keep_for``
        seconds (others skip it meanwhile). ``False`` when another holds the lease, or when
        stopped or the lease was lost half-way (a later pass starts over)."""
        lease = backfill_lease(store)
        if not self._leases.acquire(lease, self.worker, BACKFILL_LEASE_SECONDS):
            return False
        complete = False
        try:
            cursor: int | None = 0
            while cursor is not None:
                if self._stopping.is_set():
                    return False
                cursor = self._copies.backfill([store], cursor, batch)
                if cursor is not None and not self._leases.acquire(
                    lease, self.worker, BACKFILL_LEASE_SECONDS
                ):
                    log.warning("replication to %s: backfill lease lost; stopped", store)
                    return False
            complete = self._leases.acquire(lease, self.worker, keep_for)
            lag = self._copies.lag(store)
            log.info("replication to %s: backfilled, %d copies pending", store, lag.pending)
            return complete
        finally:
            if not complete:
                self._leases.release(lease, self.worker)

    # -- the loop's controls ------------------------------------------------------------------

    def poke(self) -> None:
        """Something was committed: look for due rows now (thread-safe; a no-op while no loop
        runs)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def stop(self) -> None:
        """Claim nothing more and let idle pool threads go (running copies finish)."""
        self._stopping.set()
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None:
                self._stopped.append(pool)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """:meth:`stop`, and wait for every copy still running (in this or an earlier pool)."""
        self.stop()
        with self._lock:
            pools, self._stopped = self._stopped, []
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)

    def _attach(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        self._stopping.clear()
        self._wake = asyncio.Event()
        self._loop = loop
        return self._wake


def _discard(target: BlobStore, store: str, key: str) -> None:
    """Delete an object nothing references from a replica; a failure is left to the replica
    sweep (logged only)."""
    try:
        target.delete(key)
    except (ServerError, OSError) as err:
        log.info("replication to %s: could not delete unreferenced %s: %s", store, key, err)


async def run_replication(
    replicator: Replicator,
    *,
    interval: float = POLL_SECONDS,
    backfill_every: float | None = BACKFILL_EVERY,
) -> None:
    """Copy what is due, again and again, until cancelled: a round right after one that found
    work, else after ``interval`` seconds or a :meth:`Replicator.poke`. Each store is also
    backfilled now and every ``backfill_every`` seconds (``None``: never). Errors are logged
    and the loop goes on (a database or store outage is retried, waiting twice as long after
    each failed round, up to a minute)."""
    wake = replicator._attach(asyncio.get_running_loop())
    backfills = None
    if backfill_every is not None:
        backfills = asyncio.create_task(_backfills(replicator, backfill_every))
    errors = 0  # rounds failed in a row: the wait doubles, up to a minute
    try:
        while True:
            wake.clear()  # a poke from now on calls for another round
            report = None
            try:
                report = await _in_thread(replicator, replicator.run_once)
                await _in_thread(replicator, replicator.log_lag)
                errors = 0
            except Exception:
                errors += 1
                log.exception("replication round failed (%d in a row)", errors)
            if not report:
                wait = min(interval * 2 ** min(errors, 16), 60.0) if errors else interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
    finally:
        replicator.stop()
        if backfills is not None:
            backfills.cancel()
            await asyncio.wait({backfills})
        replicator._loop = replicator._wake = None


async def _backfills(replicator: Replicator, every: float) -> None:
    while True:
        for name in replicator.names:
            try:
                job = functools.partial(replicator.backfill, name, keep_for=every)
                await _in_thread(replicator, job)
            except Exception:
                log.exception("replication to %s: backfill failed", name)
        await asyncio.sleep(every)


async def _in_thread(replicator: Replicator, job: Callable[[], _T]) -> _T:
    """``job`` in a thread; on cancellation, stop the replicator and give the thread up to
    :data:`STOP_WAIT_SECONDS` to return before passing the cancellation on."""
    task: asyncio.Future[_T] = asyncio.ensure_future(asyncio.to_thread(job))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        replicator.stop()
        await asyncio.wait({task}, timeout=STOP_WAIT_SECONDS)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failure there is not "never retrieved" noise
        raise
