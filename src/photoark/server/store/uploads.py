"""SQL for resumable upload sessions and their parts. One transaction per method.

An open session past its ``expires_at`` is gone for every purpose before the collector deletes
it: it is not listed, and its size no longer counts towards the quota (:func:`quota_and_use`).

Direct transfers (S3): a multi-part session keeps its S3 multipart ``UploadId`` in
``store_upload_id`` (set once, by :meth:`UploadStore.set_store_upload_id`), and each recorded
part the ETag the store listed for it; single-part sessions are *staged* many at a time
(:meth:`UploadStore.stage`), their ids chosen by the client or the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from photoark.protocol.models import PartInfo
from photoark.server.errors import Conflict, NotFound
from photoark.server.store.db import read_transaction
from photoark.server.store.idempotency import create_once
from photoark.server.store.schema import files, upload_parts, uploads, users

__all__ = ["OpenUploadRow", "Staged", "UploadRow", "UploadStore", "quota_and_use"]

OPEN = "open"
COMMITTED = "committed"


@dataclass(frozen=True)
class UploadRow:
    id: str
    owner_id: int
    size: int
    part_size: int
    part_count: int
    state: str
    object_key: str
    file_id: int | None
    created_at: float
    expires_at: float
    parts: tuple[PartInfo, ...] = ()
    idempotency_key: str | None = None  # the client's, from the opening request
    store_upload_id: str | None = None  # the S3 multipart upload's id (direct transfers)
    etags: tuple[str | None, ...] = ()  # per part of ``parts``: the ETag listed when confirmed


@dataclass(frozen=True)
class Staged:
    """A staged single-part session, as :meth:`UploadStore.stage` left it: ``created`` now, or
    there before (open, or committed: then nothing is to be sent)."""

    row: UploadRow
    created: bool


@dataclass(frozen=True)
class OpenUploadRow:
    """An open session as listed: what it holds so far (parts recorded, their bytes)."""

    id: str
    size: int
    created_at: float
    expires_at: float
    parts: int
    bytes: int
    idempotency_key: str | None


class UploadStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, row: UploadRow, admit: Callable[[int, int], None]) -> tuple[UploadRow, bool]:
        """Insert a session after ``admit(quota_bytes, used_bytes)`` accepted it; return it and
        ``True``.

        ``used_bytes`` counts stored files, trash and the owner's other open sessions; the
        owner's row is locked meanwhile so two sessions cannot both squeeze under the quota.
        With ``row.idempotency_key`` the owner used before, nothing is inserted nor admitted:
        the session that key opened (with its parts, as it is now) and ``False``; that key
        with another size or part size is a :class:`Conflict`. Race-safe: see
        :func:`create_once`.
        """

        def find(conn: Connection) -> UploadRow | None:
            found = conn.execute(
                select(uploads.c.id, uploads.c.size, uploads.c.part_size).where(
                    uploads.c.owner_id == row.owner_id,
                    uploads.c.idempotency_key == row.idempotency_key,
                )
            ).first()
            if found is None:
                return None
            if (found.size, found.part_size) != (row.size, row.part_size):
                raise Conflict(
                    "this idempotency key was used to open another upload "
                    f"({found.size} bytes in parts of {found.part_size})",
                    {"reason": "idempotency_key_reused"},
                )
            return _get(conn, row.owner_id, found.id)

        def create(conn: Connection) -> UploadRow:
            quota, used = quota_and_use(conn, row.owner_id, now=row.created_at)
            admit(quota, used)
            conn.execute(insert(uploads).values(**_insert_values(row)))
            return row

        return create_once(self._engine, row.owner_id, row.idempotency_key, find, create)

    def get(self, owner_id: int, upload_id: str) -> UploadRow:
        """The owner's session with its parts, or :class:`NotFound`."""
        with read_transaction(self._engine) as conn:
            return _get(conn, owner_id, upload_id)

    def list_open(self, owner_id: int, now: float) -> list[OpenUploadRow]:
        """The owner's open sessions not expired at ``now``, oldest first, with the count and
        bytes of the parts recorded so far."""
        of_session = upload_parts.c.upload_id == uploads.c.id  # per row, by the primary key
        query = (
            select(
                uploads.c.id,
                uploads.c.size,
                uploads.c.created_at,
                uploads.c.expires_at,
                uploads.c.idempotency_key,
                select(func.count()).where(of_session).scalar_subquery().label("parts"),
                select(func.coalesce(func.sum(upload_parts.c.size), 0))
                .where(of_session)
                .scalar_subquery()
                .label("bytes"),
            )
            .where(
                uploads.c.owner_id == owner_id,
                uploads.c.state == OPEN,
                uploads.c.expires_at >= now,
            )
            .order_by(uploads.c.created_at, uploads.c.id)
        )
        with read_transaction(self._engine) as conn:
            return [
                OpenUploadRow(
                    id=r.id,
                    size=int(r.size),
                    created_at=float(r.created_at),
                    expires_at=float(r.expires_at),
                    parts=int(r.parts),
                    bytes=int(r.bytes),
                    idempotency_key=r.idempotency_key,
                )
                for r in conn.execute(query)
            ]

    def record_part(
        self, owner_id: int, upload_id: str, part: PartInfo, etag: str | None = None
    ) -> int:
        """Record a stored part (insert or overwrite) and return its ``put_count``; ``etag``
        is the one the blob store listed for it (direct transfers).

        :class:`Conflict` if the session was committed meanwhile.
        """
        with self._engine.begin() as conn:
            state = conn.execute(
                select(uploads.c.state).where(
                    uploads.c.id == upload_id, uploads.c.owner_id == owner_id
                )
            ).scalar_one_or_none()
            if state is None:
                raise NotFound("no such upload")
            if state != OPEN:
                raise Conflict("the upload is already committed")
            conn.execute(_upsert_part(conn, upload_id, part, etag))
            return int(
                conn.execute(
                    select(upload_parts.c.put_count).where(
                        upload_parts.c.upload_id == upload_id,
                        upload_parts.c.number == part.number,
                    )
                ).scalar_one()
            )

    def set_store_upload_id(self, upload_id: str, store_upload_id: str) -> str | None:
        """Keep ``store_upload_id`` on the open session unless it has one already; return the
        one it has now (``None``: the session is gone or committed). Two callers racing: the
        first wins, and the other learns its id was not kept (it aborts its upload)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(uploads)
                .where(
                    uploads.c.id == upload_id,
                    uploads.c.state == OPEN,
                    uploads.c.store_upload_id.is_(None),
                )
                .values(store_upload_id=store_upload_id)
            )
            value = conn.execute(
                select(uploads.c.store_upload_id).where(
                    uploads.c.id == upload_id, uploads.c.state == OPEN
                )
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def rekey(self, owner_id: int, upload_id: str, object_key: str) -> bool:
        """Point an open session at a fresh object key (a staged object re-staged with other
        bytes: the old object, if any, is left to the sweeper); ``False`` if not open."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(uploads)
                .where(
                    uploads.c.id == upload_id,
                    uploads.c.owner_id == owner_id,
                    uploads.c.state == OPEN,
                )
                .values(object_key=object_key)
            )
        return result.rowcount == 1

    def stage(
        self,
        owner_id: int,
        rows: Sequence[UploadRow],
        admit: Callable[[int], Callable[[int, int], None]],
    ) -> list[Staged]:
        """Open the single-part sessions ``rows`` (ids distinct) in one transaction, the
        owner's row locked; per row, in order, what is there now.

        A row whose id the owner has already (open and unexpired, or committed) is not
        inserted: the existing session is answered (``created`` false). An id the owner has as
        an expired open session is replaced. An id of another owner's session is
        :class:`NotFound`; an open session of the owner's with another size, or a multi-part
        one, is a :class:`Conflict` (both with ``details.upload_ids``).
        ``admit(new_bytes)(quota, used)`` checks the bytes of the rows inserted, once (the
        quota rule).
        """
        now = rows[0].created_at if rows else time.time()
        ids = [r.id for r in rows]
        with self._engine.begin() as conn:
            quota, used = quota_and_use(conn, owner_id, now=now)
            found = {
                str(r.id): r for r in conn.execute(select(uploads).where(uploads.c.id.in_(ids)))
            }
            out: list[Staged] = []
            conflicts: list[str] = []
            expired: list[str] = []
            theirs = [r.id for r in rows if r.id in found and found[r.id].owner_id != owner_id]
            if theirs:  # as every look-up of another user's upload: its existence is not told
                raise NotFound("no such upload", {"upload_ids": theirs})
            for row in rows:
                old = found.get(row.id)
                if old is not None and old.state == OPEN and old.expires_at < now:
                    expired.append(row.id)
                    old = None
                if old is None:
                    out.append(Staged(row, created=True))
                elif old.state == OPEN and (old.size != row.size or old.object_key == old.id):
                    conflicts.append(row.id)
                else:
                    out.append(Staged(_upload_row(old), created=False))
            if conflicts:
                raise Conflict(
                    "these upload ids are in use with another size or kind of upload",
                    {"reason": "idempotency_key_reused", "upload_ids": conflicts},
                )
            new = [s.row for s in out if s.created]
            admit(sum(r.size for r in new))(quota, used)
            _delete(conn, expired)
            if new:
                conn.execute(insert(uploads), [_insert_values(r) for r in new])
            return out

    def get_many(self, owner_id: int, upload_ids: Sequence[str]) -> dict[str, UploadRow]:
        """The owner's sessions among ``upload_ids``, by id, without their parts; absent ids
        (or another owner's) are left out."""
        with read_transaction(self._engine) as conn:
            return {
                str(r.id): _upload_row(r)
                for r in conn.execute(
                    select(uploads).where(
                        uploads.c.id.in_(list(upload_ids)), uploads.c.owner_id == owner_id
                    )
                )
            }

    def put_count(self, upload_id: str, number: int) -> int:
        """How many times a part was PUT (0 if never). For tests and diagnostics."""
        with read_transaction(self._engine) as conn:
            value = conn.execute(
                select(upload_parts.c.put_count).where(
                    upload_parts.c.upload_id == upload_id, upload_parts.c.number == number
                )
            ).scalar_one_or_none()
        return int(value or 0)

    def delete_open(self, owner_id: int, upload_id: str) -> UploadRow:
        """Delete an open session and its parts; return it. :class:`Conflict` if committed."""
        with self._engine.begin() as conn:
            row = _get(conn, owner_id, upload_id)
            if row.state != OPEN:
                raise Conflict("a committed upload cannot be aborted")
            _delete(conn, [upload_id])
            return row

    def delete_expired(self, now: float) -> list[UploadRow]:
        """Delete every open session that expired before ``now``; return the rows deleted.

        One ``DELETE ... WHERE state = 'open' AND expires_at < now RETURNING``: the condition is
        evaluated against each row as it is deleted (PostgreSQL re-checks a row a concurrent
        commit changed), so an upload committed meanwhile is never deleted nor returned. Its
        parts go with it (``ON DELETE CASCADE``).
        """
        with self._engine.begin() as conn:
            return [
                _upload_row(r)
                for r in conn.execute(
                    delete(uploads)
                    .where(uploads.c.state == OPEN, uploads.c.expires_at < now)
                    .returning(*uploads.c)
                )
            ]


