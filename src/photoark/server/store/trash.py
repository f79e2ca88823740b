"""SQL for the trash: moving files in (restore and emptying come later, on the same marks).

Trashing a file sets ``files.trashed_at`` and tombstones every live album entry of the file
with a new version from the owner's change counter (so diff sync shows the removals), marking
those tombstones ``trashed``: they are the entries a restore brings back, and only they (an
entry the user had removed before stays removed).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, update

from photoark.protocol.models import FileRecord
from photoark.server.store.rows import bump_live_entries, file_record, live_file_rows
from photoark.server.store.schema import files
from photoark.server.store.versions import lock_user

__all__ = ["TrashStore"]


class TrashStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def trash(self, owner_id: int, file_ids: Sequence[int], now: float) -> list[FileRecord]:
        """Move the owner's files (distinct ids) to the trash at ``now``; one transaction, a
        few statements whatever the count. All or none: a missing file (or another owner's)
        is :class:`~photoark.server.errors.NotFound` for the whole call. Idempotent: a file
        already in the trash is left as it is (no new version). Returns the records, in order.
        """
        with self._engine.begin() as conn:
            # Serialises with adds to albums, which lock the owner before reading the file:
            # no live entry of a trashed file can appear after this commits.
            lock_user(conn, owner_id)
            rows = live_file_rows(conn, owner_id, file_ids)
            fresh = [i for i in file_ids if rows[i].trashed_at is None]
            if fresh:
                conn.execute(update(files).where(files.c.id.in_(fresh)).values(trashed_at=now))
                bump_live_entries(conn, owner_id, fresh, is_deleted=True, trashed=True)
            # every file is in the trash now (the rows were read before the update)
            return [file_record(rows[i]).model_copy(update={"is_trashed": True}) for i in file_ids]
