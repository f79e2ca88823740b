"""An in-memory :class:`~.base.BlobStore`, for tests and throw-away servers.

Same contract as the local store; thread-safe through one lock. Each object and upload keeps
the time it last changed, by ``clock`` (for the sweeper); a write here is never left half-done,
so there is never a temporary to remove.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

from photoark.server.blobs.base import READ_CHUNK, StoredKey, check_key, check_range
from photoark.server.errors import NotFound

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._uploads: dict[str, dict[int, bytes]] = {}
        self._objects: dict[str, bytes] = {}
        self._object_times: dict[str, float] = {}  # when each object, each upload last changed
        self._upload_times: dict[str, float] = {}

    def put_part(self, upload_key: str, number: int, data: bytes | bytearray) -> None:
        with self._lock:
            self._uploads.setdefault(check_key(upload_key), {})[number] = bytes(data)
            self._upload_times[upload_key] = self._clock()

    def part_sizes(self, upload_key: str) -> dict[int, int]:
        with self._lock:
            parts = self._uploads.get(check_key(upload_key), {})
            return {number: len(data) for number, data in parts.items()}

    def complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        check_key(upload_key)
        with self._lock:
            existing = self._objects.get(check_key(object_key))
            if existing is not None:
                return len(existing)
            parts = self._uploads.get(upload_key, {})
            if any(n not in parts for n in range(part_count)):
                raise NotFound(f"upload {upload_key} misses parts")
            self._objects[object_key] = b"".join(parts[n] for n in range(part_count))
            self._object_times[object_key] = self._clock()
            del self._uploads[upload_key]
            self._upload_times.pop(upload_key, None)
            return len(self._objects[object_key])

    def put_object(self, object_key: str, data: bytes) -> None:
        with self._lock:
            if check_key(object_key) in self._objects:
                raise FileExistsError(f"object {object_key} exists")
            self._objects[object_key] = bytes(data)
            self._object_times[object_key] = self._clock()

    def put_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        for object_key, data in objects:
            self.put_object(object_key, bytes(data))

    def abort(self, upload_key: str) -> None:
        with self._lock:
            self._uploads.pop(check_key(upload_key), None)
            self._upload_times.pop(upload_key, None)

    def object_size(self, object_key: str) -> int | None:
        with self._lock:
            data = self._objects.get(check_key(object_key))
        return None if data is None else len(data)

    def stored_size(self, object_key: str) -> int | None:
        return self.object_size(object_key)

    def read_range(self, object_key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        with self._lock:
            data = self._objects.get(check_key(object_key))
        if data is None:
            raise NotFound(f"no object {object_key}")
        check_range(len(data), start, end_inclusive)
        return _chunks(data, start, end_inclusive)

    def delete(self, object_key: str) -> None:
        with self._lock:
            self._objects.pop(check_key(object_key), None)
            self._object_times.pop(object_key, None)

    def list_objects(self) -> Iterator[StoredKey]:
        with self._lock:
            listed = [StoredKey(key, self._object_times[key]) for key in self._objects]
        return iter(listed)

    def list_uploads(self) -> Iterator[StoredKey]:
        with self._lock:
            listed = [StoredKey(key, self._upload_times[key]) for key in self._uploads]
        return iter(listed)

    def remove_temporary(self, older_than: float) -> int:
        return 0


def _chunks(data: bytes, start: int, end_inclusive: int) -> Iterator[bytes]:
    for offset in range(start, end_inclusive + 1, READ_CHUNK):
        yield data[offset : min(offset + READ_CHUNK, end_inclusive + 1)]
