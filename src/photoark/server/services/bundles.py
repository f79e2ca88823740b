"""Bundle rules: many small files uploaded and committed in one request, thumbnails after.

Never trusts the client: each blob's size and SHA-256 must match its header item, the albums
must be the caller's, the files (for thumbnails) the caller's live ones, and new bytes must fit
the quota. Objects are written (durably) before the transaction that records them; if that
transaction is refused, or an item turns out to be committed already, the objects it would have
used are deleted, so a bundle never leaves a second copy. (A crash between the write and the
transaction leaves unreferenced objects: garbage, never a dangling reference.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import TypeVar

import blake3

from photoark.protocol.frames import FrameError, decode_frames
from photoark.protocol.models import Bundle, FileRecord, ThumbnailBundle
from photoark.server.blobs.base import BlobStore
from photoark.server.errors import BadRequest, ChecksumMismatch, ServerError
from photoark.server.services.uploads import admit_quota
from photoark.server.store.bundles import BundleFile, BundleStore, NewThumbnail

__all__ = ["BundleService"]


def _object_keys() -> Callable[[], str]:
    """Random object keys (128 bits) that share their first byte within one bundle: the local
    blob store fans objects out by that byte, so a bundle lands in ONE directory and costs one
    directory fsync instead of one per object (keys stay uniformly spread across bundles)."""
    prefix = secrets.token_hex(1)
    return lambda: prefix + secrets.token_hex(15)


def _check_blob(index: int, data: memoryview, blake3_hex: str) -> None:
    digest = blake3.blake3(data, max_threads=1).hexdigest()
    if digest != blake3_hex:
        raise ChecksumMismatch(
            f"item {index}: the BLAKE3 of its bytes does not match the header",
            {"item": index, "expected": blake3_hex, "actual": digest},
        )


class BundleService:
    def __init__(self, store: BundleStore, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._blobs = blobs
        self._clock = clock

    def commit(self, user_id: int, body: bytes | bytearray) -> list[FileRecord]:
        """Store and commit every file of a framed :class:`Bundle` body; records in order."""
        bundle, blobs = _decode(body, Bundle)
        ids = [item.upload_id for item in bundle.items]
        if len(set(ids)) != len(ids):
            raise BadRequest("an upload id appears twice in the bundle")
        for index, (item, data) in enumerate(zip(bundle.items, blobs, strict=True)):
            _check_blob(index, data, item.blake3)
        known = self._store.committed(user_id, ids)
        new_key = _object_keys()
        keys = {item.upload_id: new_key() for item in bundle.items if item.upload_id not in known}
        written = list(keys.values())
        files: list[BundleFile] = []
        try:
            self._blobs.put_objects(
                [
                    (keys[item.upload_id], data)
                    for item, data in zip(bundle.items, blobs, strict=True)
                    if item.upload_id in keys
                ]
            )
            for item in bundle.items:
                key = keys.get(item.upload_id)
                files.append(
                    BundleFile(
                        upload_id=item.upload_id,
                        collection_id=item.collection_id,
                        content_object=key,
                        content_size=item.size,
                        encrypted_key=item.encrypted_key,
                        encrypted_metadata=item.encrypted_metadata,
                    )
                )
            new_bytes = sum(f.content_size for f in files if f.content_object is not None)
            records = self._store.commit(user_id, files, self._clock(), admit_quota(new_bytes))
        except ServerError:
            # refused inside the transaction (rolled back), or before it (a full disk part-way
            # through the writes): nothing refers to the objects
            self._delete(written)
            raise
        return records

    def set_thumbnails(self, user_id: int, body: bytes | bytearray) -> list[FileRecord]:
        """Attach the thumbnails of a framed :class:`ThumbnailBundle` body to their files."""
        bundle, blobs = _decode(body, ThumbnailBundle)
        for index, (item, data) in enumerate(zip(bundle.items, blobs, strict=True)):
            _check_blob(index, data, item.blake3)
        new_key = _object_keys()
        thumbs = [NewThumbnail(i.file_id, new_key(), i.size) for i in bundle.items]
        written = [t.thumbnail_object for t in thumbs]
        try:
            self._blobs.put_objects(
                [(t.thumbnail_object, data) for t, data in zip(thumbs, blobs, strict=True)]
            )
            records, replaced = self._store.set_thumbnails(user_id, thumbs, admit_quota)
        except ServerError:
            self._delete(written)
            raise
        self._delete(replaced)
        return records

    def _delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._blobs.delete(key)


F = TypeVar("F", Bundle, ThumbnailBundle)


def _decode(body: bytes | bytearray, model: type[F]) -> tuple[F, list[memoryview]]:
    try:
        return decode_frames(body, model)
    except FrameError as err:
        raise BadRequest(str(err)) from err
