"""SQL for deletion marks: a user's set of opaque marks, each change with its own version.

One transaction per method. The user's row is locked before the marks are read, so two
concurrent adds of one new mark cannot both insert it, and each changed row takes the next
value of the user's change counter (:mod:`.versions`): diff sync carries it to every device.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from photoark.server.store.schema import deletion_marks
from photoark.server.store.versions import lock_user, next_versions

__all__ = ["MarkStore"]


class MarkStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, owner_id: int, marks: Sequence[str], now: float) -> int:
        """Add distinct ``marks``: a new one is inserted, a tombstone revived (``created_at``
        renewed), each with a new version; a live one is left as it is. Idempotent. Returns
        how many rows changed."""
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            existing = _existing(conn, owner_id, marks)
            changing = [m for m in marks if m not in existing or existing[m]]
            taken = next_versions(conn, owner_id, len(changing))
            versions = dict(zip(changing, taken, strict=True))
            inserts = [m for m in changing if m not in existing]
            if inserts:
                conn.execute(
                    insert(deletion_marks),
                    [
                        {
                            "owner_id": owner_id,
                            "mark": m,
                            "version": versions[m],
                            "is_deleted": False,
                            "created_at": now,
                        }
                        for m in inserts
                    ],
                )
            revivals = [m for m in changing if m in existing]
            if revivals:
                conn.execute(
                    update(deletion_marks)
                    .where(
                        deletion_marks.c.owner_id == owner_id,
                        deletion_marks.c.mark == bindparam("m"),
                    )
                    .values(is_deleted=False, version=bindparam("v"), created_at=now),
                    [{"m": m, "v": versions[m]} for m in revivals],
                )
            return len(changing)

    def remove(self, owner_id: int, marks: Sequence[str]) -> int:
        """Make tombstones of the live ones among distinct ``marks``, each with a new version;
        unknown and removed marks are ignored. Idempotent. Returns how many rows changed."""
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            existing = _existing(conn, owner_id, marks)
            live = [m for m in marks if m in existing and not existing[m]]
            taken = next_versions(conn, owner_id, len(live))
            if live:
                conn.execute(
                    update(deletion_marks)
                    .where(
                        deletion_marks.c.owner_id == owner_id,
                        deletion_marks.c.mark == bindparam("m"),
                    )
                    .values(is_deleted=True, version=bindparam("v")),
                    [{"m": m, "v": v} for m, v in zip(live, taken, strict=True)],
                )
            return len(live)


def _existing(conn: Connection, owner_id: int, marks: Sequence[str]) -> dict[str, bool]:
    """The owner's rows among ``marks``: mark → ``is_deleted``."""
    rows = conn.execute(
        select(deletion_marks.c.mark, deletion_marks.c.is_deleted).where(
            deletion_marks.c.owner_id == owner_id, deletion_marks.c.mark.in_(list(marks))
        )
    )
    return {str(row.mark): bool(row.is_deleted) for row in rows}
