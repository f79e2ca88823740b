"""SQL for bundles: many small files committed in one transaction, and thumbnails attached to
committed files afterwards.

A bundle item is recorded as a committed upload whose id the client chose, so the item is
idempotent: re-sending a bundle (after a lost answer) puts the files the first one made into
the requested albums again, as :meth:`FileStore.recommit` does, and stores nothing twice.

Direct transfers (S3 mode): the items were *staged* first (open single-part sessions, the
quota admitted then, their objects PUT by the client); :meth:`BundleStore.commit_staged` and
:meth:`BundleStore.set_thumbnails_staged` close those sessions into files or thumbnails. Every
commit asks for copies of its new objects on the replica stores, in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from photoark.protocol.models import FileRecord
from photoark.server.errors import Conflict, NotFound
from photoark.server.store.db import read_transaction
from photoark.server.store.files import enqueue_copies, recommit_in
from photoark.server.store.rows import (
    bump_live_entries,
    file_record,
    live_file_rows,
    require_collection,
)
from photoark.server.store.schema import collection_files, files, uploads
from photoark.server.store.uploads import COMMITTED, OPEN, quota_and_use
from photoark.server.store.versions import lock_user, next_versions

__all__ = ["BundleFile", "BundleStore", "NewThumbnail", "StagedThumbnail"]


@dataclass(frozen=True)
class BundleFile:
    """A verified bundle item; ``content_object`` is ``None`` for an item already committed
    (nothing was written for it)."""

    upload_id: str
    collection_id: int
    content_object: str | None
    content_size: int
    encrypted_key: bytes
    encrypted_metadata: bytes


@dataclass(frozen=True)
class NewThumbnail:
    file_id: int
    thumbnail_object: str
    thumbnail_size: int


@dataclass(frozen=True)
class StagedThumbnail:
    """A verified staged thumbnail: session ``upload_id`` (open, or committed by an earlier
    send of the same item: then nothing changes) becomes file ``file_id``'s thumbnail."""

    file_id: int
    upload_id: str
    thumbnail_object: str
    thumbnail_size: int
    committed: bool


