"""SQL for committed files: the commit transaction, lookups and usage sums.

A commit also asks for copies of its objects on every replica store (``--replicate-to``):
their ``object_copies`` rows are added in the commit's own transaction
(:meth:`CopyStore.enqueue`), so no committed object lacks them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from photoark.protocol.models import FileRecord
from photoark.server.errors import Conflict, NotFound
from photoark.server.store.copies import CopyStore
from photoark.server.store.db import read_transaction
from photoark.server.store.rows import (
    file_record,
    live_file_row,
    live_file_rows,
    require_collection,
    upsert_entry,
)
from photoark.server.store.schema import collection_files, files, uploads
from photoark.server.store.uploads import quota_and_use
from photoark.server.store.versions import lock_user

__all__ = [
    "CommitParts",
    "CommitResult",
    "FileRow",
    "FileStore",
    "UsageSums",
    "enqueue_copies",
    "recommit_in",
]


@dataclass(frozen=True)
class FileRow:
    """A file with where its bytes live (object keys stay on the server)."""

    record: FileRecord
    content_object: str
    thumbnail_object: str | None


@dataclass(frozen=True)
class CommitParts:
    """The verified facts a commit writes: uploads to close and sizes from the blob store.

    The thumbnail is an upload to close (``thumbnail_upload_id``), an object already written
    inline (``thumbnail_object`` without an upload id), or absent.
    """

    content_upload_id: str
    content_object: str
    content_size: int
    thumbnail_upload_id: str | None
    thumbnail_object: str | None
    thumbnail_size: int


@dataclass(frozen=True)
class CommitResult:
    """The committed file; ``created`` is false when an earlier commit of the upload made it
    (the parts given were then not used)."""

    record: FileRecord
    created: bool


@dataclass(frozen=True)
class UsageSums:
    files: int
    stored_bytes: int
    trash_bytes: int
    logical_bytes: int  # summed over album entries: what the albums would take without dedup


def enqueue_copies(
    conn: Connection, objects: Mapping[str, int | None], replicas: Sequence[str]
) -> None:
    """Ask, inside the caller's commit transaction, for copies of ``objects`` (key → size) on
    every replica store (none: nothing)."""
    if replicas and objects:
        CopyStore.enqueue(conn, objects, replicas)


class FileStore:
    def __init__(self, engine: Engine, replicas: Sequence[str] = ()) -> None:
        self._engine = engine
        self._replicas = tuple(replicas)  # replica store names: each commit's copies to make

    def get(self, owner_id: int, file_id: int) -> FileRow:
        with read_transaction(self._engine) as conn:
            row = live_file_row(conn, owner_id, file_id)
        return FileRow(file_record(row), row.content_object, row.thumbnail_object)

    def get_many(self, owner_id: int, file_ids: Sequence[int]) -> list[FileRow]:
        """:meth:`get` for many distinct ids in one query, in order; :class:`NotFound` (with
        ``details.file_ids``) if any is not the owner's file."""
        with read_transaction(self._engine) as conn:
            rows = live_file_rows(conn, owner_id, file_ids, name_missing=True)
        return [
            FileRow(file_record(rows[i]), rows[i].content_object, rows[i].thumbnail_object)
            for i in file_ids
        ]

    def find_many(self, owner_id: int, file_ids: Sequence[int]) -> dict[int, FileRow]:
        """The owner's files (not deleted for good) among ``file_ids``, by id; the others
        are left out."""
        query = select(files).where(
            files.c.id.in_(list(file_ids)),
            files.c.owner_id == owner_id,
            files.c.is_deleted.is_(False),
        )
        with read_transaction(self._engine) as conn:
            return {
                int(r.id): FileRow(file_record(r), r.content_object, r.thumbnail_object)
                for r in conn.execute(query)
            }

    def commit(
        self,
        owner_id: int,
        collection_id: int,
        parts: CommitParts,
        encrypted_key: bytes,
        encrypted_metadata: bytes,
        now: float,
        admit: Callable[[int, int], None] | None = None,
    ) -> CommitResult:
        """Close the uploads, insert the file and its album entry, in one transaction.

        An upload closes only if it is still open and unexpired at ``now`` (checked by the
        closing ``UPDATE`` itself, so the expired-upload collector and a commit never both
        win); otherwise :class:`NotFound`. If the content upload was committed meanwhile (a
        concurrent or repeated commit), the file it made is put in the collection as
        :meth:`recommit` does (``created`` false). ``admit(quota_bytes, used_bytes)``, if given,
        is checked with the owner's row locked before the file is inserted (the quota rule for
        bytes no upload session reserved: an inline thumbnail); raising aborts the commit.
        """
        with self._engine.begin() as conn:
            require_collection(conn, owner_id, collection_id)
            if not _close_upload(conn, owner_id, parts.content_upload_id, now):
                record = recommit_in(
                    conn, owner_id, parts.content_upload_id, collection_id, encrypted_key
                )
                return CommitResult(record, created=False)
            if admit is not None:
                # The content upload, just closed, still counts (as it did while open).
                quota, used = quota_and_use(conn, owner_id)
                admit(quota, used + parts.content_size)
            if parts.thumbnail_upload_id is not None and not _close_upload(
                conn, owner_id, parts.thumbnail_upload_id, now
            ):
                if _upload_state(conn, owner_id, parts.thumbnail_upload_id) == "committed":
                    raise Conflict("the thumbnail upload is already committed")
                raise NotFound("no such upload (the thumbnail upload expired or is gone)")
            file_id = conn.execute(
                insert(files)
                .values(
                    owner_id=owner_id,
                    content_object=parts.content_object,
                    content_size=parts.content_size,
                    thumbnail_object=parts.thumbnail_object,
                    thumbnail_size=parts.thumbnail_size,
                    encrypted_metadata=encrypted_metadata,
                    created_at=time.time(),
                    trashed_at=None,
                    is_deleted=False,
                )
                .returning(files.c.id)
            ).scalar_one()
            upload_ids = [parts.content_upload_id]
            if parts.thumbnail_upload_id is not None:
                upload_ids.append(parts.thumbnail_upload_id)
            conn.execute(
                update(uploads).where(uploads.c.id.in_(upload_ids)).values(file_id=file_id)
            )
            upsert_entry(conn, owner_id, collection_id, int(file_id), encrypted_key)
            objects: dict[str, int | None] = {parts.content_object: parts.content_size}
            if parts.thumbnail_object is not None:
                objects[parts.thumbnail_object] = parts.thumbnail_size
            enqueue_copies(conn, objects, self._replicas)
            return CommitResult(file_record(live_file_row(conn, owner_id, int(file_id))), True)

    def recommit(
        self, owner_id: int, upload_id: str, collection_id: int, encrypted_key: bytes
    ) -> FileRecord:
        """The file a committed upload made, put in the owner's collection if not (or no
        longer) there, as add-to-collection does; :class:`NotFound` for a missing collection,
        upload or file."""
        with self._engine.begin() as conn:
            require_collection(conn, owner_id, collection_id)
            return recommit_in(conn, owner_id, upload_id, collection_id, encrypted_key)

    def usage(self, owner_id: int) -> UsageSums:
        """Each file counted once, however many albums hold it."""
        size = files.c.content_size + files.c.thumbnail_size
        live = (files.c.owner_id == owner_id) & files.c.is_deleted.is_(False)
        with read_transaction(self._engine) as conn:
            count, stored = conn.execute(
                select(func.count(), func.coalesce(func.sum(size), 0)).where(
                    live, files.c.trashed_at.is_(None)
                )
            ).one()
            trash = conn.execute(
                select(func.coalesce(func.sum(size), 0)).where(
                    live, files.c.trashed_at.is_not(None)
                )
            ).scalar_one()
            logical = conn.execute(
                select(func.coalesce(func.sum(size), 0))
                .select_from(collection_files.join(files, files.c.id == collection_files.c.file_id))
                .where(
                    collection_files.c.owner_id == owner_id,
                    collection_files.c.is_deleted.is_(False),
                    live,
                    files.c.trashed_at.is_(None),
                )
            ).scalar_one()
        return UsageSums(int(count), int(stored), int(trash), int(logical))


