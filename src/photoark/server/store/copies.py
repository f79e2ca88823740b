"""SQL for replication: which objects still need a copy on which replica store.

One ``object_copies`` row per (object key, replica store name). Commits add rows inside their
own transaction (:meth:`CopyStore.enqueue`), so a committed object always has its rows; workers
on any replica then share the work through leases on rows:

- :meth:`~CopyStore.claim` hands out up to ``n`` claimable rows of one store and marks them
  ``copying`` with ``lease_until = now + lease_seconds``, ``worker`` and ``attempts + 1``.
  Claimable: ``pending`` and due (``next_attempt_at <= now``), or ``copying`` with a lease run
  out (its worker died or hangs: the copy is made again; a PUT of the same bytes is
  idempotent). On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so concurrent
  claims take disjoint rows without waiting for each other; on SQLite a write transaction
  starts with ``BEGIN IMMEDIATE`` (:mod:`.db`), which serialises claims. Either way no row is
  held by two workers at once, except after its lease ran out.
- :meth:`~CopyStore.done` marks a verified copy; :meth:`~CopyStore.failed` puts a row its worker
  still holds back to ``pending`` after ``min(5 * 2**attempts, 3600)`` seconds;
  :meth:`~CopyStore.renew` extends the leases of a long copy.
- :meth:`~CopyStore.drop` deletes the rows of objects nothing needs any more;
  :meth:`~CopyStore.backfill` adds rows for the live files of a store added later;
  :meth:`~CopyStore.lag` is what ``/health/replication`` shows.

Times are ``time.time()`` values of the calling process (the ``clock``): replicas are assumed
to agree to well within a lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from photoark.server.store.db import read_transaction
from photoark.server.store.schema import files, object_copies

__all__ = [
    "BACKOFF_CAP_SECONDS",
    "BACKOFF_SECONDS",
    "COPYING",
    "DONE",
    "LEASE_SECONDS",
    "PENDING",
    "CopyLag",
    "CopyRow",
    "CopyStore",
    "backoff_seconds",
]

PENDING = "pending"
COPYING = "copying"
DONE = "done"

LEASE_SECONDS = 300.0  # a claim's lease when the caller names none
BACKOFF_SECONDS = 5.0  # a failed copy waits BACKOFF_SECONDS * 2**attempts ...
BACKOFF_CAP_SECONDS = 3600.0  # ... but never longer than this
_ERROR_CHARS = 512  # object_copies.last_error's width
_CHUNK = 500  # keys per IN (...) list


def backoff_seconds(attempts: int) -> float:
    """How long a row waits after its ``attempts``-th failed copy."""
    if attempts >= 20:  # 5 * 2**10 is past the cap already; no huge powers
        return BACKOFF_CAP_SECONDS
    return min(BACKOFF_SECONDS * float(2 ** max(attempts, 0)), BACKOFF_CAP_SECONDS)


@dataclass(frozen=True)
class CopyRow:
    """A claimed row: copy ``object_key`` to the store named ``store``."""

    id: int
    object_key: str
    store: str
    size: int | None  # the size the commit recorded, when the caller gave it
    attempts: int  # this claim included
    worker: str
    lease_until: float


@dataclass(frozen=True)
class CopyLag:
    """One replica store's backlog (``GET /health/replication``)."""

    store: str
    pending: int  # rows not done (waiting, backing off, or being copied)
    failing: int  # of those, rows whose last attempt failed
    oldest_pending_seconds: float  # now - the oldest not-done row's creation; 0 when none
    done: int


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class CopyStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    # -- producers ----------------------------------------------------------------------------

    @staticmethod
    def enqueue(
        conn: Connection,
        keys: Iterable[str] | Mapping[str, int | None],
        stores: Sequence[str],
        now: float | None = None,
    ) -> int:
        """Add a ``pending`` row for each object key and store, inside the caller's transaction
        (``conn``: a commit's). ``keys`` may map each key to its size (checked against the
        copy). Idempotent: an existing (key, store) row is left as it is, whatever its state.
        Returns the number of rows added. No stores or no keys: nothing, not even a query."""
        sizes: Mapping[str, int | None] = keys if isinstance(keys, Mapping) else dict.fromkeys(keys)
        if not sizes or not stores:
            return 0
        now = time.time() if now is None else now
        rows = [
            {
                "object_key": key,
                "store": store,
                "state": PENDING,
                "size": size,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for key, size in sizes.items()
            for store in stores
        ]
        stmt = _insert(conn)(object_copies).on_conflict_do_nothing(
            index_elements=[object_copies.c.object_key, object_copies.c.store]
        )
        added = 0
        for start in range(0, len(rows), _CHUNK):
            result = conn.execute(
                stmt.values(rows[start : start + _CHUNK]).returning(object_copies.c.id)
            )
            added += len(result.all())
        return added

    def backfill(
        self, stores: Sequence[str], after_file_id: int = 0, batch: int = 1000
    ) -> int | None:
        """Enqueue the objects (content and thumbnail) of up to ``batch`` live files with
        ``id > after_file_id``, in id order, for ``stores``; one transaction. Returns the last
        file id looked at (pass it back as ``after_file_id``), or ``None`` when there are no
        more files. Idempotent (rows already there stay); run it under a lease
        (``backfill:<store>``) so replicas do not all walk the table."""
        query = (
            select(
                files.c.id,
                files.c.content_object,
                files.c.content_size,
                files.c.thumbnail_object,
                files.c.thumbnail_size,
            )
            .where(files.c.id > after_file_id, files.c.is_deleted.is_(False))
            .order_by(files.c.id)
            .limit(batch)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return None
            sizes: dict[str, int | None] = {}
            for row in rows:
                sizes[str(row.content_object)] = int(row.content_size)
                if row.thumbnail_object is not None:
                    sizes[str(row.thumbnail_object)] = int(row.thumbnail_size)
            self.enqueue(conn, sizes, stores, self._clock())
            return int(rows[-1].id)

    # -- workers ------------------------------------------------------------------------------

    def claim(
        self, store: str, worker: str, n: int, lease_seconds: float = LEASE_SECONDS
    ) -> list[CopyRow]:
        """Up to ``n`` claimable rows of ``store`` (oldest due first), now held by ``worker``
        until ``now + lease_seconds``. Never hands a row to two workers while its lease runs
        (see the module doc). An empty list: nothing is due."""
        if n <= 0:
            return []
        now = self._clock()
        lease_until = now + lease_seconds
        claimable = and_(
            object_copies.c.store == store,
            or_(
                and_(object_copies.c.state == PENDING, object_copies.c.next_attempt_at <= now),
                and_(object_copies.c.state == COPYING, object_copies.c.lease_until < now),
            ),
        )
        pick = (
            select(object_copies.c.id)
            .where(claimable)
            .order_by(object_copies.c.next_attempt_at, object_copies.c.id)
            .limit(n)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite: BEGIN IMMEDIATE serialises
        )
        with self._engine.begin() as conn:
            ids = [int(i) for i in conn.execute(pick).scalars()]
            if not ids:
                return []
            result = conn.execute(
                update(object_copies)
                .where(object_copies.c.id.in_(ids))
                .values(
                    state=COPYING,
                    lease_until=lease_until,
                    worker=worker,
                    attempts=object_copies.c.attempts + 1,
                )
                .returning(
                    object_copies.c.id,
                    object_copies.c.object_key,
                    object_copies.c.store,
                    object_copies.c.size,
                    object_copies.c.attempts,
                )
            )
            claimed = [
                CopyRow(
                    id=int(row.id),
                    object_key=str(row.object_key),
                    store=str(row.store),
                    size=None if row.size is None else int(row.size),
                    attempts=int(row.attempts),
                    worker=worker,
                    lease_until=lease_until,
                )
                for row in result
            ]
        order = {copy_id: index for index, copy_id in enumerate(ids)}
        claimed.sort(key=lambda row: order[row.id])  # RETURNING's order is not promised
        return claimed

    def renew(
        self, copy_ids: Collection[int], worker: str, lease_seconds: float = LEASE_SECONDS
    ) -> set[int]:
        """Extend the leases ``worker`` still holds among ``copy_ids`` (a long copy); returns
        those ids. A row missing from the answer was reclaimed or dropped meanwhile."""
        if not copy_ids:
            return set()
        with self._engine.begin() as conn:
            result = conn.execute(
                update(object_copies)
                .where(
                    object_copies.c.id.in_(list(copy_ids)),
                    object_copies.c.state == COPYING,
                    object_copies.c.worker == worker,
                )
                .values(lease_until=self._clock() + lease_seconds)
                .returning(object_copies.c.id)
            )
            return {int(i) for i in result.scalars()}

    def done(self, copy_id: int, size: int | None = None) -> bool:
        """Mark the row copied (verified by the caller: the target's size), whoever holds it:
        a copy made under a lease that ran out is as good. ``size`` is recorded when given.
        Idempotent; ``False`` when the row is gone (dropped meanwhile)."""
        values: dict[str, Any] = {
            "state": DONE,
            "copied_at": self._clock(),
            "lease_until": None,
            "worker": None,
            "last_error": None,
        }
        if size is not None:
            values["size"] = size
        with self._engine.begin() as conn:
            result = conn.execute(
                update(object_copies)
                .where(object_copies.c.id == copy_id)
                .values(**values)
                .returning(object_copies.c.id)
            )
            return result.first() is not None

    def failed(self, copy_id: int, worker: str, error: str) -> float | None:
        """A failed attempt by ``worker``: back to ``pending``, due again after
        :func:`backoff_seconds` of the row's attempts, ``error`` kept (cut to 512 characters).
        Returns when the row is due again; ``None`` (and nothing changed) when ``worker`` no
        longer holds the row: another worker reclaimed it, or it is done or dropped."""
        held = and_(
            object_copies.c.id == copy_id,
            object_copies.c.state == COPYING,
            object_copies.c.worker == worker,
        )
        with self._engine.begin() as conn:
            attempts = conn.execute(
                select(object_copies.c.attempts).where(held).with_for_update()
            ).scalar_one_or_none()
            if attempts is None:
                return None
            due = self._clock() + backoff_seconds(int(attempts))
            conn.execute(
                update(object_copies)
                .where(held)
                .values(
                    state=PENDING,
                    next_attempt_at=due,
                    lease_until=None,
                    worker=None,
                    last_error=error[:_ERROR_CHARS],
                )
            )
            return due

    # -- upkeep -------------------------------------------------------------------------------

    def drop(self, keys: Collection[str], store: str | None = None) -> int:
        """Delete the rows of these object keys (of every store, or only of ``store``): their
        objects are gone, or nothing live names them. Returns how many rows went. Idempotent.
        A worker holding one of them finds it gone (:meth:`done` answers ``False``)."""
        ordered = sorted(keys)
        deleted = 0
        with self._engine.begin() as conn:
            for start in range(0, len(ordered), _CHUNK):
                where: list[ColumnElement[bool]] = [
                    object_copies.c.object_key.in_(ordered[start : start + _CHUNK])
                ]
                if store is not None:
                    where.append(object_copies.c.store == store)
                result = conn.execute(
                    delete(object_copies).where(*where).returning(object_copies.c.id)
                )
                deleted += len(result.all())
        return deleted

    def keys_of(self, store: str, keys: Collection[str]) -> set[str]:
        """Those of ``keys`` that have a row for ``store``, in any state (the replica sweep:
        an object the queue still names is not garbage yet)."""
        ordered = sorted(keys)
        found: set[str] = set()
        with read_transaction(self._engine) as conn:
            for start in range(0, len(ordered), _CHUNK):
                query = select(object_copies.c.object_key).where(
                    object_copies.c.store == store,
                    object_copies.c.object_key.in_(ordered[start : start + _CHUNK]),
                )
                found.update(str(key) for key in conn.scalars(query))
        return found

    def stores(self) -> list[str]:
        """The store names that have rows, sorted."""
        with read_transaction(self._engine) as conn:
            query = select(object_copies.c.store).distinct().order_by(object_copies.c.store)
            return [str(name) for name in conn.scalars(query)]

    def lag(self, store: str) -> CopyLag:
        """The backlog of ``store`` (one query)."""
        not_done = object_copies.c.state != DONE
        query = select(
            func.count().filter(not_done),
            func.count().filter(and_(not_done, object_copies.c.last_error.is_not(None))),
            func.min(case((not_done, object_copies.c.created_at))),
            func.count().filter(object_copies.c.state == DONE),
        ).where(object_copies.c.store == store)
        with read_transaction(self._engine) as conn:
            pending, failing, oldest, done = conn.execute(query).one()
        age = 0.0 if oldest is None else max(0.0, self._clock() - float(oldest))
        return CopyLag(store, int(pending), int(failing), age, int(done))
