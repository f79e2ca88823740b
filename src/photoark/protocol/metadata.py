"""A file's metadata: the JSON object the client seals with the file key.

The server never sees it (it stores ``encrypted_metadata``, opaque); every client that opens it
reads it through :class:`FileMetadata`, so the fields are typed in one place instead of being
looked up in a ``dict`` all over the client.

Required: ``name`` (and ``name_bytes``, base64, when the original name is not valid UTF-8),
``hash`` (BLAKE3 hex of the plaintext; ``"<still>:<video>"`` for a Live Photo), ``size``
(plaintext bytes), ``type`` (``image``, ``video`` or ``live``) and ``header`` (base64
secretstream header of the content). The rest is optional: what the backup knew of the file
(``format``, ``mime``, ``mtime_ns``, ``relative_path``), a Live Photo's ``parts``, and the media
fields read from EXIF or the container (``taken_at``, ``gps``, ``make``, ``model``...).

``relative_path`` is where the file sat under the folder that was backed up
(``Trips/Rome/IMG_1.jpg``): ``/``-separated, relative, no empty, ``.`` or ``..`` component, no
NUL or backslash, valid UTF-8. Export rebuilds the folders from it. Read from metadata another
device sealed, it is checked (:func:`clean_relative_path`): a value that breaks any rule is read
as absent, so the file is still there and exports under its name alone, and no value can lead
a writer outside the folder it writes into.

Unknown fields are kept, and :meth:`FileMetadata.to_json` gives back exactly the fields that
were set: a newer client's metadata survives a round trip through an older one.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

__all__ = ["MAX_RELATIVE_PATH", "FileMetadata", "LivePart", "MetadataError", "clean_relative_path"]

MAX_RELATIVE_PATH: Final = 4096  # characters: PATH_MAX on Linux


def clean_relative_path(value: object) -> str | None:
    """``value`` if it is a safe relative path (the rules in the module docstring), else
    ``None``. Never raises: a hostile value is dropped, not fatal to the file it came with."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_RELATIVE_PATH:
        return None
    if "\x00" in value or "\\" in value or value.startswith("/"):
        return None
    try:
        value.encode("utf-8")  # no lone surrogates: they would not survive a JSON round trip
    except UnicodeEncodeError:
        return None
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    first = parts[0]
    if len(parts) > 1 and len(first) == 2 and first[1] == ":" and first[0].isalpha():
        return None  # "C:/...": a drive on Windows
    return value


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
    relative_path: str | None = None  # under the folder backed up; None: unknown or unsafe
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

    @field_validator("relative_path", mode="before")
    @classmethod
    def _safe_relative_path(cls, value: object) -> str | None:
        return clean_relative_path(value)

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
