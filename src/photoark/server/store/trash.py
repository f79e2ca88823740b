"""SQL for the trash: moving files in, listing, restoring, and deleting them for good.

Trashing a file sets ``files.trashed_at`` and tombstones every live album entry of the file
with a new version from the owner's change counter (so diff sync shows the removals), marking
those tombstones ``trashed``: they are the entries a restore brings back, and only they (an
entry the user had removed before stays removed).

Deleting for good keeps the ``files`` row (``is_deleted``, metadata erased, ``trashed_at``
cleared) rather than removing it: the file's album tombstones must stay for diff sync (a
device that last synced before the trash still has to learn the removal), usage and every
lookup already skip deleted rows, and the row keeps the object keys, so blobs a crash left
behind (they are deleted after the commit) can be found and deleted by a later sweeper. The
file's upload rows go: a client resuming an upload of it is told the upload is unknown. Its
embeddings go too.

Every method that changes a user's files locks the user's row first, like adds to albums and
thumbnail bundles do, so a concurrent change of the same files waits; the expiry sweep locks
the users of a batch in id order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, Engine, delete, select, update

from photoark.protocol.models import FileRecord, RestoredFile, TrashEntry
from photoark.server.errors import Conflict, NotFound
from photoark.server.store.db import read_transaction
from photoark.server.store.embeddings import delete_embeddings
from photoark.server.store.rows import (
    bump_live_entries,
    file_record,
    live_file_rows,
    version_entries,
)
from photoark.server.store.schema import collection_files, collections, files, upload_parts, uploads
from photoark.server.store.versions import lock_user

__all__ = ["Deleted", "TrashStore", "TrashedFile"]


@dataclass(frozen=True)
class TrashedFile:
    """A file in the trash with the entries its trashing removed."""

    record: FileRecord
    entries: list[TrashEntry]
    trashed_at: float


@dataclass
class Deleted:
    """What a deletion for good removed: files, their bytes, and the object keys whose blobs the
    caller deletes once the transaction committed."""

    files: int = 0
    bytes: int = 0
    objects: list[str] = field(default_factory=list)

    def add(self, other: Deleted) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.objects.extend(other.objects)


_in_trash = files.c.is_deleted.is_(False) & files.c.trashed_at.is_not(None)


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

    def page(self, owner_id: int, after: int, limit: int) -> tuple[list[TrashedFile], bool]:
        """The owner's trashed files with an id above ``after``, by id, at most ``limit``, and
        whether more follow. Each with its entries marked ``trashed`` (by album id), also those
        of albums deleted since."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                select(files)
                .where(files.c.owner_id == owner_id, _in_trash, files.c.id > after)
                .order_by(files.c.id)
                .limit(limit + 1)
            ).all()
            rows, has_more = rows[:limit], len(rows) > limit
            entries: dict[int, list[TrashEntry]] = {int(r.id): [] for r in rows}
            if rows:
                for e in conn.execute(
                    select(
                        collection_files.c.file_id,
                        collection_files.c.collection_id,
                        collection_files.c.encrypted_key,
                        collections.c.encrypted_key.label("collection_key"),
                    )
                    .join(collections, collections.c.id == collection_files.c.collection_id)
                    .where(
                        collection_files.c.file_id.in_(list(entries)),
                        collection_files.c.owner_id == owner_id,
                        collection_files.c.trashed.is_(True),
                    )
                    .order_by(collection_files.c.file_id, collection_files.c.collection_id)
                ):
                    entries[int(e.file_id)].append(
                        TrashEntry(
                            collection_id=e.collection_id,
                            encrypted_key=e.encrypted_key,
                            collection_key=e.collection_key,
                        )
                    )
        items = [TrashedFile(file_record(r), entries[int(r.id)], float(r.trashed_at)) for r in rows]
        return items, has_more

    def restore(self, owner_id: int, file_ids: Sequence[int]) -> list[RestoredFile]:
        """Take the owner's trashed files (distinct ids) out of the trash, all or none: a file
        that is not the owner's (or deleted for good) is :class:`NotFound`, one not in the
        trash :class:`Conflict` (``details.reason == "not_in_trash"``). Revives exactly the
        entries the trash removed (new versions, in file then album order), except those of
        albums deleted since, and clears every trash mark of the files. Returns each file with
        the albums it is back in, in order."""
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            rows = live_file_rows(conn, owner_id, file_ids, name_missing=True)
            _require_trashed({i: rows[i].trashed_at is not None for i in file_ids})
            marked = collection_files.c.file_id.in_(list(file_ids)) & (
                collection_files.c.trashed.is_(True)
            )
            revive = conn.execute(
                select(collection_files.c.collection_id, collection_files.c.file_id)
                .join(collections, collections.c.id == collection_files.c.collection_id)
                .where(marked, collections.c.is_deleted.is_(False))
                .order_by(collection_files.c.file_id, collection_files.c.collection_id)
            ).all()
            version_entries(
                conn,
                owner_id,
                [(e.collection_id, e.file_id) for e in revive],
                is_deleted=False,
                trashed=False,
            )
            # marks left on entries of deleted albums: nothing to bring back there
            conn.execute(update(collection_files).where(marked).values(trashed=False))
            conn.execute(
                update(files).where(files.c.id.in_(list(file_ids))).values(trashed_at=None)
            )
            albums: dict[int, list[int]] = {i: [] for i in file_ids}
            for e in revive:
                albums[int(e.file_id)].append(int(e.collection_id))
            return [
                RestoredFile(
                    file=file_record(rows[i]).model_copy(update={"is_trashed": False}),
                    collection_ids=albums[i],
                )
                for i in file_ids
            ]

    def delete(self, owner_id: int, file_ids: Sequence[int]) -> Deleted:
        """Delete the owner's trashed files (distinct ids) for good, all or none: a file that
        is not the owner's is :class:`NotFound`, a live one :class:`Conflict` (``not_in_trash``);
        one already deleted for good is skipped (idempotent). The caller deletes the returned
        objects once this returned (the transaction committed)."""
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            states = _owned_states(conn, owner_id, file_ids)
            # a file already deleted for good is done: the call is idempotent
            pending = [i for i in file_ids if states[i] != _DELETED]
            _require_trashed({i: states[i] == _TRASHED for i in pending})
            return _delete_for_good(conn, pending)

    def delete_trashed(self, owner_id: int, before: float, limit: int) -> Deleted:
        """Delete for good at most ``limit`` of the owner's files trashed at or before
        ``before`` (emptying the trash, a batch per transaction)."""
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            ids = conn.execute(
                select(files.c.id)
                .where(files.c.owner_id == owner_id, _in_trash, files.c.trashed_at <= before)
                .order_by(files.c.id)
                .limit(limit)
            ).scalars()
            return _delete_for_good(conn, [int(i) for i in ids])

    def delete_expired(self, before: float, limit: int) -> Deleted:
        """Delete for good at most ``limit`` files of any owner trashed at or before ``before``
        (the expiry sweep, a batch per transaction; the users of the batch are locked in id
        order, so two sweeping replicas and users' own changes never deadlock)."""
        with self._engine.begin() as conn:
            found = conn.execute(
                select(files.c.id, files.c.owner_id)
                .where(_in_trash, files.c.trashed_at <= before)
                .order_by(files.c.trashed_at, files.c.id)
                .limit(limit)
            ).all()
            for owner_id in sorted({int(r.owner_id) for r in found}):
                lock_user(conn, owner_id)
            # restored or deleted meanwhile (before the locks): the update re-checks each row
            return _delete_for_good(conn, [int(r.id) for r in found], files.c.trashed_at <= before)


