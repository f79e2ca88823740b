"""A primary store and its replicas: :class:`ReplicatedStore`, and :func:`copy_object`.

Every write and read goes to the primary; replicas only receive copies, made in the background
by the replication worker (:mod:`photoark.server.services.replication`) with
:func:`copy_object`. Two things reach the replicas directly:

- :meth:`ReplicatedStore.delete` deletes everywhere (a replica's failure is logged, not raised:
  the replica sweep deletes what nothing references);
- :meth:`ReplicatedStore.locate` is the read fallback: the first store, primary first, that
  holds the object at the size the database recorded. Downloads go there, so a primary that lost
  or truncated an object still serves it from a replica.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

from photoark.server.blobs.base import BlobStore, DirectStore, StoredKey
from photoark.server.blobs.s3 import write_stream
from photoark.server.errors import NotFound, ServerError

__all__ = ["ReplicatedStore", "copy_object"]

log = logging.getLogger(__name__)


def copy_object(source: BlobStore, target: BlobStore, key: str) -> int:
    """Copy object ``key`` from ``source`` to ``target`` (same key) and return its size:
    :meth:`DirectStore.copy_to` when the source is an S3 store, otherwise streamed from
    :meth:`BlobStore.read_range`. Replaces what ``target`` holds at ``key``; safe to repeat.
    Raises NotFound when ``source`` has no object ``key``; the caller checks the target's
    size afterwards (a HEAD), as it would after any copy."""
    if isinstance(source, DirectStore):
        return source.copy_to(target, key)
    size = source.object_size(key)
    if size is None:
        raise NotFound(f"no object {key} to copy")
    pieces: Iterator[bytes] = iter(()) if size == 0 else source.read_range(key, 0, size - 1)
    return write_stream(target, key, pieces, size)


class ReplicatedStore:
    """A :class:`BlobStore` that is its primary, plus named replicas for copies and reads."""

    def __init__(self, primary: BlobStore, replicas: Mapping[str, BlobStore] | None = None) -> None:
        self.primary = primary
        self.replicas: dict[str, BlobStore] = dict(replicas or {})

    def close(self) -> None:
        """Close every store that holds connections (an S3 store's pooled sockets)."""
        for store in (self.primary, *self.replicas.values()):
            close = getattr(store, "close", None)
            if callable(close):
                close()

    @property
    def direct(self) -> DirectStore | None:
        """The primary when clients move bytes themselves (an S3 primary), else ``None``."""
        return self.primary if isinstance(self.primary, DirectStore) else None

    def store(self, name: str) -> BlobStore:
        """The replica called ``name``; :class:`KeyError` if there is none."""
        return self.replicas[name]

    def locate(self, key: str, size: int) -> BlobStore | None:
        """The first store holding object ``key`` at ``size`` bytes (measured now: HEAD, or the
        parts on disk), the primary first; ``None`` when none does. A replica's answer is
        logged as a WARNING (the primary's copy is missing or damaged). A store that cannot be
        asked (unreachable) counts as not holding it."""
        for name, store in (("primary", self.primary), *self.replicas.items()):
            try:
                stored = store.stored_size(key)
            except ServerError as err:
                log.warning("cannot ask %s store about object %s: %s", name, key, err.message)
                continue
            if stored == size:
                if store is not self.primary:
                    log.warning("object %s read from replica %s: the primary lacks it", key, name)
                return store
        return None

    # -- BlobStore: everything goes to the primary, deletes go everywhere -----------------

    def put_part(self, upload_key: str, number: int, data: bytes | bytearray) -> None:
        self.primary.put_part(upload_key, number, data)

    def part_sizes(self, upload_key: str) -> dict[int, int]:
        return self.primary.part_sizes(upload_key)

    def complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        return self.primary.complete(upload_key, object_key, part_count)

    def put_object(self, object_key: str, data: bytes) -> None:
        self.primary.put_object(object_key, data)

    def put_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        self.primary.put_objects(objects)

    def abort(self, upload_key: str) -> None:
        self.primary.abort(upload_key)

    def object_size(self, object_key: str) -> int | None:
        return self.primary.object_size(object_key)

    def stored_size(self, object_key: str) -> int | None:
        return self.primary.stored_size(object_key)

    def read_range(self, object_key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        return self.primary.read_range(object_key, start, end_inclusive)

    def delete(self, object_key: str) -> None:
        """Delete from the primary (errors raised), then from every replica (errors logged:
        the replica sweep deletes what no live file references)."""
        self.primary.delete(object_key)
        for name, replica in self.replicas.items():
            try:
                replica.delete(object_key)
            except (ServerError, OSError) as err:
                log.warning("cannot delete object %s from replica %s: %s", object_key, name, err)

    def list_objects(self) -> Iterator[StoredKey]:
        return self.primary.list_objects()

    def list_uploads(self) -> Iterator[StoredKey]:
        return self.primary.list_uploads()

    def remove_temporary(self, older_than: float) -> int:
        return self.primary.remove_temporary(older_than)
