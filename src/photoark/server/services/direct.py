"""Direct transfers (S3 mode): the rules of the routes that exist only there.

The client moves file bytes itself, with presigned URLs, and the server checks with the store
that they arrived (:mod:`.transfers`):

- part URLs of a multi-part session (:meth:`DirectService.part_urls`) and the confirmation of
  one part (:meth:`DirectService.part_done`: recorded only once the store lists it with the
  expected size and MD5);
- staging single-part sessions, many at once, for bundles and thumbnails
  (:meth:`DirectService.stage`: idempotent per client id, the quota admitted once);
- download URLs (:meth:`DirectService.download_url`: the primary copy if it has the recorded
  size, else a replica's, else :class:`ObjectDamaged`);
- the replication backlog of each replica store (:meth:`DirectService.replication`).

Without S3 (:attr:`DirectService.enabled` false) these answer :class:`Conflict` with
``details.reason == "direct_transfers_off"``: the client uses the body routes there.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Sequence

from photoark.protocol.models import (
    MAX_PART_URLS,
    DirectStage,
    DirectUpload,
    DownloadUrl,
    DownloadUrls,
    PartDone,
    PartInfo,
    PartUrl,
    ReplicaState,
    ReplicationHealth,
)
from photoark.server.blobs.base import DirectStore
from photoark.server.blobs.replicated import ReplicatedStore
from photoark.server.errors import BadRequest, Conflict, NotFound
from photoark.server.services.files import BlobKind, FileService
from photoark.server.services.transfers import DirectTransfers, is_staged
from photoark.server.services.uploads import UploadService, admit_quota, expected_part_size
from photoark.server.store.copies import CopyStore
from photoark.server.store.files import FileStore
from photoark.server.store.uploads import COMMITTED, OPEN, UploadRow, UploadStore

__all__ = ["DirectService"]


class DirectService:
    def __init__(
        self,
        uploads: UploadService,
        upload_store: UploadStore,
        files: FileService,
        file_store: FileStore,
        stores: ReplicatedStore,
        copies: CopyStore,
        expiry_seconds: int,
        clock: Callable[[], float] = time.time,
        health_seconds: float = 2.0,
    ) -> None:
        self._uploads = uploads
        self._upload_store = upload_store
        self._files = files
        self._file_store = file_store
        self._stores = stores
        self._copies = copies
        self._expiry = expiry_seconds
        self._clock = clock
        self._health_seconds = health_seconds
        self._health: tuple[float, ReplicationHealth] | None = None  # (when read, what)
        self._health_lock = threading.Lock()
        self.transfers: DirectTransfers | None = uploads.direct

    @property
    def enabled(self) -> bool:
        """Whether the server is in S3 mode (``GET /health/transfers``)."""
        return self.transfers is not None

    def _on(self) -> DirectTransfers:
        if self.transfers is None:
            raise Conflict(
                "this server keeps files on its own disk: send bytes through the API "
                "(direct transfers are off)",
                {"reason": "direct_transfers_off"},
            )
        return self.transfers

    # -- multi-part sessions ------------------------------------------------------------------

    def part_urls(self, user_id: int, upload_id: str, first: int, count: int) -> list[PartUrl]:
        """Fresh URLs of parts ``first .. first+count-1`` (clipped to the session), recorded
        or not: a refresh after an expiry, or the next window."""
        transfers = self._on()
        row = self._multipart(user_id, upload_id)
        if not 0 <= first < row.part_count:
            raise BadRequest(
                f"part {first} is beyond the upload's {row.part_count} parts (numbered from 0)",
                {"part_count": row.part_count},
            )
        if not 1 <= count <= MAX_PART_URLS:
            raise BadRequest(f"count must be 1 to {MAX_PART_URLS}", {"max": MAX_PART_URLS})
        return transfers.part_urls(row, range(first, min(first + count, row.part_count)))

    def part_done(self, user_id: int, upload_id: str, number: int, done: PartDone) -> PartInfo:
        """Record part ``number`` once the store lists a copy of it with the expected size and
        ETag == ``done.md5`` (:class:`ChecksumMismatch` otherwise, nothing recorded). Safe to
        repeat (the part is recorded again, with this SHA-256)."""
        transfers = self._on()
        row = self._multipart(user_id, upload_id)
        size = expected_part_size(row.size, row.part_size, number)
        try:
            info = transfers.check_part(row, number, done.md5)
        except NotFound as err:
            raise NotFound("no such upload (its storage upload is gone)") from err
        part = PartInfo(number=number, size=size, sha256=done.sha256)
        self._upload_store.record_part(user_id, upload_id, part, info.etag)
        return part

    def _multipart(self, user_id: int, upload_id: str) -> UploadRow:
        row = self._uploads.open_row(user_id, upload_id)
        if is_staged(row):
            raise BadRequest(
                "a staged upload has no parts: PUT it to its URL (POST /uploads/direct)"
            )
        return row

    # -- staging ------------------------------------------------------------------------------

    def stage(self, user_id: int, request: DirectStage) -> list[DirectUpload]:
        """Open single-part sessions for the items and presign their PUTs, in order; see
        :meth:`UploadStore.stage` for ids already there. Quota is admitted once, for the new
        items only. A re-staged open item gets a fresh URL, at a fresh object key when what
        is stored at its key is not these bytes (so its ``If-None-Match`` PUT can succeed)."""
        transfers = self._on()
        ids = [item.id for item in request.items if item.id is not None]
        if len(set(ids)) != len(ids):
            raise BadRequest("an upload id appears twice in the request")
        now = self._clock()
        rows = [
            UploadRow(
                id=item.id or secrets.token_hex(16),
                owner_id=user_id,
                size=item.size,
                part_size=item.size,
                part_count=1,
                state=OPEN,
                object_key=secrets.token_hex(16),
                file_id=None,
                created_at=now,
                expires_at=now + self._expiry,
            )
            for item in request.items
        ]
        staged = self._upload_store.stage(user_id, rows, admit_quota)
        out: list[DirectUpload] = []
        for item, entry in zip(request.items, staged, strict=True):
            row = entry.row
            if row.state == COMMITTED:
                out.append(DirectUpload(id=row.id, put=None, state=COMMITTED))
                continue
            if not entry.created:
                row = self._rekey_if_other(row, item.md5.hex())
            md5_b64 = base64.b64encode(item.md5).decode("ascii")
            put = transfers.presign_put(row, md5_b64)
            out.append(DirectUpload(id=row.id, put=put, state=OPEN))
        return out

    def _rekey_if_other(self, row: UploadRow, md5_hex: str) -> UploadRow:
        """The open staged session, at a fresh object key if its key holds other bytes (or,
        without MD5 ETags, any bytes: they cannot be told apart)."""
        assert self.transfers is not None
        store = self.transfers.store
        info = store.head(row.object_key)
        if info is None or (store.md5_etags and info.etag == md5_hex):
            return row
        key = secrets.token_hex(16)
        if not self._upload_store.rekey(row.owner_id, row.id, key):
            raise Conflict("the upload was committed or aborted meanwhile: stage it again")
        return dataclasses.replace(row, object_key=key)

    # -- downloads ----------------------------------------------------------------------------

    def download_url(self, user_id: int, file_id: int, kind: BlobKind) -> DownloadUrl:
        """A GET URL of the file's content or thumbnail on the first store (primary, then
        replicas) that holds its recorded size; :class:`ObjectDamaged` when none does."""
        transfers = self._on()
        target = self._files.download(user_id, file_id, kind)
        store = self._stores.locate(target.object_key, target.size)
        if not isinstance(store, DirectStore):
            raise self._files.damaged(target, self._stores.stored_size(target.object_key))
        url, expires_at = transfers.presign_get(store, target.object_key)
        return DownloadUrl(url=url, size=target.size, expires_at=expires_at)

    def download_urls(self, user_id: int, request: DownloadUrls) -> list[DownloadUrl | None]:
        """GET URLs on the primary, without HEADs (fast; a URL answering 404 is worth a
        :meth:`download_url`, which looks at replicas); ``None`` for an id that is not the
        caller's file, or has no thumbnail."""
        transfers = self._on()
        rows = self._file_store.find_many(user_id, request.file_ids)
        out: list[DownloadUrl | None] = []
        for file_id in request.file_ids:
            found = rows.get(file_id)
            if found is None:
                out.append(None)
                continue
            key, size = (
                (found.content_object, found.record.content_size)
                if request.kind == "content"
                else (found.thumbnail_object, found.record.thumbnail_size)
            )
            if key is None:
                out.append(None)
                continue
            url, expires_at = transfers.presign_get(transfers.store, key)
            out.append(DownloadUrl(url=url, size=size, expires_at=expires_at))
        return out

    # -- replication --------------------------------------------------------------------------

    def replication(self) -> ReplicationHealth:
        """Each replica store's backlog of copies (empty without replicas), read at most once
        every ``health_seconds`` by this process: the route needs no login, and each reading
        counts the whole ``object_copies`` table."""
        with self._health_lock:
            now = time.monotonic()
            if self._health is None or now - self._health[0] >= self._health_seconds:
                health = ReplicationHealth(
                    stores=[_replica_state(self._copies, name) for name in self.replica_names]
                )
                self._health = (now, health)
            return self._health[1]

    @property
    def replica_names(self) -> Sequence[str]:
        return list(self._stores.replicas)


def _replica_state(copies: CopyStore, name: str) -> ReplicaState:
    lag = copies.lag(name)
    return ReplicaState(
        name=name,
        pending=lag.pending,
        failing=lag.failing,
        oldest_pending_seconds=lag.oldest_pending_seconds,
        done=lag.done,
    )
