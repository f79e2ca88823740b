"""SQL for collections (albums) and their entries. One transaction per method.

Every row a method changes takes the owner's next change counter value (:mod:`.versions`).
Another user's collection or file is reported as :class:`NotFound`, exactly like a missing one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, insert, select, update

from photoark.protocol.models import Collection, Entry
from photoark.server.errors import Conflict, NotFound
from photoark.server.store.db import read_transaction
from photoark.server.store.idempotency import create_once
from photoark.server.store.rows import (
    collection_model,
    entry_model,
    file_record,
    live_file_row,
    live_file_rows,
    require_collection,
    upsert_entry,
    version_entries,
)
from photoark.server.store.schema import collection_files, collections
from photoark.server.store.versions import lock_user, next_version, next_versions

__all__ = ["CollectionStore"]


def _request_digest(encrypted_key: bytes, encrypted_name: bytes) -> str:
    """SHA-256 (hex) of a creation request's body, kept with its idempotency key."""
    digest = hashlib.sha256()
    for value in (encrypted_key, encrypted_name):
        digest.update(len(value).to_bytes(8, "big"))
        digest.update(value)
    return digest.hexdigest()


class CollectionStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        owner_id: int,
        encrypted_key: bytes,
        encrypted_name: bytes,
        idempotency_key: str | None = None,
    ) -> Collection:
        """A new album; or, for an ``idempotency_key`` of the owner's used before, the album
        it made, as it is now (nothing created). That key with another key or name is a
        :class:`Conflict`. Race-safe: see :func:`create_once`."""
        digest = _request_digest(encrypted_key, encrypted_name)

        def find(conn: Connection) -> Collection | None:
            row = conn.execute(
                select(collections).where(
                    collections.c.owner_id == owner_id,
                    collections.c.idempotency_key == idempotency_key,
                )
            ).first()
            if row is None:
                return None
            if row.idempotency_digest != digest:
                raise Conflict(
                    "this idempotency key was used to create another album",
                    {"reason": "idempotency_key_reused"},
                )
            return collection_model(row)

        def create(conn: Connection) -> Collection:
            version = next_version(conn, owner_id)
            new_id = conn.execute(
                insert(collections)
                .values(
                    owner_id=owner_id,
                    encrypted_key=encrypted_key,
                    encrypted_name=encrypted_name,
                    version=version,
                    is_deleted=False,
                    idempotency_key=idempotency_key,
                    idempotency_digest=None if idempotency_key is None else digest,
                )
                .returning(collections.c.id)
            ).scalar_one()
            return collection_model(
                conn.execute(select(collections).where(collections.c.id == new_id)).one()
            )

        collection, _ = create_once(self._engine, owner_id, idempotency_key, find, create)
        return collection

    def rename(self, owner_id: int, collection_id: int, encrypted_name: bytes) -> Collection:
        with self._engine.begin() as conn:
            require_collection(conn, owner_id, collection_id)
            version = next_version(conn, owner_id)
            conn.execute(
                update(collections)
                .where(collections.c.id == collection_id)
                .values(encrypted_name=encrypted_name, version=version)
            )
            return collection_model(require_collection(conn, owner_id, collection_id))

    def list(self, owner_id: int) -> list[Collection]:
        query = (
            select(collections)
            .where(collections.c.owner_id == owner_id, collections.c.is_deleted.is_(False))
            .order_by(collections.c.id)
        )
        with read_transaction(self._engine) as conn:
            return [collection_model(row) for row in conn.execute(query)]

    def exists(self, owner_id: int, collection_id: int) -> None:
        """Raise :class:`NotFound` unless the owner has this live collection."""
        with read_transaction(self._engine) as conn:
            require_collection(conn, owner_id, collection_id, lock=False)

    def add_file(
        self, owner_id: int, collection_id: int, file_id: int, encrypted_key: bytes
    ) -> Entry:
        """Add the owner's file to the owner's collection. Idempotent (see :func:`upsert_entry`).
        A file in the trash is :class:`NotFound`, like a missing one."""
        with self._engine.begin() as conn:
            require_collection(conn, owner_id, collection_id)  # locks the owner's row first:
            # a concurrent trash or album delete waits, so the file and album read stay true
            file_row = live_file_row(conn, owner_id, file_id, trashed=False)
            entry = upsert_entry(conn, owner_id, collection_id, file_id, encrypted_key)
            return entry_model(entry, file_row)

    def add_files(
        self, owner_id: int, collection_id: int, items: Sequence[tuple[int, bytes]]
    ) -> Sequence[Entry]:
        """:meth:`add_file` for each ``(file_id, encrypted_key)`` (distinct ids), in one
        transaction and a handful of statements whatever the count: one missing file (or
        another owner's, or a trashed one) refuses the whole batch with :class:`NotFound`."""
        ids = [file_id for file_id, _ in items]
        with self._engine.begin() as conn:
            require_collection(conn, owner_id, collection_id)  # locks the owner's row first
            file_rows = live_file_rows(conn, owner_id, ids, trashed=False)
            in_album = collection_files.c.collection_id == collection_id
            existing = {
                int(r.file_id): r
                for r in conn.execute(
                    select(collection_files).where(in_album, collection_files.c.file_id.in_(ids))
                )
            }
            changing = [(i, key) for i, key in items if i not in existing or existing[i].is_deleted]
            versions = next_versions(conn, owner_id, len(changing))
            changed = {
                file_id: (key, version)
                for (file_id, key), version in zip(changing, versions, strict=True)
            }
            inserts = [i for i in changed if i not in existing]
            if inserts:
                conn.execute(
                    insert(collection_files),
                    [
                        {
                            "collection_id": collection_id,
                            "file_id": i,
                            "owner_id": owner_id,
                            "encrypted_key": changed[i][0],
                            "version": changed[i][1],
                            "is_deleted": False,
                        }
                        for i in inserts
                    ],
                )
            for i in changed:
                if i in existing:  # a tombstone: revived with the new key and version
                    key, version = changed[i]
                    conn.execute(
                        update(collection_files)
                        .where(in_album, collection_files.c.file_id == i)
                        .values(encrypted_key=key, version=version, is_deleted=False, trashed=False)
                    )
            out: list[Entry] = []
            for file_id, _ in items:
                if file_id not in changed:
                    out.append(entry_model(existing[file_id], file_rows[file_id]))
                    continue
                key, version = changed[file_id]
                out.append(
                    Entry(
                        collection_id=collection_id,
                        file_id=file_id,
                        encrypted_key=key,
                        version=version,
                        file=file_record(file_rows[file_id]),
                    )
                )
            return out

    def remove_file(self, owner_id: int, collection_id: int, file_id: int) -> None:
        """Tombstone the entry (new version). Idempotent; :class:`NotFound` if never there."""
        where = (collection_files.c.collection_id == collection_id) & (
            collection_files.c.file_id == file_id
        )
        with self._engine.begin() as conn:
            require_collection(conn, owner_id, collection_id)
            row = conn.execute(select(collection_files).where(where)).first()
            if row is None:
                raise NotFound("the file is not in this collection")
            if row.is_deleted:
                return
            version = next_version(conn, owner_id)
            conn.execute(
                update(collection_files).where(where).values(is_deleted=True, version=version)
            )

    def delete(self, owner_id: int, collection_id: int) -> bool:
        """Delete the owner's album: each live entry becomes a tombstone with a new version
        (in file id order), then the collection takes the next version with ``is_deleted``.
        Files are left as they are. Idempotent: an album of the owner's deleted already
        changes nothing (``False``); another owner's or a missing one is :class:`NotFound`."""
        with self._engine.begin() as conn:
            # The owner's row first, as every write that checks an album does
            # (:func:`require_collection`): an add that checked this album waits, or is done.
            lock_user(conn, owner_id)
            row = conn.execute(
                select(collections.c.is_deleted).where(
                    collections.c.id == collection_id, collections.c.owner_id == owner_id
                )
            ).first()
            if row is None:
                raise NotFound("no such collection")
            if row.is_deleted:
                return False
            in_album = collection_files.c.collection_id == collection_id
            file_ids = (
                conn.execute(
                    select(collection_files.c.file_id)
                    .where(in_album, collection_files.c.is_deleted.is_(False))
                    .order_by(collection_files.c.file_id)
                )
                .scalars()
                .all()
            )
            entries = [(collection_id, f) for f in file_ids]
            version_entries(conn, owner_id, entries, is_deleted=True, trashed=False)
            conn.execute(
                update(collections)
                .where(collections.c.id == collection_id)
                .values(is_deleted=True, version=next_version(conn, owner_id))
            )
            return True
