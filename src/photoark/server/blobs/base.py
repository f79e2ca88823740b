"""The :class:`BlobStore` interface: where encrypted file bytes live, apart from metadata.

An *upload* (key = the upload session id) is a set of numbered parts being written; ``complete``
turns it into an *object* (key = a random id fixed when the session opened) that is read by
byte range. A small object can also be written whole with ``put_object`` (the inline thumbnail
of a file commit), without an upload. Keys are lower-case hex strings made by the server
(``[0-9a-f]{8,64}``); stores reject anything else with :class:`ValueError`, so a key never
escapes the store's root.

Errors: a missing upload or object is :class:`~photoark.server.errors.NotFound`; a full disk or
quota of the storage backend is :class:`~photoark.server.errors.StorageFull`; a backend that
cannot be used (unreachable, credentials refused, bucket missing) is :class:`BlobStoreError`,
and one that asks to slow down is :class:`~photoark.server.errors.Busy`; other local failures
(``OSError``) propagate as they are. The local directory store is :mod:`.local`, an in-memory
one :mod:`.memory`, the S3 store :mod:`.s3` (multipart upload = upload, object = object).

Sweeping (:mod:`photoark.server.services.sweeper`): :meth:`BlobStore.list_objects` and
:meth:`BlobStore.list_uploads` name everything stored with the time it last changed, and
:meth:`BlobStore.remove_temporary` drops what interrupted writes left; the sweeper decides
from the database what is garbage and deletes it with the idempotent :meth:`BlobStore.delete`
and :meth:`BlobStore.abort`.

Direct transfers (:class:`DirectStore`): an S3 store also lets clients move bytes themselves,
through presigned URLs the server hands out; the server only creates and completes multipart
uploads and checks sizes and ETags (MD5s) with HEAD and ListParts. The same key space serves
both interfaces: an S3 multipart upload at key ``k`` *is* the upload ``k`` of
:class:`BlobStore`, and completing it makes the object ``k`` (upload key == object key).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from photoark.server.errors import ServerError

__all__ = [
    "READ_CHUNK",
    "BlobStore",
    "BlobStoreError",
    "DirectStore",
    "ObjectInfo",
    "Presigned",
    "StoredKey",
    "check_key",
    "check_range",
    "multipart_etag",
]

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


class BlobStoreError(ServerError):
    """The blob backend cannot be used: a bad store URL, a bucket that does not exist or
    cannot be reached, credentials missing or refused. The message says what to fix (which
    variable or URL parameter to set); at start-up the runner turns it into a start failure.
    Raised ``from`` the library error (botocore's), never decided from message text."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the store says about an object, or about one stored part of a multipart upload.

    ``etag`` is lower-case without quotes: the MD5 hex of the bytes for a single PUT or a
    part; ``<md5 of the parts' binary md5s>-<N>`` for an object completed from N parts (see
    :func:`multipart_etag`). Compare it only where :attr:`DirectStore.md5_etags` is true."""

    size: int
    etag: str


@dataclass(frozen=True)
class Presigned:
    """A URL a client uses once, without credentials, until ``expires_at`` (Unix seconds).

    ``headers`` are the headers the client MUST send, with exactly these values (they are
    signed: ``Content-Length``, ``Content-MD5``, ``If-None-Match``); it may add others that
    are not signed (an unsigned ``Content-MD5`` is still enforced by S3)."""

    url: str
    method: str  # "PUT" or "GET"
    headers: dict[str, str]
    expires_at: float


def multipart_etag(part_md5s: Sequence[bytes]) -> str:
    """The ETag S3 gives an object completed from parts with these binary MD5s (in order)."""
    digest = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
    return f"{digest}-{len(part_md5s)}"


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


@runtime_checkable
class DirectStore(Protocol):
    """A store clients write and read themselves, through presigned URLs (S3).

    Keys are blob keys as in :class:`BlobStore` (``check_key``; a store may prefix them).
    Parts are numbered from 0, as in :meth:`BlobStore.put_part` (S3's PartNumber is ``n+1``).
    Presigning is local computation (no request, ~0.2 ms); every other method is one or a few
    requests. Errors: :class:`~photoark.server.errors.NotFound` for a missing upload or object
    where the method says so; :class:`BlobStoreError` when the backend cannot be reached or
    refuses the credentials; nothing else is caught. Every method is safe to call from
    several threads.
    """

    @property
    def md5_etags(self) -> bool:
        """Whether ETags are MD5s (SeaweedFS, MinIO, AWS without SSE-KMS: ``verify=etag``,
        the default). When false (``verify=size``) callers check sizes only."""
        ...

    def create_multipart(self, key: str) -> str:
        """Start a multipart upload at ``key``; return its upload id (store it: it is the only
        way back to the upload). Not idempotent: each call starts another upload (an unused
        one is aborted by the sweeper, which sees it in :meth:`BlobStore.list_uploads`)."""
        ...

    def presign_part(self, key: str, upload_id: str, n: int, size: int, ttl: float) -> Presigned:
        """A PUT URL for part ``n`` of the upload, valid ``ttl`` seconds, that only accepts a
        body of exactly ``size`` bytes (``Content-Length`` is signed). Send ``Content-MD5``
        too: S3 answers 400 BadDigest when the body does not match it. A PUT may be repeated
        (the upload then lists both copies, see :meth:`list_part`). Every part but the last
        must be at least 5 MiB, or :meth:`complete_multipart` fails; :class:`ValueError` for
        ``n`` outside ``0..9999``. No request is made: an unknown upload shows when the URL is
        used (404 NoSuchUpload)."""
        ...

    def list_part(self, key: str, upload_id: str, n: int) -> list[ObjectInfo]:
        """Every stored copy of part ``n`` (``[]`` if none arrived). Several when the part was
        PUT more than once: S3 (SeaweedFS) lists each, in any order, and only one of them is
        used by :meth:`complete_multipart`, the one whose ETag it is given; so the caller
        picks the copy whose ETag is the MD5 it expects and records that ETag.
        Read-only; raises NotFound when the upload does not exist (aborted or completed)."""
        ...

    def complete_multipart(self, key: str, upload_id: str, etags: Sequence[str]) -> ObjectInfo:
        """Make the object ``key`` from parts ``0..len(etags)-1``, part ``i`` being the stored
        copy whose ETag is ``etags[i]``; return the object's size and ETag as HEAD reads them
        (check them: the size is the store's, never a claim). Idempotent: when the upload is
        gone but the object exists (a repeated complete), returns the object's info.
        Raises NotFound when neither exists, or a part with that ETag is not stored;
        :class:`~photoark.server.errors.BadRequest` when a part but the last is under 5 MiB.
        """
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts. Idempotent: an unknown upload is not an error.
        Never touches a completed object at ``key``."""
        ...

    def presign_put(self, key: str, size: int, md5_b64: str, ttl: float) -> Presigned:
        """A single-request PUT URL for a whole object of ``size`` bytes with this MD5
        (base64 of the 16 binary bytes), valid ``ttl`` seconds. ``Content-Length``,
        ``Content-MD5`` and ``If-None-Match: *`` are signed, so S3 refuses another size
        (403), other bytes (400 BadDigest), and any PUT once the object exists (412
        PreconditionFailed): a client treats 412 as "already stored", and a URL still valid
        after the commit cannot overwrite the object. No request is made."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or ``None`` if there is no object at ``key`` (an
        upload in progress is not an object). Read-only, safe to retry."""
        ...

    def presign_get(self, key: str, ttl: float) -> Presigned:
        """A GET URL for the object, valid ``ttl`` seconds; it serves ``Range`` requests.
        No request is made: a missing object shows as 404 when the URL is used, so callers
        check with :meth:`head` (or ``locate``) first."""
        ...

    def copy_to(self, target: BlobStore, key: str) -> int:
        """Copy object ``key`` to the same key in ``target`` and return its size. CopyObject
        when ``target`` is an S3 store on the same endpoint (bytes stay inside S3), otherwise a
        streamed copy (read in 16 MiB pieces, written as a multipart upload; never the whole
        object in memory). Overwrites what ``target`` holds at ``key`` and is safe to repeat
        or to run again after an interrupted copy (whose half upload the target's sweeper
        aborts). Raises NotFound when the source has no object ``key``; the caller checks the
        target's size afterwards."""
        ...
