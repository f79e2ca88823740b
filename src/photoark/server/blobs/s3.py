"""The S3 :class:`~.base.BlobStore`: :class:`~.s3_direct.S3DirectStore` plus the server-side
path and copies.

The server-side path (the contract suite, and copies into an S3 replica): an upload ``k`` is the S3
multipart upload at key ``k``, found again with ``ListMultipartUploads(Prefix=k)``, so ``complete``
requires ``upload_key == object_key``. SeaweedFS keeps every copy of a re-PUT part in ``ListParts``
(docs/s3-notes.md §3.4): the ETag of the copy this process wrote last is remembered, else the newest
listed copy counts.

Copies (:meth:`S3BlobStore.copy_to`, :func:`write_stream`): CopyObject inside one service,
otherwise streamed in :data:`COPY_PIECE` pieces, never the whole object in memory.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from photoark.server.blobs.base import (
    READ_CHUNK,
    BlobStore,
    BlobStoreError,
    StoredKey,
    check_key,
    check_range,
)
from photoark.server.blobs.s3_client import MIN_PART_SIZE, clean_etag, md5_b64
from photoark.server.blobs.s3_direct import MAX_PARTS, S3DirectStore, Verify
from photoark.server.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CopySourceTypeDef, MultipartUploadTypeDef

__all__ = ["COPY_PIECE", "MAX_PARTS", "MIN_PART_SIZE", "S3BlobStore", "Verify", "write_stream"]

log = logging.getLogger(__name__)

COPY_PIECE = 16 * 1024 * 1024  # streamed copies: read and written in pieces of this size
MAX_COPY_OBJECT = 5 * 1024**3  # CopyObject's limit; above it, UploadPartCopy
COPY_PART = 512 * 1024 * 1024  # UploadPartCopy's part size (10,000 parts: 5 TiB)
PUT_WORKERS = 16  # put_objects: requests in flight


class S3BlobStore(S3DirectStore):
    """Objects and multipart uploads under ``prefix`` in ``bucket`` at ``endpoint``: the
    presigned path (inherited) and the server-side :class:`~.base.BlobStore` contract."""

    def copy_to(self, target: BlobStore, key: str) -> int:
        info = self.head(key)
        if info is None:
            raise NotFound(f"no object {key} in {self.describe()}")
        if isinstance(target, S3BlobStore) and target._same_service(self):
            target._copy_from(self, key, info.size)
            return info.size
        written = write_stream(target, key, self._stream(key, 0, info.size - 1), info.size)
        if written != info.size:
            raise BlobStoreError(f"copy of {key}: read {written} bytes of {info.size}")
        return info.size

    def _same_service(self, other: S3BlobStore) -> bool:
        """Whether a CopyObject from ``other`` works: same endpoint, same credentials."""
        return (self.endpoint, self.profile) == (other.endpoint, other.profile)

    def _copy_from(self, source: S3BlobStore, key: str, size: int) -> None:
        """Server-side copy of ``source``'s object ``key`` here (same service)."""
        copy_source: CopySourceTypeDef = {"Bucket": source.bucket, "Key": source._k(key)}
        with self._errors("copy an object"):
            if size <= MAX_COPY_OBJECT:
                self._client.copy_object(
                    Bucket=self.bucket, Key=self._k(key), CopySource=copy_source
                )
                return
            upload_id = self.create_multipart(key)
            try:
                etags = []
                for n, start in enumerate(range(0, size, COPY_PART)):
                    end = min(start + COPY_PART, size) - 1
                    answer = self._client.upload_part_copy(
                        Bucket=self.bucket,
                        Key=self._k(key),
                        UploadId=upload_id,
                        PartNumber=n + 1,
                        CopySource=copy_source,
                        CopySourceRange=f"bytes={start}-{end}",
                    )
                    etags.append(clean_etag(answer.get("CopyPartResult", {}).get("ETag", "")))
                self.complete_multipart(key, upload_id, etags)
            except BaseException:
                self.abort_multipart(key, upload_id)
                raise

    def put_stream(self, key: str, pieces: Iterable[bytes]) -> int:
        """Write an object from ``pieces`` (any sizes), replacing what is at ``key``; return its
        size. One PutObject up to :data:`COPY_PIECE` bytes, else a multipart upload of
        :data:`COPY_PIECE` parts (aborted on an error). Holds one piece in memory at a time."""
        chunks = _rechunk(pieces, COPY_PIECE)
        first = next(chunks, b"")
        second = next(chunks, None)
        if second is None:
            with self._errors("write an object"):
                self._client.put_object(
                    Bucket=self.bucket, Key=self._k(key), Body=first, ContentMD5=md5_b64(first)
                )
            return len(first)
        upload_id = self.create_multipart(key)
        try:
            etags, size = [], 0
            for n, piece in enumerate(itertools.chain((first, second), chunks)):
                etags.append(self._upload_part(key, upload_id, n, piece))
                size += len(piece)
            self.complete_multipart(key, upload_id, etags)
        except BaseException:
            self.abort_multipart(key, upload_id)
            raise
        return size

    def _upload_part(
        self, key: str, upload_id: str, n: int, data: bytes | bytearray | memoryview
    ) -> str:
        with self._errors("write a part"):
            answer = self._client.upload_part(
                Bucket=self.bucket,
                Key=self._k(key),
                UploadId=upload_id,
                PartNumber=n + 1,
                Body=bytes(data),
                ContentMD5=md5_b64(data),
            )
        return clean_etag(answer.get("ETag", ""))

    # -- BlobStore: uploads ----------------------------------------------------------------

    def _find_upload(self, key: str) -> str | None:
        """The UploadId of the multipart upload at ``key``: cached, or the oldest listed (so
        every process picks the same one)."""
        with self._lock:
            cached = self._upload_ids.get(key)
        if cached is not None:
            return cached
        found = [
            (upload.get("Initiated"), upload.get("UploadId", ""))
            for upload in self._uploads_at(key)
        ]
        if not found:
            return None
        upload_id = min(found, key=lambda pair: (str(pair[0]), pair[1]))[1]
        with self._lock:
            return self._upload_ids.setdefault(key, upload_id)

    def _uploads_at(self, key: str) -> list[MultipartUploadTypeDef]:
        full = self._k(key)
        with self._errors("list multipart uploads"):
            pages = self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=full
            )
            return [u for page in pages for u in page.get("Uploads", []) if u.get("Key") == full]

    def put_part(self, upload_key: str, number: int, data: bytes | bytearray) -> None:
        check_key(upload_key)
        upload_id = self._find_upload(upload_key)
        if upload_id is None:
            created = self.create_multipart(upload_key)
            with self._lock:
                upload_id = self._upload_ids.setdefault(upload_key, created)
            if upload_id != created:  # another thread created one first
                self.abort_multipart(upload_key, created)
        try:
            etag = self._upload_part(upload_key, upload_id, number, data)
        except NotFound:  # aborted meanwhile (elsewhere): start over once
            self._forget(upload_key)
            self.put_part(upload_key, number, data)
            return
        with self._lock:
            self._written[(upload_key, number)] = etag

    def _forget(self, upload_key: str) -> None:
        with self._lock:
            self._upload_ids.pop(upload_key, None)
            for n in [n for (k, n) in self._written if k == upload_key]:
                del self._written[(upload_key, n)]

    def _parts(self, upload_key: str) -> dict[int, tuple[int, str]] | None:
        """Part number -> (size, ETag) of the copy that counts; ``None`` without an upload."""
        upload_id = self._find_upload(check_key(upload_key))
        if upload_id is None:
            return None
        try:
            with self._errors("list parts"):
                listed = list(self._all_parts(upload_key, upload_id))
        except NotFound:
            self._forget(upload_key)
            return None
        with self._lock:
            mine = {n: etag for (k, n), etag in self._written.items() if k == upload_key}
        chosen: dict[int, tuple[int, str, float, bool]] = {}
        for part in listed:
            n = part.get("PartNumber", 0) - 1
            etag = clean_etag(part.get("ETag", ""))
            modified = part.get("LastModified")
            when = modified.timestamp() if modified is not None else 0.0
            candidate = (part.get("Size", 0), etag, when, mine.get(n) == etag)
            best = chosen.get(n)
            if best is None or (candidate[3], candidate[2]) > (best[3], best[2]):
                chosen[n] = candidate
        return {n: (size, etag) for n, (size, etag, _, _) in chosen.items()}

    def part_sizes(self, upload_key: str) -> dict[int, int]:
        parts = self._parts(upload_key)
        return {} if parts is None else {n: size for n, (size, _) in parts.items()}

    def complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        if upload_key != object_key:
            raise ValueError("an S3 upload completes into the object at its own key")
        info = self.head(object_key)
        if info is not None:
            return info.size
        upload_id = self._find_upload(check_key(upload_key))
        parts = self._parts(upload_key)
        if upload_id is None or parts is None or any(n not in parts for n in range(part_count)):
            raise NotFound(f"upload {upload_key} misses parts")
        etags = [parts[n][1] for n in range(part_count)]
        info = self.complete_multipart(object_key, upload_id, etags)
        self._forget(upload_key)
        return info.size

    def abort(self, upload_key: str) -> None:
        check_key(upload_key)
        self._forget(upload_key)
        for upload in self._uploads_at(upload_key):
            self.abort_multipart(upload_key, str(upload.get("UploadId")))

    def list_uploads(self) -> Iterator[StoredKey]:
        """Multipart uploads under the prefix, with the time each began (S3 keeps no later
        time without a ListParts per upload). Several at one key are listed once, newest."""
        with self._errors("list multipart uploads"):
            pages = self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            listed = (
                (upload["Key"][len(self.prefix) :], upload["Initiated"].timestamp())
                for page in pages
                for upload in page.get("Uploads", [])
            )
            for key, group in itertools.groupby(listed, key=lambda pair: pair[0]):
                if _is_key(key):
                    yield StoredKey(key, max(when for _, when in group))

    # -- BlobStore: objects ----------------------------------------------------------------

    def put_object(self, object_key: str, data: bytes) -> None:
        key = self._k(object_key)
        try:
            with self._errors("write an object"):
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=bytes(data),
                    ContentMD5=md5_b64(data),
                    IfNoneMatch="*",
                )
        except FileExistsError as err:
            raise FileExistsError(f"object {object_key} exists") from err

    def put_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        """Up to :data:`PUT_WORKERS` PutObjects in flight; the first error is raised once all
        have finished (the caller deletes every key it passed)."""
        for key, _ in objects:
            check_key(key)
        if len(objects) <= 1:
            for key, data in objects:
                self.put_object(key, bytes(data))
            return
        with ThreadPoolExecutor(min(PUT_WORKERS, len(objects))) as pool:
            futures = [pool.submit(self.put_object, key, bytes(data)) for key, data in objects]
        for future in futures:
            future.result()

    def object_size(self, object_key: str) -> int | None:
        info = self.head(object_key)
        return None if info is None else info.size

    def stored_size(self, object_key: str) -> int | None:
        """HeadObject's size: S3 holds an object whole or not at all."""
        return self.object_size(object_key)

    def read_range(self, object_key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        size = self.object_size(object_key)
        if size is None:
            raise NotFound(f"no object {object_key}")
        check_range(size, start, end_inclusive)
        return self._stream(object_key, start, end_inclusive)

    def _stream(self, key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        """A ranged GetObject, in chunks of at most :data:`READ_CHUNK` (the request is made
        on the first ``next``, so an unread iterator holds no connection)."""
        if end_inclusive < start:  # an empty object: nothing to ask for
            return
        with self._errors("read an object"):
            answer = self._client.get_object(
                Bucket=self.bucket, Key=self._k(key), Range=f"bytes={start}-{end_inclusive}"
            )
            body = answer["Body"]
            try:
                yield from body.iter_chunks(READ_CHUNK)
            finally:
                body.close()

    def delete(self, object_key: str) -> None:
        with self._errors("delete an object"):
            self._client.delete_object(Bucket=self.bucket, Key=self._k(object_key))

    def list_objects(self) -> Iterator[StoredKey]:
        with self._errors("list objects"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if _is_key(key):
                        yield StoredKey(key, item["LastModified"].timestamp())

    def remove_temporary(self, older_than: float) -> int:
        """Nothing to remove: an S3 write leaves no temporary (a half multipart upload is an
        upload, listed by :meth:`list_uploads`)."""
        return 0


def _is_key(name: str) -> bool:
    try:
        check_key(name)
    except ValueError:
        return False
    return True


def _rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``pieces`` regrouped into chunks of exactly ``size`` bytes, but the last."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def write_stream(target: BlobStore, key: str, pieces: Iterable[bytes], size: int) -> int:
    """Write object ``key`` into any store from ``pieces`` (``size`` bytes in all), replacing
    a different one there; return the bytes written. An S3 target takes it as
    :meth:`S3BlobStore.put_stream`; another store as an upload of :data:`COPY_PIECE` parts at
    ``key`` completed into the object ``key`` (an object of the right size already there is
    kept: the copy is done)."""
    if isinstance(target, S3BlobStore):
        return target.put_stream(key, pieces)
    if target.stored_size(key) == size:
        return size
    target.delete(key)
    target.abort(key)
    written = 0
    count = 0
    for n, piece in enumerate(_rechunk(pieces, COPY_PIECE)):
        target.put_part(key, n, piece)
        written += len(piece)
        count = n + 1
    if count == 0:
        target.put_object(key, b"")
        return 0
    target.complete(key, key, count)
    return written
