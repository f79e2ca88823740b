"""A file's metadata: the JSON object the client seals with the file key.

The server never sees it (it stores ``encrypted_metadata``, opaque); every client that opens it
reads it through :class:`FileMetadata`, so the fields are typed in one place instead of being
looked up in a ``dict`` all over the client.

Required: ``name`` (and ``name_bytes``, base64, when the original name is not valid UTF-8),
``hash`` (BLAKE3 hex of the plaintext; ``"<still>:<video>"`` for a Live Photo), ``size``
(plaintext bytes), ``type`` (``image``, ``video`` or ``live``) and ``header`` (base64
secretstream header of the content). The rest is optional: what the backup knew of the file
(``format``, ``mime``, ``mtime_ns``), a Live Photo's ``parts``, and the media fields read from
EXIF or the container (``taken_at``, ``gps``, ``make``, ``model``...).

Unknown fields are kept, and :meth:`FileMetadata.to_json` gives back exactly the fields that
were set: a newer client's metadata survives a round trip through an older one.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["FileMetadata", "LivePart", "MetadataError"]


class MetadataError(ValueError):
    """Sealed metadata that opened (it is authentic) but is not a file's metadata."""


class _Named(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    name_bytes: str | None = None  # base64 of the OS name, when it is not valid UTF-8

    def restore_name(self) -> str:
        """The original filename as the OS spells it."""
        if self.name_bytes is not None:
            return os.fsdecode(base64.b64decode(self.name_bytes))
        return self.name


class LivePart(_Named):
    """One file of a Live Photo item, in stream order (the still, then the video)."""

    size: int
    hash: str
    mtime_ns: int | None = None


class FileMetadata(_Named):
    hash: str
    size: int
    type: str
    header: str = ""  # base64; empty only while a backup is still preparing the file

    format: str | None = None
    mime: str | None = None
    mtime_ns: int | None = None
    parts: tuple[LivePart, ...] | None = None

    taken_at: str | None = None
    taken_at_utc: float | None = None
    gps: dict[str, float | None] | None = None
    make: str | None = None
    model: str | None = None
    orientation: int | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    content_identifier: str | None = None
    motion_photo: bool | None = None
    warnings: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, data: object) -> FileMetadata:
        """Read opened metadata; :class:`MetadataError` if it is not a complete file record
        (a required field missing or of the wrong type, no header)."""
        try:
            meta = cls.model_validate(data)
        except ValidationError as err:
            raise MetadataError(f"not a file's metadata: {err.error_count()} bad fields") from err
        if not meta.header:
            raise MetadataError("file metadata lacks its content header")
        return meta

    def to_json(self) -> dict[str, Any]:
        """The JSON object to seal: the fields that were set (unknown ones included)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def with_header(self, header: bytes) -> FileMetadata:
        """This metadata with the content's secretstream header (known once encryption began)."""
        return self.model_copy(update={"header": base64.b64encode(header).decode("ascii")})

    def header_bytes(self) -> bytes:
        return base64.b64decode(self.header)

    def part_hashes(self) -> list[str]:
        """The content hashes of a Live Photo's parts (empty for other files)."""
        return [p.hash for p in self.parts or ()]
