"""The :class:`BlobStore` interface: where encrypted file bytes live, apart from metadata.

An *upload* (key = the upload session id) is a set of numbered parts being written; ``complete``
turns it into an *object* (key = a random id fixed when the session opened) that is read by
byte range. A small object can also be written whole with ``put_object`` (the inline thumbnail
of a file commit), without an upload. Keys are lower-case hex strings made by the server
(``[0-9a-f]{8,64}``); stores reject anything else with :class:`ValueError`, so a key never
escapes the store's root.

Errors: a missing upload or object is :class:`~photoark.server.errors.NotFound`; a full disk or
quota of the storage backend is :class:`~photoark.server.errors.StorageFull`; other backend
failures propagate as they are. The local directory store is :mod:`.local`, an in-memory one
:mod:`.memory`; an S3 store (multipart upload = upload, object = object, presigned part URLs)
fits the same contract.

Sweeping (:mod:`photoark.server.services.sweeper`): :meth:`BlobStore.list_objects` and
:meth:`BlobStore.list_uploads` name everything stored with the time it last changed, and
:meth:`BlobStore.remove_temporary` drops what interrupted writes left; the sweeper decides
from the database what is garbage and deletes it with the idempotent :meth:`BlobStore.delete`
and :meth:`BlobStore.abort`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["READ_CHUNK", "BlobStore", "StoredKey", "check_key", "check_range"]

READ_CHUNK = 1024 * 1024  # read_range yields chunks of at most this size

_KEY_RE = re.compile(r"^[0-9a-f]{8,64}$")


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key; :class:`ValueError` otherwise."""
    if not _KEY_RE.match(key):
        raise ValueError(f"invalid blob key {key!r}")
    return key


def check_range(size: int, start: int, end_inclusive: int) -> None:
    """:class:`ValueError` unless ``0 <= start <= end_inclusive < size``."""
    if not 0 <= start <= end_inclusive < size:
        raise ValueError(f"range {start}-{end_inclusive} outside object of size {size}")


@dataclass(frozen=True)
class StoredKey:
    """An object or upload the store holds, and when it last changed (Unix seconds): the
    sweeper leaves anything younger than its grace period alone, whatever the database says,
    because a write may be on its way to being recorded."""

    key: str
    modified: float


class BlobStore(Protocol):
    def put_part(self, upload_key: str, number: int, data: bytes | bytearray) -> None:
        """Store part ``number`` (from 0) of an upload, creating the upload if new.

        Atomic (a reader sees the old part or the new one, never half) and durable when it
        returns. Overwrites an existing part with the same number: safe to retry.
        Raises StorageFull when the backend is out of space (nothing is left behind).
        """
        ...

    def part_sizes(self, upload_key: str) -> dict[int, int]:
        """Sizes of the parts stored so far, by number; ``{}`` for an unknown upload."""
        ...

    def complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        """Turn parts ``0..part_count-1`` into object ``object_key``; return its size in bytes.

        Idempotent: if the object already exists it returns its size (the upload is gone by
        then). Raises NotFound if neither the object nor all the parts exist. The object's size
        is the store's own sum of the parts, never a caller's claim.
        """
        ...

    def put_object(self, object_key: str, data: bytes) -> None:
        """Write a whole object (small: it is held in memory) without an upload.

        Atomic (the object appears whole or not at all) and durable when it returns; it then
        reads back like a completed upload. The key must be new (the server passes a fresh
        random one): if the object exists it is left unchanged and :class:`FileExistsError` is
        raised. Raises StorageFull when the backend is out of space (nothing is left behind).
        """
        ...

    def put_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        """:meth:`put_object` for each ``(key, data)``, durable when it returns (a store may
        make them durable together, which is why this exists: a bundle of small files). On an
        error some may exist: the caller deletes every key it passed (delete is idempotent).
        """
        ...

    def abort(self, upload_key: str) -> None:
        """Drop an upload and its parts. Idempotent: an unknown upload is not an error."""
        ...

    def object_size(self, object_key: str) -> int | None:
        """The object's size, or ``None`` if there is no such object."""
        ...

    def stored_size(self, object_key: str) -> int | None:
        """The bytes the store holds for the object right now, measured from the stored data
        (not from a size recorded when it was written: a part file truncated or lost since
        shows here), or ``None`` if the object, or any part of it, is missing. Read-only; what
        a client checks before it deletes its own copy of a file."""
        ...

    def read_range(self, object_key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        """Bytes ``start..end_inclusive`` of the object, in chunks of at most :data:`READ_CHUNK`.

        Raises NotFound for a missing object and ValueError for a range outside it when called,
        not lazily on first iteration, so an HTTP layer can answer with an error status.
        """
        ...

    def delete(self, object_key: str) -> None:
        """Delete the object. Idempotent: a missing object is not an error."""
        ...

    def list_objects(self) -> Iterator[StoredKey]:
        """Every object, with the time it was last written; in no particular order.

        Read-only and lazy: objects written or deleted while it runs may or may not be listed.
        Only well-formed keys are listed (never a temporary file).
        """
        ...

    def list_uploads(self) -> Iterator[StoredKey]:
        """Every upload (parts not yet completed into an object), with the time a part of it
        was last written; in no particular order. Read-only and lazy, as :meth:`list_objects`.
        """
        ...

    def remove_temporary(self, older_than: float) -> int:
        """Remove what interrupted writes left (temporary files, staging directories) that
        last changed before ``older_than`` (Unix seconds); return how many were removed.

        Never touches an object or a part. Idempotent, and safe while other processes write
        (several replicas may share the store) as long as ``older_than`` spares writes in
        flight. A store whose writes leave nothing behind returns 0.
        """
        ...
