"""Row helpers shared by the store modules, always run inside the caller's transaction.

Lookups that enforce ownership (another user's row is :class:`NotFound`, like a missing one),
the album-entry upsert used by both commit and add-to-collection, and row → wire-model
conversions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from photoark.protocol.models import Collection, Entry, FileRecord, MarkChange
from photoark.server.errors import NotFound
from photoark.server.store.schema import collection_files, collections, files
from photoark.server.store.versions import lock_user, next_version, next_versions

__all__ = [
    "bump_live_entries",
    "collection_model",
    "entry_model",
    "file_record",
    "live_file_row",
    "live_file_rows",
    "mark_model",
    "require_collection",
    "upsert_entry",
    "version_entries",
]


def collection_model(row: Row[tuple[object, ...]]) -> Collection:
    return Collection(
        id=row.id,
        encrypted_key=row.encrypted_key,
        encrypted_name=row.encrypted_name,
        version=row.version,
        is_deleted=row.is_deleted,
    )


def require_collection(
    conn: Connection, owner_id: int, collection_id: int, *, lock: bool = True
) -> Row[tuple[object, ...]]:
    """The owner's live collection, or :class:`NotFound`.

    With ``lock`` (for write transactions) the owner's row is locked FIRST, as an album delete
    does: a delete that committed meanwhile is then seen (the album is :class:`NotFound`), and
    one that starts later waits for this transaction, so nothing is ever put in a deleted
    album. (On PostgreSQL's READ COMMITTED a check made before the lock could be stale.)
    """
    if lock:
        lock_user(conn, owner_id)
    row = conn.execute(
        select(collections).where(
            collections.c.id == collection_id,
            collections.c.owner_id == owner_id,
            collections.c.is_deleted.is_(False),
        )
    ).first()
    if row is None:
        raise NotFound("no such collection")
    return row


def upsert_entry(
    conn: Connection, owner_id: int, collection_id: int, file_id: int, encrypted_key: bytes
) -> Row[tuple[object, ...]]:
    """Put ``file_id`` in the collection: a live entry is returned unchanged, a tombstone is
    revived with the new key and a new version, a missing one is inserted."""
    where = (collection_files.c.collection_id == collection_id) & (
        collection_files.c.file_id == file_id
    )
    lock_user(conn, owner_id)  # two concurrent adds of one file: the second sees the first
    row = conn.execute(select(collection_files).where(where)).first()
    if row is not None and not row.is_deleted:
        return row
    version = next_version(conn, owner_id)
    values = {
        "encrypted_key": encrypted_key,
        "version": version,
        "is_deleted": False,
        "trashed": False,
    }
    if row is None:
        conn.execute(
            insert(collection_files).values(
                collection_id=collection_id, file_id=file_id, owner_id=owner_id, **values
            )
        )
    else:
        conn.execute(update(collection_files).where(where).values(**values))
    return conn.execute(select(collection_files).where(where)).one()


def file_record(row: Row[tuple[object, ...]]) -> FileRecord:
    return FileRecord(
        id=row.id,
        content_size=row.content_size,
        thumbnail_size=row.thumbnail_size,
        encrypted_metadata=row.encrypted_metadata,
        created_at=row.created_at,
        is_trashed=row.trashed_at is not None,
    )


def live_file_row(
    conn: Connection, owner_id: int, file_id: int, *, trashed: bool = True
) -> Row[tuple[object, ...]]:
    """The owner's file unless deleted forever, or :class:`NotFound`; with ``trashed=False`` a
    file in the trash is :class:`NotFound` too (what may go in an album)."""
    return live_file_rows(conn, owner_id, [file_id], trashed=trashed)[file_id]


def live_file_rows(
    conn: Connection,
    owner_id: int,
    file_ids: Sequence[int],
    *,
    trashed: bool = True,
    name_missing: bool = False,
) -> dict[int, Row[tuple[object, ...]]]:
    """:func:`live_file_row` for many distinct ids in one query, by id; :class:`NotFound` if
    any is missing (or another owner's, or with ``trashed=False`` in the trash), with
    ``name_missing`` listing those ids in ``details.file_ids`` (ids the caller sent: that
    tells nothing about other users' files)."""
    query = select(files).where(
        files.c.id.in_(list(file_ids)),
        files.c.owner_id == owner_id,
        files.c.is_deleted.is_(False),
    )
    if not trashed:
        query = query.where(files.c.trashed_at.is_(None))
    rows = {int(r.id): r for r in conn.execute(query)}
    if len(rows) != len(set(file_ids)):
        missing = [i for i in file_ids if i not in rows]
        raise NotFound("no such file", {"file_ids": missing} if name_missing else None)
    return rows


def mark_model(row: Row[tuple[object, ...]]) -> MarkChange:
    return MarkChange(mark=row.mark, is_deleted=row.is_deleted, version=row.version)


def entry_model(row: Row[tuple[object, ...]], file_row: Row[tuple[object, ...]] | None) -> Entry:
    """An album entry; the file record is left out for tombstones."""
    return Entry(
        collection_id=row.collection_id,
        file_id=row.file_id,
        encrypted_key=row.encrypted_key,
        version=row.version,
        is_deleted=row.is_deleted,
        file=None if row.is_deleted or file_row is None else file_record(file_row),
    )


def version_entries(
    conn: Connection, owner_id: int, entries: Sequence[tuple[int, int]], **values: Any
) -> int:
    """Give these album entries ``(collection id, file id)`` the owner's next versions, in
    the order given, setting ``values`` on them too (e.g. ``is_deleted=True``): one
    ``UPDATE`` run for all of them. Returns how many."""
    versions = next_versions(conn, owner_id, len(entries))
    if entries:
        conn.execute(
            update(collection_files)
            .where(
                collection_files.c.collection_id == bindparam("cid"),
                collection_files.c.file_id == bindparam("fid"),
            )
            .values(**values, version=bindparam("v")),
            [
                {"cid": cid, "fid": fid, "v": v}
                for (cid, fid), v in zip(entries, versions, strict=True)
            ],
        )
    return len(entries)


def bump_live_entries(
    conn: Connection, owner_id: int, file_ids: Sequence[int], **values: Any
) -> int:
    """Give every live album entry of these files a new version (so diff sync carries the
    change to other devices), setting ``values`` on them too (e.g. ``is_deleted=True``).
    A few statements whatever the count; returns how many entries changed."""
    entries = conn.execute(
        select(collection_files.c.collection_id, collection_files.c.file_id)
        .where(
            collection_files.c.file_id.in_(file_ids),
            collection_files.c.owner_id == owner_id,
            collection_files.c.is_deleted.is_(False),
        )
        .order_by(collection_files.c.file_id, collection_files.c.collection_id)
    ).all()
    return version_entries(
        conn, owner_id, [(e.collection_id, e.file_id) for e in entries], **values
    )
