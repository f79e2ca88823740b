"""Direct transfers' blob side, shared by the upload, file and bundle services (S3 mode).

Clients move the bytes themselves, with presigned URLs; the server never trusts their word
that bytes arrived, it asks the store (STYLE habit 4: sizes and ETags from the store's own
metadata):

- a part counts once ``ListParts`` shows a copy of it with the expected size and the MD5 the
  client declared as ETag (:meth:`DirectTransfers.check_part`), whose ETag is then recorded;
- a multi-part object counts once ``CompleteMultipartUpload`` with the recorded ETags made it
  and ``HEAD`` reads the session's size and ``md5(part md5s)-N``
  (:meth:`~DirectTransfers.complete`);
- a staged single-PUT object counts once ``HEAD`` reads its size and MD5
  (:meth:`~DirectTransfers.check_staged`).

Under ``verify=size`` (a store whose ETags are not MD5s) only sizes are compared.

Key rules: a multi-part session's S3 upload and object are both at key ``id`` (``object_key ==
id``), its ``UploadId`` kept in ``uploads.store_upload_id``; a staged session's object is at a
fresh random ``object_key`` (never the client's id), written by one presigned PUT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from photoark.protocol.models import MAX_PART_URLS, PartUrl, PresignedPut
from photoark.server.blobs.base import DirectStore, ObjectInfo, multipart_etag
from photoark.server.errors import ChecksumMismatch, NotFound, UploadIncomplete
from photoark.server.store.uploads import UploadRow, UploadStore

__all__ = [
    "HEAD_THREADS",
    "MAX_PARTS",
    "MIN_S3_PART_SIZE",
    "DirectTransfers",
    "is_staged",
    "part_size",
]

MIN_S3_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's maximum part count
HEAD_THREADS = 16  # HEAD requests in flight when a bundle is checked


def is_staged(row: UploadRow) -> bool:
    """A staged single-PUT session (its object key is not its id), not a multipart one."""
    return row.object_key != row.id


class DirectTransfers:
    """Presigned URLs and the store-side checks of direct transfers (see the module doc)."""

    def __init__(
        self,
        store: DirectStore,
        uploads: UploadStore,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._uploads = uploads
        self._ttl = ttl
        self._clock = clock

    # -- multi-part sessions ----------------------------------------------------------------

    def upload_id(self, row: UploadRow) -> str:
        """The session's S3 multipart upload id, starting the upload when it has none yet (a
        session just opened, or one whose opener died before keeping it). Race-safe: the id
        kept first wins and a losing upload is aborted. :class:`NotFound` when the session
        is gone meanwhile."""
        if row.store_upload_id is not None:
            return row.store_upload_id
        mine = self.store.create_multipart(row.object_key)
        kept = self._uploads.set_store_upload_id(row.id, mine)
        if kept != mine:
            self.store.abort_multipart(row.object_key, mine)
        if kept is None:
            raise NotFound("no such upload")
        return kept

    def _upload_ttl(self, row: UploadRow) -> float:
        """A URL that writes into session ``row`` works no longer than the session: once it
        expired (and its objects were swept, or its upload aborted) an old URL must not be
        able to put the bytes back, outside any quota."""
        return max(1.0, min(self._ttl, row.expires_at - self._clock()))

    def part_urls(self, row: UploadRow, numbers: Iterable[int]) -> list[PartUrl]:
        """Presigned PUT URLs of these parts (each signs the part's exact size), valid while
        the session is."""
        upload_id = self.upload_id(row)
        ttl = self._upload_ttl(row)
        urls = []
        for n in numbers:
            signed = self.store.presign_part(row.object_key, upload_id, n, part_size(row, n), ttl)
            urls.append(PartUrl(number=n, url=signed.url, expires_at=signed.expires_at))
        return urls

    def next_urls(self, row: UploadRow) -> list[PartUrl]:
        """URLs of the first :data:`MAX_PART_URLS` parts not recorded yet."""
        have = {p.number for p in row.parts}
        todo = [n for n in range(row.part_count) if n not in have][:MAX_PART_URLS]
        return self.part_urls(row, todo) if todo else []

    def check_part(self, row: UploadRow, n: int, md5_hex: str) -> ObjectInfo:
        """The stored copy of part ``n`` that is the declared one: the expected size and (with
        MD5 ETags) ETag == ``md5_hex``. :class:`ChecksumMismatch` (``details.reason``:
        ``missing``, ``size`` or ``md5``) otherwise; :class:`NotFound` when the S3 upload is
        gone."""
        expected = part_size(row, n)
        copies = self.store.list_part(row.object_key, self.upload_id(row), n)
        sized = [c for c in copies if c.size == expected]
        chosen = [c for c in sized if c.etag == md5_hex] if self.store.md5_etags else sized
        if chosen:
            return chosen[-1]
        reason = "missing" if not copies else "size" if not sized else "md5"
        raise ChecksumMismatch(
            f"part {n}: the store has no copy of it with {expected} bytes and MD5 {md5_hex}"
            if copies
            else f"part {n} did not reach the store: PUT it to its URL, then confirm it",
            {
                "reason": reason,
                "part": n,
                "expected_size": expected,
                "stored_sizes": [c.size for c in copies],
            },
        )

    # -- completion -----------------------------------------------------------------------

    def complete(self, row: UploadRow) -> int:
        """Make the session's object (multipart: complete with the recorded ETags) and check
        it with HEAD; its size. :class:`UploadIncomplete` when the store lost parts,
        :class:`ChecksumMismatch` when the object is not what was recorded."""
        if is_staged(row):
            return self.check_staged(row, None).size
        etags = [e or "" for e in row.etags]
        if len(etags) != row.part_count or not all(etags):
            raise UploadIncomplete(
                f"upload {row.id}: parts were recorded without the store's ETag",
                {"upload_id": row.id},
            )
        try:
            info = self.store.complete_multipart(row.object_key, self.upload_id(row), etags)
        except NotFound as err:
            raise UploadIncomplete(
                f"upload {row.id}: the stored parts are gone", {"upload_id": row.id}
            ) from err
        want = ""
        if self.store.md5_etags:
            want = multipart_etag([bytes.fromhex(e.strip('"')) for e in etags])
        self._verify(row, info, want)
        return info.size

    def check_staged(self, row: UploadRow, md5_hex: str | None) -> ObjectInfo:
        """HEAD of a staged object: the session's size and, if given (with MD5 ETags),
        ETag == ``md5_hex``; a single PUT's ETag otherwise (no ``-N``)."""
        return self.check_heads([(row, md5_hex)])[0]

    def check_heads(self, items: Sequence[tuple[UploadRow, str | None]]) -> list[ObjectInfo]:
        """:meth:`check_staged` for many sessions, :data:`HEAD_THREADS` HEADs at a time; the
        failures together in one :class:`ChecksumMismatch` (``details.upload_ids``)."""
        keys = [row.object_key for row, _ in items]
        if not keys:
            return []
        if len(keys) == 1:
            heads = [self.store.head(keys[0])]
        else:
            pool = ThreadPoolExecutor(min(HEAD_THREADS, len(keys)))
            try:
                heads = list(pool.map(self.store.head, keys))
            finally:  # the first failure answers at once: the HEADs not begun are dropped
                pool.shutdown(wait=False, cancel_futures=True)
        bad = [
            row.id
            for (row, md5_hex), info in zip(items, heads, strict=True)
            if info is None or not self._matches(row, info, md5_hex)
        ]
        if bad:
            raise ChecksumMismatch(
                f"{len(bad)} staged objects are missing or are not the declared bytes: PUT "
                "them again (or stage them again), then commit",
                {"upload_ids": bad},
            )
        return [info for info in heads if info is not None]

    def _matches(self, row: UploadRow, info: ObjectInfo, md5_hex: str | None) -> bool:
        if info.size != row.size:
            return False
        if not self.store.md5_etags:
            return True
        return info.etag == md5_hex if md5_hex is not None else "-" not in info.etag

    def _verify(self, row: UploadRow, info: ObjectInfo, etag: str) -> None:
        if info.size == row.size and (not self.store.md5_etags or info.etag == etag):
            return
        raise ChecksumMismatch(
            f"upload {row.id}: the stored object is not the parts recorded "
            f"({info.size} bytes, ETag {info.etag}; expected {row.size} bytes, ETag {etag})",
            {"upload_id": row.id, "stored_size": info.size, "size": row.size},
        )

    # -- single PUTs and downloads ---------------------------------------------------------

    def presign_put(self, row: UploadRow, md5_b64: str) -> PresignedPut:
        """The single PUT of staged session ``row``'s object, valid while the session is."""
        signed = self.store.presign_put(row.object_key, row.size, md5_b64, self._upload_ttl(row))
        return PresignedPut(url=signed.url, headers=signed.headers, expires_at=signed.expires_at)

    def presign_get(self, store: DirectStore, key: str) -> tuple[str, float]:
        """A GET URL for ``key`` in ``store`` (the primary or a replica) and when it expires."""
        signed = store.presign_get(key, self._ttl)
        return signed.url, signed.expires_at


def part_size(row: UploadRow, n: int) -> int:
    """The exact size of part ``n`` of the session (the caller checked the range)."""
    last = row.part_count - 1
    return row.part_size if n < last else row.size - row.part_size * last