_LIVE, _TRASHED, _DELETED = "live", "trashed", "deleted"


def _owned_states(conn: Connection, owner_id: int, file_ids: Sequence[int]) -> dict[int, str]:
    """The owner's files by id, each :data:`_LIVE`, :data:`_TRASHED` or :data:`_DELETED` (for
    good); :class:`NotFound` (with the missing ids) if any is missing or another owner's."""
    states = {
        int(r.id): _DELETED if r.is_deleted else _LIVE if r.trashed_at is None else _TRASHED
        for r in conn.execute(
            select(files.c.id, files.c.is_deleted, files.c.trashed_at).where(
                files.c.id.in_(list(file_ids)), files.c.owner_id == owner_id
            )
        )
    }
    missing = [i for i in file_ids if i not in states]
    if missing:
        raise NotFound("no such file", {"file_ids": missing})
    return states


def _require_trashed(trashed: Mapping[int, bool]) -> None:
    """:class:`Conflict` naming the files (id → in the trash) that are not in the trash."""
    live = [i for i, in_trash in trashed.items() if not in_trash]
    if live:
        raise Conflict(
            f"{len(live)} of the files are not in the trash",
            {"reason": "not_in_trash", "file_ids": live},
        )


def _delete_for_good(conn: Connection, file_ids: list[int], *extra: ColumnElement[bool]) -> Deleted:
    """Mark these files deleted (only those still in the trash: the ``UPDATE`` checks each row
    as it changes it), erase their metadata and trash marks, drop their upload rows and
    embeddings. The caller holds the owners' locks."""
    if not file_ids:
        return Deleted()
    gone = conn.execute(
        update(files)
        .where(files.c.id.in_(file_ids), _in_trash, *extra)
        .values(is_deleted=True, trashed_at=None, encrypted_metadata=b"")
        .returning(
            files.c.id,
            files.c.content_object,
            files.c.content_size,
            files.c.thumbnail_object,
            files.c.thumbnail_size,
        )
    ).all()
    ids = [int(r.id) for r in gone]
    if not ids:
        return Deleted()
    conn.execute(
        update(collection_files)
        .where(collection_files.c.file_id.in_(ids), collection_files.c.trashed.is_(True))
        .values(trashed=False)
    )
    upload_ids = select(uploads.c.id).where(uploads.c.file_id.in_(ids))
    conn.execute(delete(upload_parts).where(upload_parts.c.upload_id.in_(upload_ids)))
    conn.execute(delete(uploads).where(uploads.c.file_id.in_(ids)))
    delete_embeddings(conn, ids)
    objects = [str(r.content_object) for r in gone]
    objects += [str(r.thumbnail_object) for r in gone if r.thumbnail_object is not None]
    return Deleted(
        files=len(gone),
        bytes=sum(int(r.content_size) + int(r.thumbnail_size) for r in gone),
        objects=objects,
    )