def _close_upload(conn: Connection, owner_id: int, upload_id: str, now: float) -> bool:
    """Mark an open, unexpired upload committed; ``False`` if it was not (the row lock
    serialises concurrent commits and the expired-upload collector)."""
    result = conn.execute(
        update(uploads)
        .where(
            uploads.c.id == upload_id,
            uploads.c.owner_id == owner_id,
            uploads.c.state == "open",
            uploads.c.expires_at >= now,
        )
        .values(state="committed")
    )
    return result.rowcount == 1


def _upload_state(conn: Connection, owner_id: int, upload_id: str) -> str | None:
    state = conn.execute(
        select(uploads.c.state).where(uploads.c.id == upload_id, uploads.c.owner_id == owner_id)
    ).scalar_one_or_none()
    return None if state is None else str(state)


def recommit_in(
    conn: Connection, owner_id: int, upload_id: str, collection_id: int, encrypted_key: bytes
) -> FileRecord:
    """The committed upload's file, with a live entry in the (already checked) collection.

    A file trashed since is returned as it is (``is_trashed``) and NOT put back in an album
    (a trashed file has no live entry; restoring it is the trash's job): a retried commit or
    bundle still succeeds, and its answer tells the client where the file is.
    """
    lock_user(conn, owner_id)  # before reading the file: a concurrent trash waits
    row = _committed_file(conn, owner_id, upload_id)
    if row.trashed_at is None:
        upsert_entry(conn, owner_id, collection_id, int(row.id), encrypted_key)
    return file_record(row)


def _committed_file(conn: Connection, owner_id: int, upload_id: str) -> Row[tuple[object, ...]]:
    file_id = conn.execute(
        select(uploads.c.file_id).where(
            uploads.c.id == upload_id,
            uploads.c.owner_id == owner_id,
            uploads.c.state == "committed",
        )
    ).scalar_one_or_none()
    if file_id is None:
        raise NotFound("no such upload")
    return live_file_row(conn, owner_id, int(file_id))
