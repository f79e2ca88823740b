"""One contract suite for every BlobStore implementation: local directory, in-memory, and S3
(a SeaweedFS started once per session, a fresh key prefix per test; skipped without ``weed``).

On S3 every part but the last must be at least 5 MiB (``min_part``), and an upload completes
into the object at its own key (``obj`` is ``UP`` there)."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from photoark.server.blobs import BlobStore, LocalBlobStore, MemoryBlobStore, S3BlobStore
from photoark.server.blobs.base import READ_CHUNK
from photoark.server.blobs.s3 import MIN_PART_SIZE
from photoark.server.errors import NotFound, StorageFull
from tests.s3_fixtures import (  # noqa: F401  (pytest fixtures)
    s3_bucket_fixture,
    s3_store_fixture,
    s3_url_fixture,
    weed_fixture,
)

UP = "0123456789abcdef"
OBJ = "fedcba9876543210"


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    makers: dict[str, Callable[[], BlobStore]] = {
        "local": lambda: LocalBlobStore(tmp_path),
        "memory": MemoryBlobStore,
        "s3": lambda: request.getfixturevalue("s3_store"),  # starts weed only when asked
    }
    return makers[request.param]()


@pytest.fixture
def min_part(store: BlobStore) -> int:
    """The smallest size for a part that is not the last (S3 refuses less at complete)."""
    return MIN_PART_SIZE if isinstance(store, S3BlobStore) else 1000


@pytest.fixture
def obj(store: BlobStore) -> str:
    """The object key ``complete`` makes from upload ``UP`` (the same key on S3)."""
    return UP if isinstance(store, S3BlobStore) else OBJ


def _fill(store: BlobStore, parts: list[bytes]) -> bytes:
    for number, data in enumerate(parts):
        store.put_part(UP, number, data)
    return b"".join(parts)


def test_parts_overwrite_and_sizes(store: BlobStore) -> None:
    assert store.part_sizes(UP) == {}
    store.put_part(UP, 1, b"x" * 10)
    store.put_part(UP, 1, b"y" * 7)
    store.put_part(UP, 0, b"z" * 3)
    assert store.part_sizes(UP) == {0: 3, 1: 7}


def test_complete_is_idempotent_and_reads_back(store: BlobStore, min_part: int, obj: str) -> None:
    m = min_part
    parts = [os.urandom(m), os.urandom(m), os.urandom(123)]
    data = _fill(store, parts)
    assert store.object_size(obj) is None
    assert store.complete(UP, obj, 3) == len(data)
    assert store.complete(UP, obj, 3) == len(data)
    assert store.object_size(obj) == len(data)
    assert store.stored_size(obj) == len(data)
    assert store.part_sizes(UP) == {}
    assert b"".join(store.read_range(obj, 0, len(data) - 1)) == data
    ranges = [(0, 0), (m - 1, m), (m // 2, 2 * m + 100), (2 * m, 2 * m + 122), (m + 500, m + 600)]
    for start, end in ranges:
        assert b"".join(store.read_range(obj, start, end)) == data[start : end + 1]


def test_complete_with_missing_part_is_not_found(store: BlobStore, obj: str) -> None:
    store.put_part(UP, 0, b"a")
    store.put_part(UP, 2, b"c")
    with pytest.raises(NotFound):
        store.complete(UP, obj, 3)
    assert store.object_size(obj) is None


def test_read_range_chunks_are_bounded(store: BlobStore, min_part: int, obj: str) -> None:
    first = max(min_part, READ_CHUNK + 5000)
    data = _fill(store, [os.urandom(first), os.urandom(READ_CHUNK // 2)])
    store.complete(UP, obj, 2)
    chunks = list(store.read_range(obj, 0, len(data) - 1))
    assert all(len(chunk) <= READ_CHUNK for chunk in chunks)
    assert b"".join(chunks) == data


def test_missing_object_and_bad_range(store: BlobStore, obj: str) -> None:
    with pytest.raises(NotFound):
        store.read_range(obj, 0, 0)
    _fill(store, [b"abc"])
    store.complete(UP, obj, 1)
    with pytest.raises(ValueError):
        store.read_range(obj, 2, 3)


def test_abort_and_delete_are_idempotent(store: BlobStore, obj: str) -> None:
    _fill(store, [b"abc"])
    store.abort(UP)
    store.abort(UP)
    assert store.part_sizes(UP) == {}
    _fill(store, [b"abc"])
    store.complete(UP, obj, 1)
    store.delete(obj)
    store.delete(obj)
    assert store.object_size(obj) is None
    assert store.stored_size(obj) is None


def test_listings_name_uploads_and_objects(store: BlobStore) -> None:
    before = time.time() - 5
    assert list(store.list_uploads()) == []
    assert list(store.list_objects()) == []
    store.put_part(UP, 0, b"part")
    store.put_object(OBJ, b"object")
    uploads, objects = list(store.list_uploads()), list(store.list_objects())
    assert [u.key for u in uploads] == [UP]
    assert [o.key for o in objects] == [OBJ]
    assert all(before <= s.modified <= time.time() + 5 for s in [*uploads, *objects])
    store.abort(UP)
    store.delete(OBJ)
    assert list(store.list_uploads()) == []
    assert list(store.list_objects()) == []
    assert store.remove_temporary(time.time()) == 0


def test_keys_cannot_escape(store: BlobStore) -> None:
    for bad in ["../etc", "ABCDEF0123", "short", "a/b0000000"]:
        with pytest.raises(ValueError):
            store.put_part(bad, 0, b"x")


class FullDisk(LocalBlobStore):
    """A local store whose disk is full."""

    def _write_file(self, path: Path, data: bytes | bytearray) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_local_disk_full_is_storage_full(tmp_path: Path) -> None:
    store = FullDisk(tmp_path)
    with pytest.raises(StorageFull) as info:
        store.put_part(UP, 0, b"x")
    assert isinstance(info.value.__cause__, OSError)


def test_local_complete_moves_without_copying(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_part(UP, 0, b"hello")
    inode = (tmp_path / "uploads" / UP / "00000000.part").stat().st_ino
    store.complete(UP, OBJ, 1)
    moved = tmp_path / "blobs" / OBJ[:2] / OBJ / "00000000.part"
    assert moved.stat().st_ino == inode
    assert not (tmp_path / "uploads" / UP).exists()


def test_put_object_reads_back_like_a_completed_upload(store: BlobStore) -> None:
    data = os.urandom(READ_CHUNK + 321)
    store.put_object(OBJ, data)
    assert store.object_size(OBJ) == len(data)
    assert b"".join(store.read_range(OBJ, 0, len(data) - 1)) == data
    assert b"".join(store.read_range(OBJ, 10, READ_CHUNK + 5)) == data[10 : READ_CHUNK + 6]
    assert store.part_sizes(OBJ) == {}  # no upload was involved
    store.delete(OBJ)
    assert store.object_size(OBJ) is None


def test_put_objects_writes_each_like_put_object(store: BlobStore) -> None:
    objects = {f"{i:02d}" + "ab" * 8: os.urandom(1000 * i + 1) for i in range(5)}
    store.put_objects([(key, memoryview(data)) for key, data in objects.items()])
    for key, data in objects.items():
        assert store.object_size(key) == len(data)
        assert b"".join(store.read_range(key, 0, len(data) - 1)) == data
    with pytest.raises(FileExistsError):
        store.put_objects([("ff" * 8, b"new"), (next(iter(objects)), b"again")])
    first = next(iter(objects))
    assert b"".join(store.read_range(first, 0, 0)) == objects[first][:1]


def test_local_put_objects_leaves_no_staging(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_objects([(OBJ, b"one"), ("0123456789abcdef", b"two")])
    with pytest.raises(FileExistsError):
        store.put_objects([("aaaaaaaaaaaaaaaa", b"x"), (OBJ, b"again")])
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == []
    assert [p.name for p in (tmp_path / "blobs").rglob(".*")] == []  # no temporary left
    assert store.object_size("aaaaaaaaaaaaaaaa") is not None  # linked before the clash
    store.delete("aaaaaaaaaaaaaaaa")
    assert store.object_size("aaaaaaaaaaaaaaaa") is None


def test_put_object_never_replaces_an_object(store: BlobStore) -> None:
    store.put_object(OBJ, b"first")
    with pytest.raises(FileExistsError):
        store.put_object(OBJ, b"second one")
    assert b"".join(store.read_range(OBJ, 0, 4)) == b"first"
    with pytest.raises(ValueError):
        store.put_object("../escape00", b"x")


def test_local_put_object_leaves_no_staging(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_object(OBJ, b"thumb")
    with pytest.raises(FileExistsError):
        store.put_object(OBJ, b"again")
    assert os.listdir(tmp_path / "uploads") == []
    assert sorted(os.listdir(tmp_path / "blobs" / OBJ[:2] / OBJ)) == [
        "00000000.part",
        "manifest.json",
    ]


def test_local_put_object_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    store = LocalBlobStore(tmp_path)
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageFull):
        store.put_object(OBJ, b"thumb")
    monkeypatch.undo()
    assert os.listdir(tmp_path / "uploads") == []
    assert store.object_size(OBJ) is None
