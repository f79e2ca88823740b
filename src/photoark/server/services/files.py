"""File rules: commit after upload, lookups, what a download reads, and verification.

Commit never trusts the client: the uploads must be the caller's, open, and hold every part
with its exact size; the stored sizes are the blob store's own; the album must be the caller's.
The file row and its album entry are written in one transaction, which also re-checks that the
uploads are still open and unexpired (the expired-upload collector may have run meanwhile).
Committing an already committed upload returns the file it made (safe to retry after a lost
response), and puts it in the requested album if it is not (or no longer) there, as adding it
to that album would.

The thumbnail comes inline (``FileCommit.thumbnail``, preferred) or as a completed upload
(``thumbnail_upload_id``); both is a :class:`BadRequest`. An inline thumbnail is written as a
blob object under a fresh random key BEFORE the transaction that records it, and counts against
the quota in that transaction as a thumbnail session would have at its opening. A retried
commit of a committed upload returns before writing anything; a commit that loses a race to a
concurrent one, or is refused inside the transaction, deletes the object it wrote, so one file
never leaves a second thumbnail object. (A crash between the write and the transaction leaves
an unreferenced object: garbage, never a dangling reference.)

A download checks the object first: one the blob store holds with another size than recorded
(truncated, a part lost) or not at all is :class:`ObjectDamaged` (410 ``object_damaged``)
before a byte is sent, never a 500 nor a stream that breaks off. With replica stores
(``--replicate-to``) a copy of the recorded size on a replica serves the read instead
(:meth:`ReplicatedStore.locate`); 410 only when no store has one.

Direct transfers (S3 mode): completing an upload is the store's multipart completion checked
with HEAD, or a staged object's HEAD (:mod:`.transfers`); an inline thumbnail would carry bytes
through the server and is :class:`DirectTransferRequired`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from photoark.protocol.models import FileCommit, FileIds, FileRecord, VerifiedFile
from photoark.server.blobs.replicated import ReplicatedStore
from photoark.server.errors import (
    BadRequest,
    Conflict,
    DirectTransferRequired,
    NotFound,
    ObjectDamaged,
    ServerError,
    UploadIncomplete,
)
from photoark.server.services.transfers import is_staged
from photoark.server.services.uploads import UploadService, admit_quota, expected_part_size
from photoark.server.store.collections import CollectionStore
from photoark.server.store.files import CommitParts, CommitResult, FileStore
from photoark.server.store.uploads import COMMITTED, UploadRow

__all__ = ["BlobKind", "Download", "FileService", "missing_parts"]

BlobKind = Literal["content", "thumbnail"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    """A blob the caller may read: its object key stays on the server."""

    object_key: str
    size: int
    file_id: int = 0
    kind: BlobKind = "content"


def missing_parts(row: UploadRow) -> list[int]:
    """Part numbers absent or of the wrong size, by the session's own arithmetic."""
    have = {part.number: part.size for part in row.parts}
    return [
        n
        for n in range(row.part_count)
        if have.get(n) != expected_part_size(row.size, row.part_size, n)
    ]