def _get(conn: Connection, owner_id: int, upload_id: str) -> UploadRow:
    row = conn.execute(
        select(uploads).where(uploads.c.id == upload_id, uploads.c.owner_id == owner_id)
    ).first()
    if row is None:
        raise NotFound("no such upload")
    listed = conn.execute(
        select(upload_parts)
        .where(upload_parts.c.upload_id == upload_id)
        .order_by(upload_parts.c.number)
    ).all()
    parts = tuple(PartInfo(number=p.number, size=p.size, sha256=p.sha256) for p in listed)
    return _upload_row(row, parts, tuple(p.etag for p in listed))


def _insert_values(row: UploadRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "owner_id": row.owner_id,
        "size": row.size,
        "part_size": row.part_size,
        "part_count": row.part_count,
        "state": row.state,
        "object_key": row.object_key,
        "file_id": None,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "idempotency_key": row.idempotency_key,
        "store_upload_id": row.store_upload_id,
    }


def _upload_row(
    row: Any, parts: tuple[PartInfo, ...] = (), etags: tuple[str | None, ...] = ()
) -> UploadRow:
    return UploadRow(
        id=row.id,
        owner_id=int(row.owner_id),
        size=int(row.size),
        part_size=int(row.part_size),
        part_count=int(row.part_count),
        state=row.state,
        object_key=row.object_key,
        file_id=None if row.file_id is None else int(row.file_id),
        created_at=float(row.created_at),
        expires_at=float(row.expires_at),
        parts=parts,
        idempotency_key=row.idempotency_key,
        store_upload_id=row.store_upload_id,
        etags=etags,
    )


