"""SQL for diff sync: a user's collections and album entries changed after a version.

The user's counter is read FIRST; only rows with ``since < version <= counter`` are returned.
Every version up to a committed counter value belongs to a committed transaction (versions are
taken under the user's row lock), so a page never skips a change that commits later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, select

from photoark.protocol.models import Collection, Diff, Entry
from photoark.server.store.db import read_transaction
from photoark.server.store.rows import collection_model, entry_model
from photoark.server.store.schema import collection_files, collections, files
from photoark.server.store.versions import current_version

__all__ = ["SyncStore"]


class SyncStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def diff(self, owner_id: int, since: int, limit: int) -> Diff:
        """At most ``limit`` changes after ``since``, oldest first."""
        with read_transaction(self._engine) as conn:
            counter = current_version(conn, owner_id)
            coll_rows = _changed(conn, collections, owner_id, since, counter, limit + 1)
            entry_rows = _changed(conn, collection_files, owner_id, since, counter, limit + 1)
            file_ids = {row.file_id for row in entry_rows if not row.is_deleted}
            file_rows = {
                row.id: row for row in conn.execute(select(files).where(files.c.id.in_(file_ids)))
            }
        changes: list[tuple[int, Collection | Entry]] = [
            (row.version, collection_model(row)) for row in coll_rows
        ]
        changes += [
            (row.version, entry_model(row, file_rows.get(row.file_id))) for row in entry_rows
        ]
        changes.sort(key=lambda change: change[0])
        page, has_more = changes[:limit], len(changes) > limit
        return Diff(
            collections=[c for _, c in page if isinstance(c, Collection)],
            entries=[e for _, e in page if isinstance(e, Entry)],
            latest_version=page[-1][0] if has_more else counter,
            has_more=has_more,
        )


def _changed(
    conn: Connection, table: Table, owner_id: int, since: int, upto: int, limit: int
) -> Sequence[Row[Any]]:
    """The owner's rows of ``table`` with ``since < version <= upto``, oldest first."""
    return conn.execute(
        select(table)
        .where(table.c.owner_id == owner_id, table.c.version > since, table.c.version <= upto)
        .order_by(table.c.version)
        .limit(limit)
    ).all()