class FileService:
    def __init__(
        self,
        files: FileStore,
        collections: CollectionStore,
        uploads: UploadService,
        blobs: ReplicatedStore,
    ) -> None:
        self._files = files
        self._collections = collections
        self._uploads = uploads
        self._blobs = blobs
        self._direct = uploads.direct

    def commit(self, user_id: int, request: FileCommit) -> FileRecord:
        if request.thumbnail is not None and request.thumbnail_upload_id is not None:
            raise BadRequest("give the thumbnail inline or as an upload, not both")
        if request.thumbnail is not None and self._direct is not None:
            raise DirectTransferRequired("inline thumbnails")
        content = self._uploads.live(user_id, request.content_upload_id)
        if content.state == COMMITTED:
            return self._files.recommit(
                user_id, content.id, request.collection_id, request.encrypted_key
            )
        self._collections.exists(user_id, request.collection_id)
        thumb: UploadRow | None = None
        if request.thumbnail_upload_id is not None:
            if request.thumbnail_upload_id == request.content_upload_id:
                raise BadRequest("the thumbnail upload must differ from the content upload")
            thumb = self._uploads.live(user_id, request.thumbnail_upload_id)
            if thumb.state == COMMITTED:
                raise Conflict("the thumbnail upload is already committed")
        content_size = self._complete(content)
        if request.thumbnail is not None:
            return self._commit_inline(user_id, request, content, content_size, request.thumbnail)
        parts = CommitParts(
            content_upload_id=content.id,
            content_object=content.object_key,
            content_size=content_size,
            thumbnail_upload_id=None if thumb is None else thumb.id,
            thumbnail_object=None if thumb is None else thumb.object_key,
            thumbnail_size=0 if thumb is None else self._complete(thumb),
        )
        return self._record(user_id, request, parts).record

    def _commit_inline(
        self,
        user_id: int,
        request: FileCommit,
        content: UploadRow,
        content_size: int,
        thumbnail: bytes,
    ) -> FileRecord:
        """Commit with an inline thumbnail: write its object, then record it (or drop it)."""
        thumbnail_object = secrets.token_hex(16)
        self._blobs.put_object(thumbnail_object, thumbnail)
        parts = CommitParts(
            content_upload_id=content.id,
            content_object=content.object_key,
            content_size=content_size,
            thumbnail_upload_id=None,
            thumbnail_object=thumbnail_object,
            thumbnail_size=len(thumbnail),
        )
        try:
            result = self._record(user_id, request, parts, admit_quota(len(thumbnail)))
        except ServerError:
            # Refused inside the transaction (rolled back): nothing refers to the object.
            # Other errors leave it: the transaction may have committed.
            self._blobs.delete(thumbnail_object)
            raise
        if not result.created:  # an earlier commit of this upload made the file
            self._blobs.delete(thumbnail_object)
        return result.record

    def _record(
        self,
        user_id: int,
        request: FileCommit,
        parts: CommitParts,
        admit: Callable[[int, int], None] | None = None,
    ) -> CommitResult:
        """The commit transaction for verified ``parts``."""
        return self._files.commit(
            user_id,
            request.collection_id,
            parts,
            request.encrypted_key,
            request.encrypted_metadata,
            now=self._uploads.now(),
            admit=admit,
        )

    def _complete(self, row: UploadRow) -> int:
        """Complete the upload's blob; its size as the blob store measures it."""
        if self._direct is not None and is_staged(row):  # one PUT: no parts are recorded
            return self._direct.complete(row)
        missing = missing_parts(row)
        if missing:
            raise UploadIncomplete(
                f"upload {row.id} misses {len(missing)} of {row.part_count} parts",
                {"upload_id": row.id, "missing_parts": missing},
            )
        if self._direct is not None:
            return self._direct.complete(row)
        try:
            size = self._blobs.complete(row.id, row.object_key, row.part_count)
        except NotFound as err:
            raise UploadIncomplete(
                f"upload {row.id}: the stored parts are gone", {"upload_id": row.id}
            ) from err
        if size != row.size:
            raise UploadIncomplete(
                f"upload {row.id} holds {size} bytes, {row.size} were announced",
                {"upload_id": row.id, "stored_size": size, "size": row.size},
            )
        return size

    def get(self, user_id: int, file_id: int) -> FileRecord:
        return self._files.get(user_id, file_id).record

    def verify(self, user_id: int, request: FileIds) -> list[VerifiedFile]:
        """For each of the caller's files (trashed ones too, reported ``trashed``), its content
        size as committed and its content object's size as the blob store measures it now
        (``None`` if missing); in order. :class:`NotFound` for the whole request (with
        ``details.file_ids``) if one is not the caller's file. Read-only."""
        if len(set(request.file_ids)) != len(request.file_ids):
            raise BadRequest("a file appears twice in the request")
        return [
            VerifiedFile(
                id=row.record.id,
                content_size=row.record.content_size,
                object_size=self._blobs.stored_size(row.content_object),
                trashed=row.record.is_trashed,
            )
            for row in self._files.get_many(user_id, request.file_ids)
        ]

    def download(self, user_id: int, file_id: int, kind: BlobKind) -> Download:
        row = self._files.get(user_id, file_id)
        if kind == "content":
            return Download(row.content_object, row.record.content_size, file_id, kind)
        if row.thumbnail_object is None:
            raise NotFound("the file has no thumbnail")
        return Download(row.thumbnail_object, row.record.thumbnail_size, file_id, kind)

    def read(self, download: Download, start: int, end_inclusive: int) -> Iterator[bytes]:
        """Bytes of a blob obtained from :meth:`download` (so access was checked).

        :class:`ObjectDamaged` when the blob store does not hold exactly the recorded size
        (measured now, from the stored data) and no replica does either, raised here, before
        the first byte."""
        store = self._blobs.locate(download.object_key, download.size)
        if store is None:
            raise self.damaged(download, self._blobs.stored_size(download.object_key))
        try:
            return store.read_range(download.object_key, start, end_inclusive)
        except (NotFound, ValueError) as err:  # damaged or deleted since the check
            raise self.damaged(download, None) from err

    @staticmethod
    def damaged(download: Download, stored: int | None) -> ObjectDamaged:
        """The error for a blob no store holds whole (logged)."""
        what = "" if download.kind == "content" else f"{download.kind} of "
        state = "is missing" if stored is None else f"holds {stored} of {download.size} bytes"
        log.error("%sfile %d: object %s %s", what, download.file_id, download.object_key, state)
        return ObjectDamaged(
            f"the server's copy of the {what}file {download.file_id} is damaged: it {state}",
            {"file_id": download.file_id, "kind": download.kind, "stored_size": stored},
        )
