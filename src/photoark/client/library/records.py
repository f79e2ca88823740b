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
from photoark.protocol.metadata import FileMetadata, MetadataError
from photoark.protocol.models import Collection, CollectionCreate, Entry, FileRecord

__all__ = [
    "album_from_collection",
    "display_name",
    "encrypt_album",
    "file_from_entry",
    "header_of",
    "library_file",
    "seal_album_name",
    "seal_metadata",
]


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


def seal_metadata(file_key: bytes, metadata: FileMetadata) -> bytes:
    if "header" not in metadata.model_fields_set:
        raise ValueError("file metadata lacks its header")
    return seal_json(file_key, metadata.to_json())


def header_of(f: LibraryFile) -> bytes:
    return f.metadata.header_bytes()


def file_from_entry(album: Album, entry: Entry) -> LibraryFile:
    """Decrypt an entry's file key and metadata. Raises IntegrityError if either was altered."""
    if entry.file is None:
        raise ValueError("tombstone entries carry no file")
    file_key = unwrap_key(album.key, entry.encrypted_key)
    try:
        meta = FileMetadata.from_json(open_json(file_key, entry.file.encrypted_metadata))
    except MetadataError as err:
        raise IntegrityError(f"metadata of file {entry.file_id} is incomplete") from err
    return library_file(entry.file, meta, file_key)


def library_file(record: FileRecord, meta: FileMetadata, file_key: bytes) -> LibraryFile:
    """The mirror's record of a file: the server's record plus its decrypted metadata."""
    return LibraryFile(
        id=record.id,
        hash=meta.hash,
        name=meta.name,
        size=meta.size,
        type=meta.type,
        taken_at=meta.taken_at,
        taken_at_utc=meta.taken_at_utc,
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
