"""SQL for file embeddings: one opaque blob per (file, model), for similar-photo search.

One transaction per method. A put locks the owner's row first, like every other change to a
user's files: a concurrent trash delete of the same files waits (or is seen), so no embedding is
stored for a file deleted for good, and two concurrent puts of one (file, model) replace each
other instead of colliding on the primary key. Deleting a file for good deletes its rows
(:func:`delete_embeddings`, called by :mod:`.trash` in its own transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, delete, insert, select

from photoark.server.store.db import read_transaction
from photoark.server.store.rows import live_file_rows
from photoark.server.store.schema import file_embeddings
from photoark.server.store.versions import lock_user

__all__ = ["EmbeddingStore", "delete_embeddings"]


class EmbeddingStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(
        self, owner_id: int, model: str, items: Sequence[tuple[int, bytes]], now: float
    ) -> None:
        """Store ``(file id, data)`` pairs (distinct ids) under ``model``, replacing what the
        model had for those files. All or none: if any id is not one of the owner's files
        (unknown, another owner's, or deleted for good; a trashed one is fine) it is
        :class:`~photoark.server.errors.NotFound` with ``details.file_ids`` naming those, and
        nothing changes. Idempotent. A few statements whatever the count."""
        file_ids = [file_id for file_id, _ in items]
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            live_file_rows(conn, owner_id, file_ids, name_missing=True)
            conn.execute(
                delete(file_embeddings).where(
                    file_embeddings.c.file_id.in_(file_ids), file_embeddings.c.model == model
                )
            )
            conn.execute(
                insert(file_embeddings),
                [
                    {
                        "file_id": file_id,
                        "model": model,
                        "owner_id": owner_id,
                        "data": data,
                        "updated_at": now,
                    }
                    for file_id, data in items
                ],
            )

    def get(self, owner_id: int, model: str, file_ids: Sequence[int]) -> list[tuple[int, bytes]]:
        """``(file id, data)`` of ``model`` for those of ``file_ids`` that are the owner's
        files and have one, by file id (trashed files' too; other ids are simply absent).
        Read-only."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                select(file_embeddings.c.file_id, file_embeddings.c.data)
                .where(
                    file_embeddings.c.file_id.in_(list(set(file_ids))),
                    file_embeddings.c.model == model,
                    file_embeddings.c.owner_id == owner_id,
                )
                .order_by(file_embeddings.c.file_id)
            )
            return [(int(r.file_id), bytes(r.data)) for r in rows]


def delete_embeddings(conn: Connection, file_ids: Sequence[int]) -> None:
    """Delete every embedding of these files, inside the caller's transaction (deleting files
    for good)."""
    if file_ids:
        conn.execute(delete(file_embeddings).where(file_embeddings.c.file_id.in_(list(file_ids))))
