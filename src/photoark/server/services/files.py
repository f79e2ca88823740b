"""File rules: commit after upload, lookups, and what a download reads.

Commit never trusts the client: the uploads must be the caller's, open, and hold every part
with its exact size; the stored sizes are the blob store's own; the album must be the caller's.
The file row and its album entry are written in one transaction, which also re-checks that the
uploads are still open and unexpired (the expired-upload collector may have run meanwhile).
Committing an already committed upload returns the file it made (safe to retry after a lost
response), and puts it in the requested album if it is not (or no longer) there, as adding it
to that album would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from photoark.protocol.models import FileCommit, FileRecord
from photoark.server.blobs.base import BlobStore
from photoark.server.errors import BadRequest, Conflict, NotFound, UploadIncomplete
from photoark.server.services.uploads import UploadService, expected_part_size
from photoark.server.store.collections import CollectionStore
from photoark.server.store.files import CommitParts, FileStore
from photoark.server.store.uploads import COMMITTED, UploadRow

__all__ = ["BlobKind", "Download", "FileService", "missing_parts"]

BlobKind = Literal["content", "thumbnail"]


@dataclass(frozen=True)
class Download:
    """A blob the caller may read: its object key stays on the server."""

    object_key: str
    size: int


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
        blobs: BlobStore,
    ) -> None:
        self._files = files
        self._collections = collections
        self._uploads = uploads
        self._blobs = blobs

    def commit(self, user_id: int, request: FileCommit) -> FileRecord:
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
        parts = CommitParts(
            content_upload_id=content.id,
            content_object=content.object_key,
            content_size=self._complete(content),
            thumbnail_upload_id=None if thumb is None else thumb.id,
            thumbnail_object=None if thumb is None else thumb.object_key,
            thumbnail_size=0 if thumb is None else self._complete(thumb),
        )
        return self._files.commit(
            user_id,
            request.collection_id,
            parts,
            request.encrypted_key,
            request.encrypted_metadata,
            now=self._uploads.now(),
        )

    def _complete(self, row: UploadRow) -> int:
        """Complete the upload's blob; its size as the blob store measures it."""
        missing = missing_parts(row)
        if missing:
            raise UploadIncomplete(
                f"upload {row.id} misses {len(missing)} of {row.part_count} parts",
                {"upload_id": row.id, "missing_parts": missing},
            )
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

    def download(self, user_id: int, file_id: int, kind: BlobKind) -> Download:
        row = self._files.get(user_id, file_id)
        if kind == "content":
            return Download(row.content_object, row.record.content_size)
        if row.thumbnail_object is None:
            raise NotFound("the file has no thumbnail")
        return Download(row.thumbnail_object, row.record.thumbnail_size)

    def read(self, download: Download, start: int, end_inclusive: int) -> Iterator[bytes]:
        """Bytes of a blob obtained from :meth:`download` (so access was checked)."""
        return self._blobs.read_range(download.object_key, start, end_inclusive)
