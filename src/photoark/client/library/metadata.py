"""Encrypting and decrypting library records: album names, file keys, file metadata.

The metadata of a file is one JSON object sealed with the file key. Required fields:
``name``, ``hash`` (BLAKE3 hex of the plaintext), ``size`` (plaintext bytes), ``type``
(image | video | live), ``header`` (base64 secretstream header of the content). Media fields
(``taken_at``, ``gps``, ``make``, ``model``...) are optional. Unknown fields are kept: a newer
client's metadata survives an older one.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from photoark.client.state.mirror import Album, LibraryFile
from photoark.crypto.boxes import (
    new_key,
    open_box,
    open_json,
    seal,
    seal_json,
    unwrap_key,
    wrap_key,
)
from photoark.crypto.errors import IntegrityError
from photoark.protocol.models import Collection, CollectionCreate, Entry, FileRecord

__all__ = [
    "album_from_collection",
    "display_name",
    "encrypt_album",
    "file_from_entry",
    "header_of",
    "library_file",
    "restore_name",
    "seal_album_name",
    "seal_metadata",
]

_REQUIRED = ("name", "hash", "size", "type", "header")


def seal_album_name(album_key: bytes, name: str) -> bytes:
    return seal(album_key, name.encode("utf-8"))


def encrypt_album(master_key: bytes, name: str) -> tuple[CollectionCreate, bytes]:
    key = new_key()
    request = CollectionCreate(
        encrypted_key=wrap_key(master_key, key), encrypted_name=seal_album_name(key, name)
    )
    return request, key


def album_from_collection(master_key: bytes, c: Collection) -> Album:
    key = unwrap_key(master_key, c.encrypted_key)
    try:
        name = open_box(key, c.encrypted_name).decode("utf-8")
    except UnicodeDecodeError as err:
        raise IntegrityError("album name is not valid UTF-8") from err
    return Album(c.id, name, key, c.version)


def seal_metadata(file_key: bytes, metadata: dict[str, Any]) -> bytes:
    missing = [k for k in _REQUIRED if k not in metadata]
    if missing:
        raise ValueError(f"file metadata lacks {missing}")
    return seal_json(file_key, metadata)


def header_of(f: LibraryFile) -> bytes:
    return base64.b64decode(f.metadata["header"])


def file_from_entry(album: Album, entry: Entry) -> LibraryFile:
    """Decrypt an entry's file key and metadata. Raises IntegrityError if either was altered."""
    if entry.file is None:
        raise ValueError("tombstone entries carry no file")
    file_key = unwrap_key(album.key, entry.encrypted_key)
    meta = open_json(file_key, entry.file.encrypted_metadata)
    if not isinstance(meta, dict) or any(k not in meta for k in _REQUIRED):
        raise IntegrityError(f"metadata of file {entry.file_id} is incomplete")
    return library_file(entry.file, meta, file_key)


def library_file(record: FileRecord, meta: dict[str, Any], file_key: bytes) -> LibraryFile:
    """The mirror's record of a file: the server's record plus its decrypted metadata."""
    return LibraryFile(
        id=record.id,
        hash=str(meta["hash"]),
        name=str(meta["name"]),
        size=int(meta["size"]),
        type=str(meta["type"]),
        taken_at=meta.get("taken_at"),
        taken_at_utc=meta.get("taken_at_utc"),
        metadata=meta,
        file_key=file_key,
        content_size=record.content_size,
        thumbnail_size=record.thumbnail_size,
        created_at=record.created_at,
        is_trashed=record.is_trashed,
    )


def display_name(path: str) -> dict[str, str]:
    """``{"name": ...}``, plus ``name_bytes`` (base64) when the name is not valid UTF-8."""
    name = os.path.basename(path)
    try:
        name.encode("utf-8")
        return {"name": name}
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        return {
            "name": raw.decode("utf-8", "replace"),
            "name_bytes": base64.b64encode(raw).decode("ascii"),
        }


def restore_name(metadata: dict[str, Any]) -> str:
    """The original filename as the OS spells it (the inverse of :func:`display_name`)."""
    if "name_bytes" in metadata:
        return os.fsdecode(base64.b64decode(metadata["name_bytes"]))
    return str(metadata["name"])
