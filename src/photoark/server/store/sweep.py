"""SQL for the sweeper: which blob keys rows still need. Read-only.

Where a blob key lives in :mod:`.schema` (checked by ``tests/server/test_sweeper.py``, which
fails when a new column names one):

- ``files.content_object`` and ``files.thumbnail_object`` of files not deleted for good (a
  deleted row keeps its keys only so that its garbage can be found: it protects nothing);
- ``uploads.object_key`` of every upload row, open or committed (an open session's object
  exists once a commit completed it and failed after; a committed row's object is its file's);
- ``uploads.id`` of an open session names its parts (``upload_parts`` has no key of its own).

Embeddings, marks, albums and accounts hold their data inline. Each query takes a bounded
batch of candidates (the caller's list, cut into chunks of :data:`CHUNK`) and uses an index on
the key column (migration 9), so a sweep costs a few lookups per thousand blobs, not a scan.

``object_copies.object_key`` (:data:`NON_REFERENCE_KEY_COLUMNS`) names a blob without keeping
it: a copy still to make, or made, on a replica store. The replica sweep and the replication
worker read it here (:meth:`SweepStore.copy_rows`, :meth:`SweepStore.copying`) and drop the
rows of objects nothing above references.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from photoark.server.store.copies import COPYING
from photoark.server.store.db import read_transaction
from photoark.server.store.schema import files, object_copies, uploads
from photoark.server.store.uploads import OPEN

__all__ = ["CHUNK", "KEY_COLUMNS", "NON_REFERENCE_KEY_COLUMNS", "SweepStore"]

CHUNK = 500  # keys per IN (...) list: well under every database's parameter limit

# Every column holding a blob key (table, column): the sweeper's reference list, and what the
# schema test compares against the tables' String(64) key columns.
KEY_COLUMNS = (
    ("files", "content_object"),
    ("files", "thumbnail_object"),
    ("uploads", "object_key"),
    ("uploads", "id"),
)

# Columns that name a blob but do not keep it alive: a copy still to make to a replica store
# (``object_copies``) is dropped when no live row names its object (migration 10).
NON_REFERENCE_KEY_COLUMNS = (("object_copies", "object_key"),)


class SweepStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def referenced_objects(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` (object keys) that a live file or any upload row names: what the
        sweeper must keep."""
        return self._named(keys, uploads_too=True)

    def live_file_objects(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that a live file names (content or thumbnail): what replicas must
        hold. (A replaced thumbnail keeps its committed upload row, so it stays "referenced"
        for the sweeper, yet no file needs a copy of it.)"""
        return self._named(keys, uploads_too=False)

    def _named(self, keys: Sequence[str], *, uploads_too: bool) -> set[str]:
        found: set[str] = set()
        with read_transaction(self._engine) as conn:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                live = files.c.is_deleted.is_(False)
                for column in (files.c.content_object, files.c.thumbnail_object):
                    found.update(
                        str(key)
                        for key in conn.scalars(select(column).where(column.in_(chunk), live))
                    )
                if uploads_too:
                    found.update(
                        str(key)
                        for key in conn.scalars(
                            select(uploads.c.object_key).where(uploads.c.object_key.in_(chunk))
                        )
                    )
        return found

    def open_sessions(self, upload_ids: Sequence[str]) -> set[str]:
        """Those of ``upload_ids`` that are open sessions (expired ones too: the collector
        deletes those with their parts, in order)."""
        found: set[str] = set()
        with read_transaction(self._engine) as conn:
            for start in range(0, len(upload_ids), CHUNK):
                chunk = list(upload_ids[start : start + CHUNK])
                found.update(
                    str(key)
                    for key in conn.scalars(
                        select(uploads.c.id).where(uploads.c.id.in_(chunk), uploads.c.state == OPEN)
                    )
                )
        return found

    def copy_rows(self, store: str, after_id: int, limit: int) -> list[tuple[int, str]]:
        """``(id, object_key)`` of up to ``limit`` ``object_copies`` rows of ``store`` with
        ``id > after_id``, in id order, whatever their state (the replica sweep walks them to
        drop those of objects nothing references any more)."""
        query = (
            select(object_copies.c.id, object_copies.c.object_key)
            .where(object_copies.c.store == store, object_copies.c.id > after_id)
            .order_by(object_copies.c.id)
            .limit(limit)
        )
        with read_transaction(self._engine) as conn:
            return [(int(row.id), str(row.object_key)) for row in conn.execute(query)]

    def copying(self, store: str, keys: Sequence[str], now: float) -> set[str]:
        """Those of ``keys`` whose copy to ``store`` a worker holds under a lease still running
        at ``now``: their half-written uploads on the replica are in flight, not orphans."""
        found: set[str] = set()
        with read_transaction(self._engine) as conn:
            for start in range(0, len(keys), CHUNK):
                query = select(object_copies.c.object_key).where(
                    object_copies.c.store == store,
                    object_copies.c.object_key.in_(list(keys[start : start + CHUNK])),
                    object_copies.c.state == COPYING,
                    object_copies.c.lease_until >= now,
                )
                found.update(str(key) for key in conn.scalars(query))
        return found
