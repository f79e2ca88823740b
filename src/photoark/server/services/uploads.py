"""Resumable upload rules: quota at session open, part sizes and checksums, abort, expiry.

A session is opened with the exact ciphertext size and a part size; it is admitted only if
``used + size <= quota`` where ``used`` counts stored files, trash and the user's other open
sessions that have not expired. Parts are numbered from 0; each is exactly ``part_size`` bytes
except the last, which is the remainder; its SHA-256 must match the one the client declared.

A session expires ``expiry_seconds`` after it was opened: it is then gone at once (not listed,
not counted towards the quota, refused), and the sweeper
(:mod:`~photoark.server.services.sweeper`) deletes it with its parts. ``GET /uploads`` lists the
caller's open sessions, so a client can abort those it lost track of (a kill between opening a
session and recording it).

Direct transfers (S3 mode, :mod:`.transfers`): parts never come through the server (``PUT`` of
a part is :class:`DirectTransferRequired`); a session is an S3 multipart upload at key ``id``
(so ``object_key == id``), started at open, and answers carry presigned URLs of the parts
still missing. S3 refuses parts under 5 MiB but the last, so a session of several parts needs
``part_size`` of at least that, and at most 10,000 parts.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from photoark.protocol.models import OpenUpload, PartInfo, UploadCreate, UploadSession
from photoark.server.blobs.base import BlobStore
from photoark.server.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    DirectTransferRequired,
    NotFound,
    QuotaExceeded,
)
from photoark.server.services.transfers import MAX_PARTS, MIN_S3_PART_SIZE, DirectTransfers
from photoark.server.store.uploads import COMMITTED, OPEN, UploadRow, UploadStore

__all__ = ["UploadService", "admit_quota", "expected_part_size", "part_count"]


def part_count(size: int, part_size: int) -> int:
    return -(-size // part_size)


def expected_part_size(size: int, part_size: int, number: int) -> int:
    """The exact size part ``number`` must have; :class:`BadRequest` beyond the last part."""
    count = part_count(size, part_size)
    if not 0 <= number < count:
        raise BadRequest(
            f"part {number} is beyond the upload's {count} parts (numbered from 0)",
            {"part_count": count},
        )
    return part_size if number < count - 1 else size - part_size * (count - 1)


def admit_quota(requested: int) -> Callable[[int, int], None]:
    """The quota rule for a new session of ``requested`` bytes, as a check on (quota, used)."""

    def admit(quota: int, used: int) -> None:
        if used + requested > quota:
            raise QuotaExceeded(quota_bytes=quota, used_bytes=used, requested_bytes=requested)

    return admit


def session_model(row: UploadRow, direct: DirectTransfers | None = None) -> UploadSession:
    """The wire form of a session; with ``direct``, an open multi-part session carries the
    URLs of its first missing parts."""
    urls = None
    if direct is not None and row.state == OPEN and row.object_key == row.id:
        urls = direct.next_urls(row)
    return UploadSession(
        id=row.id,
        size=row.size,
        part_size=row.part_size,
        part_count=row.part_count,
        parts=list(row.parts),
        state=row.state,
        expires_at=row.expires_at,
        part_urls=urls,
    )


def check_direct_parts(size: int, part_size: int) -> None:
    """S3's part rules for a new session (direct transfers): :class:`BadRequest` with
    ``details.min_part_size`` or ``details.max_parts``."""
    count = part_count(size, part_size)
    if count > 1 and part_size < MIN_S3_PART_SIZE:
        raise BadRequest(
            f"parts must be at least {MIN_S3_PART_SIZE} bytes (5 MiB) when there are several",
            {"min_part_size": MIN_S3_PART_SIZE, "part_size": part_size},
        )
    if count > MAX_PARTS:
        raise BadRequest(
            f"an upload has at most {MAX_PARTS} parts: use larger parts",
            {"max_parts": MAX_PARTS, "part_count": count},
        )


class UploadService:
    def __init__(
        self,
        store: UploadStore,
        blobs: BlobStore,
        expiry_seconds: int,
        clock: Callable[[], float] = time.time,
        direct: DirectTransfers | None = None,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._expiry = expiry_seconds
        self._clock = clock
        self.direct = direct  # set in S3 mode: bytes move through presigned URLs

    def open(self, user_id: int, request: UploadCreate, part_urls: bool = False) -> UploadSession:
        """A new session, admitted by the quota. With ``request.idempotency_key``, at most one
        per key and user: a repeat answers the session the key opened (a retry after a lost
        answer; no second quota charge), unless that one has expired: it is then discarded, as
        the collector would, and the key opens a new one. The key with another size or part
        size is a :class:`Conflict`. ``part_urls``: the caller asked for the URLs of the first
        parts (direct transfers; a client before 0.3 never asks, and could not parse them)."""
        if self.direct is not None:
            check_direct_parts(request.size, request.part_size)
        admit = admit_quota(request.size)
        row, created = self._store.create(self._new_row(user_id, request), admit)
        if not created and row.state == OPEN and row.expires_at < self._clock():
            self._discard(user_id, row.id)
            row, created = self._store.create(self._new_row(user_id, request), admit)
        return session_model(row, self.direct if part_urls else None)

    def _new_row(self, user_id: int, request: UploadCreate) -> UploadRow:
        now = self._clock()
        upload_id = secrets.token_hex(16)
        return UploadRow(
            id=upload_id,
            owner_id=user_id,
            size=request.size,
            part_size=request.part_size,
            part_count=part_count(request.size, request.part_size),
            state=OPEN,
            # S3: the multipart upload completes in place, at the session's own key
            object_key=upload_id if self.direct is not None else secrets.token_hex(16),
            file_id=None,
            created_at=now,
            expires_at=now + self._expiry,
            idempotency_key=request.idempotency_key,
        )

    def _discard(self, user_id: int, upload_id: str) -> None:
        """Abort an expired open session, unless the collector (or anything) took it first."""
        try:
            row = self._store.delete_open(user_id, upload_id)
        except (NotFound, Conflict):
            return
        self._drop_blobs(row)

    def now(self) -> float:
        """The service's clock: what expiry is measured against."""
        return self._clock()

    def live(self, user_id: int, upload_id: str) -> UploadRow:
        """The caller's session, unless expired (an expired one is gone, even before GC)."""
        row = self._store.get(user_id, upload_id)
        if row.state == OPEN and row.expires_at < self._clock():
            raise NotFound("no such upload")
        return row

    def get(self, user_id: int, upload_id: str, part_urls: bool = False) -> UploadSession:
        """The caller's live session; with ``part_urls`` (as :meth:`open`), the URLs of its
        first missing parts."""
        return session_model(self.live(user_id, upload_id), self.direct if part_urls else None)

    def open_row(self, user_id: int, upload_id: str) -> UploadRow:
        """The caller's live session that is still open (:class:`Conflict` if committed)."""
        row = self.live(user_id, upload_id)
        if row.state == COMMITTED:
            raise Conflict("the upload is already committed")
        return row

    def list_open(self, user_id: int) -> list[OpenUpload]:
        """The caller's open sessions that have not expired, oldest first."""
        return [
            OpenUpload(
                id=row.id,
                created=row.created_at,
                expires_at=row.expires_at,
                size=row.size,
                parts=row.parts,
                bytes=row.bytes,
                idempotency_key=row.idempotency_key,
            )
            for row in self._store.list_open(user_id, self._clock())
        ]

    def part_limit(self, user_id: int, upload_id: str, number: int) -> int:
        """The size part ``number`` must have, checked before its body is read.
        :class:`DirectTransferRequired` in S3 mode (parts go to presigned URLs)."""
        if self.direct is not None:
            raise DirectTransferRequired("file parts")
        row = self.open_row(user_id, upload_id)
        return expected_part_size(row.size, row.part_size, number)

    def put_part(
        self, user_id: int, upload_id: str, number: int, data: bytes | bytearray, sha256_hex: str
    ) -> PartInfo:
        """Verify and store one part; a re-sent part overwrites the same bytes."""
        expected = self.part_limit(user_id, upload_id, number)
        if len(data) != expected:
            raise BadRequest(
                f"part {number} must be {expected} bytes, got {len(data)}",
                {"expected_size": expected, "size": len(data)},
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256_hex.strip().lower():
            raise ChecksumMismatch(
                f"part {number}: SHA-256 of the body does not match X-Content-SHA256",
                {"expected": sha256_hex, "actual": digest},
            )
        self._blobs.put_part(upload_id, number, data)
        part = PartInfo(number=number, size=len(data), sha256=digest)
        self._store.record_part(user_id, upload_id, part)
        return part

    def abort(self, user_id: int, upload_id: str) -> None:
        row = self._store.delete_open(user_id, upload_id)
        self._drop_blobs(row)

    def collect_expired(self) -> int:
        """Abort every open session past its expiry and free its parts; return how many.

        Blobs are dropped only for the sessions the database actually deleted: one committed
        meanwhile is left alone with its content object.
        """
        rows = self._store.delete_expired(self._clock())
        for row in rows:
            self._drop_blobs(row)
        return len(rows)

    def _drop_blobs(self, row: UploadRow) -> None:
        if self.direct is not None and row.store_upload_id is not None:
            self.direct.store.abort_multipart(row.object_key, row.store_upload_id)
        else:
            self._blobs.abort(row.id)
        # A commit that completed the blobs but failed in the database leaves the object.
        self._blobs.delete(row.object_key)
