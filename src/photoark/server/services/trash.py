"""Trash rules: a file moved to the trash leaves every album but keeps its bytes (and its place
in the quota, as ``trash_bytes``) until it is restored, deleted for good by its owner (one by
one or by emptying the trash), or expires ``trash_days`` after it was trashed.

Deleting for good commits first and deletes the blobs after: a crash in between leaves
unreferenced blobs (garbage, whose keys the deleted ``files`` rows keep for a later sweeper),
never a file whose bytes are gone. Every deletion runs in bounded batches
(:data:`DELETE_BATCH` files per transaction), blobs deleted after each batch's commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from photoark.protocol.models import (
    FileIds,
    FileRecord,
    RestoredFile,
    TrashDeleted,
    TrashFiles,
    TrashItem,
    TrashPage,
)
from photoark.server.blobs.base import BlobStore
from photoark.server.errors import BadRequest
from photoark.server.store.trash import Deleted, TrashStore

__all__ = ["DAY_SECONDS", "DELETE_BATCH", "TrashService"]

log = logging.getLogger(__name__)

DAY_SECONDS = 86400.0
DELETE_BATCH = 500  # files deleted for good in one transaction (emptying, expiry)


class TrashService:
    def __init__(
        self,
        store: TrashStore,
        blobs: BlobStore,
        trash_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._lifetime = trash_days * DAY_SECONDS
        self._clock = clock

    def trash(self, user_id: int, request: TrashFiles) -> list[FileRecord]:
        """Move the caller's files to the trash; all or none (an unknown id, or another user's,
        is :class:`NotFound` for the whole request), idempotent (a trashed file stays as it
        is). Records in request order, each ``is_trashed``."""
        _distinct(request.file_ids)
        return self._store.trash(user_id, request.file_ids, self._clock())

    def page(self, user_id: int, after: int, limit: int) -> TrashPage:
        """The caller's trash by file id, after ``after``; read-only."""
        found, has_more = self._store.page(user_id, after, limit)
        items = [
            TrashItem(
                file=f.record,
                entries=f.entries,
                trashed_at=f.trashed_at,
                expires_at=f.trashed_at + self._lifetime,
            )
            for f in found
        ]
        return TrashPage(items=items, has_more=has_more)

    def restore(self, user_id: int, request: FileIds) -> list[RestoredFile]:
        """Back into exactly the albums the trash took them out of (not deleted since); all or
        none: :class:`NotFound` unless each is the caller's file, :class:`Conflict`
        (``not_in_trash``) for one that is not in the trash."""
        _distinct(request.file_ids)
        return self._store.restore(user_id, request.file_ids)

    def delete(self, user_id: int, request: FileIds) -> TrashDeleted:
        """Delete trashed files for good, all or none (:class:`NotFound`, :class:`Conflict`
        ``not_in_trash`` for a live file); one already deleted for good is done (idempotent)."""
        _distinct(request.file_ids)
        return self._answer(self._drop(self._store.delete(user_id, request.file_ids)))

    def empty(self, user_id: int) -> TrashDeleted:
        """Delete for good every file in the caller's trash (trashed before this call began),
        a batch per transaction."""
        before = self._clock()
        total = Deleted()
        while True:
            batch = self._drop(self._store.delete_trashed(user_id, before, DELETE_BATCH))
            total.add(batch)
            if batch.files < DELETE_BATCH:
                return self._answer(total)

    def sweep_expired(self) -> int:
        """Delete for good every file, of any user, trashed more than ``trash_days`` ago; a
        batch per transaction; return how many. What the background job repeats."""
        before = self._clock() - self._lifetime
        count = 0
        while True:
            batch = self._drop(self._store.delete_expired(before, DELETE_BATCH))
            count += batch.files
            if batch.files < DELETE_BATCH:
                return count

    def _drop(self, deleted: Deleted) -> Deleted:
        """Delete the blobs of a committed deletion. A failure leaves garbage, not an error for
        the caller: the files are gone either way."""
        for key in deleted.objects:
            try:
                self._blobs.delete(key)
            except Exception:
                log.exception("could not delete blob %s of a deleted file (left as garbage)", key)
        return deleted

    @staticmethod
    def _answer(deleted: Deleted) -> TrashDeleted:
        return TrashDeleted(deleted=deleted.files, bytes=deleted.bytes)


def _distinct(file_ids: Sequence[int]) -> None:
    if len(set(file_ids)) != len(file_ids):
        raise BadRequest("a file appears twice in the request")
