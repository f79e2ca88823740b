"""Bundle rules: many small files uploaded and committed in one request, thumbnails after.

Never trusts the client: each blob's size and SHA-256 must match its header item, the albums
must be the caller's, the files (for thumbnails) the caller's live ones, and new bytes must fit
the quota. Objects are written (durably) before the transaction that records them; if that
transaction is refused, or an item turns out to be committed already, the objects it would have
used are deleted, so a bundle never leaves a second copy. (A crash between the write and the
transaction leaves unreferenced objects: garbage, never a dangling reference.)

Direct transfers (S3 mode): framed bodies would carry bytes through the server and are
:class:`DirectTransferRequired`. The client stages the items instead (``POST /uploads/direct``,
:class:`~photoark.server.services.direct.DirectService`), PUTs them to presigned URLs, then
commits them (:meth:`BundleService.commit_staged`, :meth:`BundleService.set_thumbnails_staged`):
every staged object is checked with HEAD (its size and MD5) before the transaction, and an item
committed before is answered as it is.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import TypeVar

import blake3

from photoark.protocol.frames import FrameError, decode_frames
from photoark.protocol.models import (
    MAX_THUMBNAIL_BYTES,
    Bundle,
    DirectBundle,
    DirectThumbnails,
    FileRecord,
    ThumbnailBundle,
)
from photoark.server.blobs.base import BlobStore
from photoark.server.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    DirectTransferRequired,
    NotFound,
    ServerError,
)
from photoark.server.services.transfers import DirectTransfers, is_staged
from photoark.server.services.uploads import admit_quota
from photoark.server.store.bundles import BundleFile, BundleStore, NewThumbnail, StagedThumbnail
from photoark.server.store.uploads import COMMITTED, UploadRow, UploadStore

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
    def __init__(
        self,
        store: BundleStore,
        blobs: BlobStore,
        clock: Callable[[], float],
        uploads: UploadStore | None = None,
        direct: DirectTransfers | None = None,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._clock = clock
        self._uploads = uploads
        self._direct = direct

    def accept_bodies(self) -> None:
        """:class:`DirectTransferRequired` in S3 mode: called by the framed body routes before
        they read a byte."""
        if self._direct is not None:
            raise DirectTransferRequired("bundles")

    def commit(self, user_id: int, body: bytes | bytearray) -> list[FileRecord]:
        """Store and commit every file of a framed :class:`Bundle` body; records in order."""
        self.accept_bodies()
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
        self.accept_bodies()
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

    def commit_staged(self, user_id: int, request: DirectBundle) -> list[FileRecord]:
        """Commit staged small files (each PUT to its URL); records in order. All or none:
        :class:`NotFound` (``details.upload_ids``) for items never staged, expired or aborted;
        :class:`BadRequest` for a size that is not the staged one; :class:`ChecksumMismatch`
        (``details.upload_ids``) for objects missing or not these bytes. An item committed
        before is recommitted (put in its album again), as ``POST /files/bundle`` does."""
        ids = [item.upload_id for item in request.items]
        if len(set(ids)) != len(ids):
            raise BadRequest("an upload id appears twice in the bundle")
        direct = self._require_direct()
        rows = self._staged_rows(user_id, ids)
        todo = [(rows[i.upload_id], i.md5.hex()) for i in request.items]
        todo = [(row, md5) for row, md5 in todo if row.state != COMMITTED]
        sizes = {i.upload_id: i.size for i in request.items}
        wrong = [row.id for row, _ in todo if row.size != sizes[row.id] or not is_staged(row)]
        if wrong:
            raise BadRequest(
                "these items' sizes are not the sizes they were staged with",
                {"upload_ids": wrong},
            )
        direct.check_heads(todo)
        files = [
            BundleFile(
                upload_id=item.upload_id,
                collection_id=item.collection_id,
                content_object=(
                    None
                    if rows[item.upload_id].state == COMMITTED
                    else rows[item.upload_id].object_key
                ),
                content_size=item.size,
                encrypted_key=item.encrypted_key,
                encrypted_metadata=item.encrypted_metadata,
            )
            for item in request.items
        ]
        return self._store.commit_staged(user_id, files, self._clock())

    def set_thumbnails_staged(self, user_id: int, request: DirectThumbnails) -> list[FileRecord]:
        """Attach staged thumbnails (each PUT to its URL) to their files; records in order.
        Errors as :meth:`commit_staged`; a thumbnail over ``MAX_THUMBNAIL_BYTES`` is a
        :class:`BadRequest`. The replaced thumbnails are deleted once this committed."""
        ids = [item.upload_id for item in request.items]
        if len(set(ids)) != len(ids):
            raise BadRequest("an upload id appears twice in the request")
        direct = self._require_direct()
        rows = self._staged_rows(user_id, ids)
        large = [r.id for r in rows.values() if r.size > MAX_THUMBNAIL_BYTES or not is_staged(r)]
        if large:
            raise BadRequest(
                f"a thumbnail is one staged object of at most {MAX_THUMBNAIL_BYTES} bytes",
                {"upload_ids": large},
            )
        direct.check_heads(
            [
                (rows[i.upload_id], i.md5.hex())
                for i in request.items
                if rows[i.upload_id].state != COMMITTED
            ]
        )
        thumbs = [
            StagedThumbnail(
                file_id=item.file_id,
                upload_id=item.upload_id,
                thumbnail_object=rows[item.upload_id].object_key,
                thumbnail_size=rows[item.upload_id].size,
                committed=rows[item.upload_id].state == COMMITTED,
            )
            for item in request.items
        ]
        records, replaced = self._store.set_thumbnails_staged(user_id, thumbs, self._clock())
        self._delete(replaced)
        return records

    def _staged_rows(self, user_id: int, upload_ids: Sequence[str]) -> dict[str, UploadRow]:
        """The caller's sessions by id, open and unexpired or committed; :class:`NotFound`
        (``details.upload_ids``) naming the others."""
        if self._uploads is None:
            raise AssertionError("BundleService needs the upload store for staged commits")
        rows = self._uploads.get_many(user_id, upload_ids)
        now = self._clock()
        gone = [
            u
            for u in upload_ids
            if u not in rows or (rows[u].state != COMMITTED and rows[u].expires_at < now)
        ]
        if gone:
            raise NotFound(
                "no such upload: stage these items first (POST /uploads/direct)",
                {"upload_ids": gone},
            )
        return rows

    def _require_direct(self) -> DirectTransfers:
        if self._direct is None:
            raise Conflict(
                "this server keeps files on its own disk: send bundles through the API "
                "(direct transfers are off)",
                {"reason": "direct_transfers_off"},
            )
        return self._direct

    def _delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._blobs.delete(key)


F = TypeVar("F", Bundle, ThumbnailBundle)


def _decode(body: bytes | bytearray, model: type[F]) -> tuple[F, list[memoryview]]:
    try:
        return decode_frames(body, model)
    except FrameError as err:
        raise BadRequest(str(err)) from err
