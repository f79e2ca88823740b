"""SQL for diff sync: a user's collections, album entries and deletion marks changed after a
version.

The user's counter is read FIRST; only rows with ``since < version <= counter`` are returned.
Every version up to a committed counter value belongs to a committed transaction (versions are
taken under the user's row lock), so a page never skips a change that commits later.

Paging is exact across the three kinds: each changed row holds its own counter value (no two
rows of a user share one), each kind's query takes its ``limit + 1`` oldest changes, and the
``limit + 1`` oldest changes of all kinds are necessarily among those. Merged by version, the
first ``limit`` are the page; one more means ``has_more``, and the page ends at its last
change's version, so the next page starts exactly after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, select

from photoark.protocol.models import Collection, Diff, Entry, MarkChange
from photoark.server.store.db import read_transaction
from photoark.server.store.rows import collection_model, entry_model, mark_model
from photoark.server.store.schema import collection_files, collections, deletion_marks, files
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
            mark_rows = _changed(conn, deletion_marks, owner_id, since, counter, limit + 1)
            file_ids = {row.file_id for row in entry_rows if not row.is_deleted}
            file_rows = {
                row.id: row for row in conn.execute(select(files).where(files.c.id.in_(file_ids)))
            }
        changes: list[tuple[int, Collection | Entry | MarkChange]] = [
            (row.version, collection_model(row)) for row in coll_rows
        ]
        changes += [
            (row.version, entry_model(row, file_rows.get(row.file_id))) for row in entry_rows
        ]
        changes += [(row.version, mark_model(row)) for row in mark_rows]
        changes.sort(key=lambda change: change[0])
        page, has_more = changes[:limit], len(changes) > limit
        return Diff(
            collections=[c for _, c in page if isinstance(c, Collection)],
            entries=[e for _, e in page if isinstance(e, Entry)],
            marks=[m for _, m in page if isinstance(m, MarkChange)],
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