class BundleStore:
    def __init__(self, engine: Engine, replicas: Sequence[str] = ()) -> None:
        self._engine = engine
        self._replicas = tuple(replicas)  # replica store names: each commit's copies to make

    def committed(self, owner_id: int, upload_ids: Sequence[str]) -> set[str]:
        """Which of ``upload_ids`` are already committed uploads of the owner; an open
        session's id is a :class:`Conflict`, another owner's a :class:`NotFound` (as every
        other look-up of another user's upload: its existence is not told; ids are random,
        so never by chance)."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                select(uploads.c.id, uploads.c.owner_id, uploads.c.state).where(
                    uploads.c.id.in_(list(upload_ids))
                )
            ).all()
        for row in rows:
            if row.owner_id != owner_id:
                raise NotFound(f"no such upload {row.id}")
            if row.state != COMMITTED:
                raise Conflict(f"upload id {row.id} is already in use")
        return {str(row.id) for row in rows}

    def commit(
        self,
        owner_id: int,
        items: Sequence[BundleFile],
        now: float,
        admit: Callable[[int, int], None],
    ) -> list[FileRecord]:
        """Insert the new files and their entries, recommit the known ones; one transaction.

        ``admit(quota, used)`` checks the bytes of the new items (the caller's rule). Returns
        the files, per item in order. An item that became
        committed since :meth:`committed` (a concurrent resend) is a :class:`Conflict`; the
        caller drops what it wrote and the client's retry recommits it.
        """
        with self._engine.begin() as conn:
            for collection_id in {i.collection_id for i in items}:
                require_collection(conn, owner_id, collection_id)
            quota, used = quota_and_use(conn, owner_id)  # locks the owner's row
            admit(quota, used)
            new = [i for i in items if i.content_object is not None]
            if (
                new
                and conn.execute(
                    select(uploads.c.id).where(uploads.c.id.in_([i.upload_id for i in new]))
                ).first()
            ):
                raise Conflict("an upload id of the bundle was committed meanwhile")
            file_ids = self._insert_files(conn, owner_id, new, now)
            self._enqueue(conn, new)
            return _records(conn, owner_id, items, file_ids, now)

    def commit_staged(
        self, owner_id: int, items: Sequence[BundleFile], now: float
    ) -> list[FileRecord]:
        """Close verified staged sessions into files with their entries; recommit the items
        already committed (``content_object`` ``None``); one transaction; records in order.

        Each new item's session must still be open and unexpired at ``now`` (checked by the
        closing ``UPDATE``): one committed meanwhile (a concurrent resend) is a
        :class:`Conflict` (the client's retry recommits it), an expired or aborted one
        :class:`NotFound` (``details.upload_ids``). No quota check: staging admitted the
        bytes, and the open sessions counted them until now.
        """
        with self._engine.begin() as conn:
            for collection_id in {i.collection_id for i in items}:
                require_collection(conn, owner_id, collection_id)
            lock_user(conn, owner_id)
            new = [i for i in items if i.content_object is not None]
            _close_staged(conn, owner_id, {i.upload_id: str(i.content_object) for i in new}, now)
            file_ids = self._insert_files(conn, owner_id, new, now, insert_uploads=False)
            if new:
                conn.execute(
                    update(uploads)
                    .where(uploads.c.id == bindparam("uid"))
                    .values(file_id=bindparam("fid")),
                    [{"uid": i.upload_id, "fid": file_ids[i.upload_id]} for i in new],
                )
            self._enqueue(conn, new)
            return _records(conn, owner_id, items, file_ids, now)

    def _enqueue(self, conn: Connection, new: Sequence[BundleFile]) -> None:
        enqueue_copies(conn, {str(i.content_object): i.content_size for i in new}, self._replicas)

    @staticmethod
    def _insert_files(
        conn: Connection,
        owner_id: int,
        new: Sequence[BundleFile],
        now: float,
        insert_uploads: bool = True,
    ) -> dict[str, int]:
        """Insert the new files, their committed uploads (unless the sessions exist:
        ``insert_uploads`` false) and album entries in a few statements whatever the count
        (executemany; versions taken in one update); upload id → file id."""
        if not new:
            return {}
        rows = conn.execute(
            insert(files).returning(files.c.id, sort_by_parameter_order=True),
            [
                {
                    "owner_id": owner_id,
                    "content_object": i.content_object,
                    "content_size": i.content_size,
                    "thumbnail_object": None,
                    "thumbnail_size": 0,
                    "encrypted_metadata": i.encrypted_metadata,
                    "created_at": now,
                    "trashed_at": None,
                    "is_deleted": False,
                }
                for i in new
            ],
        ).all()
        file_ids = {i.upload_id: int(r.id) for i, r in zip(new, rows, strict=True)}
        if insert_uploads:
            conn.execute(
                insert(uploads),
                [
                    {
                        "id": i.upload_id,
                        "owner_id": owner_id,
                        "size": i.content_size,
                        "part_size": i.content_size,
                        "part_count": 1,
                        "state": COMMITTED,
                        "object_key": i.content_object,
                        "file_id": file_ids[i.upload_id],
                        "created_at": now,
                        "expires_at": now,
                    }
                    for i in new
                ],
            )
        _insert_entries(conn, owner_id, new, file_ids)
        return file_ids

    def set_thumbnails(
        self,
        owner_id: int,
        thumbs: Sequence[NewThumbnail],
        admit: Callable[[int], Callable[[int, int], None]],
    ) -> tuple[list[FileRecord], list[str]]:
        """Attach each thumbnail to its (live) file, replacing any earlier one; one transaction.

        Every live album entry of a changed file takes a new version, so other devices' diff
        sync sees the new thumbnail size. ``admit(growth)(quota, used)`` checks the bytes added
        (the quota rule, as :func:`~photoark.server.services.uploads.admit_quota`).
        Returns the updated records and the object keys of replaced thumbnails (for the
        caller to delete once this committed).
        """
        if len({t.file_id for t in thumbs}) != len(thumbs):
            raise Conflict("a file appears twice in the thumbnail bundle")
        ids = [t.file_id for t in thumbs]
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            rows = live_file_rows(conn, owner_id, ids)
            growth = sum(t.thumbnail_size - int(rows[t.file_id].thumbnail_size) for t in thumbs)
            if growth > 0:
                admit(growth)(*quota_and_use(conn, owner_id))
            # a few statements whatever the count: executemany, versions taken in one update
            conn.execute(
                update(files)
                .where(files.c.id == bindparam("fid"))
                .values(thumbnail_object=bindparam("obj"), thumbnail_size=bindparam("size")),
                [
                    {"fid": t.file_id, "obj": t.thumbnail_object, "size": t.thumbnail_size}
                    for t in thumbs
                ],
            )
            bump_live_entries(conn, owner_id, ids)
            enqueue_copies(
                conn, {t.thumbnail_object: t.thumbnail_size for t in thumbs}, self._replicas
            )
            replaced = [
                str(rows[t.file_id].thumbnail_object)
                for t in thumbs
                if rows[t.file_id].thumbnail_object is not None
            ]
            records = [
                file_record(rows[t.file_id]).model_copy(update={"thumbnail_size": t.thumbnail_size})
                for t in thumbs
            ]
            return records, replaced

    def set_thumbnails_staged(
        self, owner_id: int, thumbs: Sequence[StagedThumbnail], now: float
    ) -> tuple[list[FileRecord], list[str]]:
        """Close verified staged thumbnail sessions onto their (live) files, replacing any
        earlier thumbnail; one transaction. An item whose session an earlier send committed
        changes nothing (its file is answered as it is). Every live album entry of a changed
        file takes a new version. No quota check: staging admitted the bytes. Returns the
        records in order and the replaced thumbnails' object keys (for the caller to delete
        once this committed). :class:`NotFound` for a file that is not the owner's live one
        (as ``set_thumbnails``), or a session expired or aborted (``details.upload_ids``);
        :class:`Conflict` for a file twice, or a session committed meanwhile.
        """
        if len({t.file_id for t in thumbs}) != len(thumbs):
            raise Conflict("a file appears twice in the thumbnail bundle")
        ids = [t.file_id for t in thumbs]
        new = [t for t in thumbs if not t.committed]
        with self._engine.begin() as conn:
            lock_user(conn, owner_id)
            rows = live_file_rows(conn, owner_id, ids)
            _close_staged(conn, owner_id, {t.upload_id: t.thumbnail_object for t in new}, now)
            if new:
                conn.execute(
                    update(files)
                    .where(files.c.id == bindparam("fid"))
                    .values(thumbnail_object=bindparam("obj"), thumbnail_size=bindparam("size")),
                    [
                        {"fid": t.file_id, "obj": t.thumbnail_object, "size": t.thumbnail_size}
                        for t in new
                    ],
                )
                conn.execute(
                    update(uploads)
                    .where(uploads.c.id == bindparam("uid"))
                    .values(file_id=bindparam("fid")),
                    [{"uid": t.upload_id, "fid": t.file_id} for t in new],
                )
                bump_live_entries(conn, owner_id, [t.file_id for t in new])
                enqueue_copies(
                    conn, {t.thumbnail_object: t.thumbnail_size for t in new}, self._replicas
                )
            replaced = [
                str(rows[t.file_id].thumbnail_object)
                for t in new
                if rows[t.file_id].thumbnail_object not in (None, t.thumbnail_object)
            ]
            records = [
                file_record(rows[t.file_id]).model_copy(update={"thumbnail_size": t.thumbnail_size})
                if not t.committed
                else file_record(rows[t.file_id])
                for t in thumbs
            ]
            return records, replaced


def _close_staged(conn: Connection, owner_id: int, objects: Mapping[str, str], now: float) -> None:
    """Mark open, unexpired staged sessions (upload id -> the object key the caller verified)
    committed; :class:`Conflict` if one was committed meanwhile or now points at another
    object (re-staged with other bytes after the caller's check: the verified object may
    already be swept), :class:`NotFound` (``details.upload_ids``) if one is gone or expired.
    The ``UPDATE`` locks the rows, so no re-stage moves them before this transaction ends."""
    if not objects:
        return
    upload_ids = list(objects)
    closed = conn.execute(
        update(uploads)
        .where(
            uploads.c.id.in_(list(upload_ids)),
            uploads.c.owner_id == owner_id,
            uploads.c.state == OPEN,
            uploads.c.expires_at >= now,
        )
        .values(state=COMMITTED)
    ).rowcount
    if closed == len(upload_ids):
        keys = conn.execute(
            select(uploads.c.id, uploads.c.object_key).where(uploads.c.id.in_(upload_ids))
        ).all()
        if any(objects[upload_id] != key for upload_id, key in keys):
            raise Conflict("an upload of the request was staged again meanwhile: send it again")
        return
    states = dict(
        conn.execute(
            select(uploads.c.id, uploads.c.state).where(
                uploads.c.id.in_(list(upload_ids)), uploads.c.owner_id == owner_id
            )
        ).all()
    )
    if any(state == COMMITTED for state in states.values()):
        # (also those this statement closed: the whole transaction is rolled back)
        raise Conflict("an upload of the request was committed meanwhile: send it again")
    gone = [u for u in upload_ids if states.get(u) != OPEN]
    raise NotFound("no such upload (expired or aborted)", {"upload_ids": gone or upload_ids})


def _insert_entries(
    conn: Connection, owner_id: int, new: Sequence[BundleFile], file_ids: dict[str, int]
) -> None:
    if not new:
        return
    versions = next_versions(conn, owner_id, len(new))
    conn.execute(
        insert(collection_files),
        [
            {
                "collection_id": i.collection_id,
                "file_id": file_ids[i.upload_id],
                "owner_id": owner_id,
                "encrypted_key": i.encrypted_key,
                "version": version,
                "is_deleted": False,
            }
            for i, version in zip(new, versions, strict=True)
        ],
    )


def _records(
    conn: Connection,
    owner_id: int,
    items: Sequence[BundleFile],
    file_ids: dict[str, int],
    now: float,
) -> list[FileRecord]:
    """Per item in order: the new file's record, or the recommitted file's."""
    out: list[FileRecord] = []
    for item in items:
        if item.content_object is None:
            out.append(
                recommit_in(conn, owner_id, item.upload_id, item.collection_id, item.encrypted_key)
            )
            continue
        out.append(
            FileRecord(
                id=file_ids[item.upload_id],
                content_size=item.content_size,
                thumbnail_size=0,
                encrypted_metadata=item.encrypted_metadata,
                created_at=now,
            )
        )
    return out