def _delete(conn: Connection, upload_ids: list[str]) -> None:
    if upload_ids:
        conn.execute(delete(upload_parts).where(upload_parts.c.upload_id.in_(upload_ids)))
        conn.execute(delete(uploads).where(uploads.c.id.in_(upload_ids)))


def _upsert_part(conn: Connection, upload_id: str, part: PartInfo, etag: str | None) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE, incrementing ``put_count``, on either database."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(upload_parts).values(
        upload_id=upload_id,
        number=part.number,
        size=part.size,
        sha256=part.sha256,
        put_count=1,
        etag=etag,
    )
    return stmt.on_conflict_do_update(
        index_elements=[upload_parts.c.upload_id, upload_parts.c.number],
        set_={
            "size": stmt.excluded.size,
            "sha256": stmt.excluded.sha256,
            "put_count": upload_parts.c.put_count + 1,
            "etag": stmt.excluded.etag,
        },
    )


def quota_and_use(conn: Connection, owner_id: int, now: float | None = None) -> tuple[int, int]:
    """The owner's quota and used bytes (stored files, trash and open sessions not expired at
    ``now``, the current time if not given), with the owner's row locked for the rest of the
    transaction."""
    now = time.time() if now is None else now
    quota = conn.execute(
        select(users.c.quota_bytes).where(users.c.id == owner_id).with_for_update()
    ).scalar_one()
    file_bytes = conn.execute(
        select(func.coalesce(func.sum(files.c.content_size + files.c.thumbnail_size), 0)).where(
            files.c.owner_id == owner_id, files.c.is_deleted.is_(False)
        )
    ).scalar_one()
    open_bytes = conn.execute(
        select(func.coalesce(func.sum(uploads.c.size), 0)).where(
            uploads.c.owner_id == owner_id, uploads.c.state == OPEN, uploads.c.expires_at >= now
        )
    ).scalar_one()
    return int(quota), int(file_bytes) + int(open_bytes)
