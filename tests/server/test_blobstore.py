"""One contract suite for every BlobStore implementation (local directory, in-memory)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from photoark.server.blobs import BlobStore, LocalBlobStore, MemoryBlobStore
from photoark.server.blobs.base import READ_CHUNK
from photoark.server.errors import NotFound, StorageFull

UP = "0123456789abcdef"
OBJ = "fedcba9876543210"


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    makers: dict[str, Callable[[], BlobStore]] = {
        "local": lambda: LocalBlobStore(tmp_path),
        "memory": MemoryBlobStore,
    }
    return makers[request.param]()


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


def test_complete_is_idempotent_and_reads_back(store: BlobStore) -> None:
    parts = [os.urandom(1000), os.urandom(1000), os.urandom(123)]
    data = _fill(store, parts)
    assert store.object_size(OBJ) is None
    assert store.complete(UP, OBJ, 3) == len(data)
    assert store.complete(UP, OBJ, 3) == len(data)
    assert store.object_size(OBJ) == len(data)
    assert store.part_sizes(UP) == {}
    assert b"".join(store.read_range(OBJ, 0, len(data) - 1)) == data
    for start, end in [(0, 0), (999, 1000), (500, 2100), (2000, 2122), (1500, 1600)]:
        assert b"".join(store.read_range(OBJ, start, end)) == data[start : end + 1]


def test_complete_with_missing_part_is_not_found(store: BlobStore) -> None:
    store.put_part(UP, 0, b"a")
    store.put_part(UP, 2, b"c")
    with pytest.raises(NotFound):
        store.complete(UP, OBJ, 3)
    assert store.object_size(OBJ) is None


def test_read_range_chunks_are_bounded(store: BlobStore) -> None:
    data = _fill(store, [os.urandom(READ_CHUNK + 5000), os.urandom(READ_CHUNK // 2)])
    store.complete(UP, OBJ, 2)
    chunks = list(store.read_range(OBJ, 0, len(data) - 1))
    assert all(len(chunk) <= READ_CHUNK for chunk in chunks)
    assert b"".join(chunks) == data


def test_missing_object_and_bad_range(store: BlobStore) -> None:
    with pytest.raises(NotFound):
        store.read_range(OBJ, 0, 0)
    _fill(store, [b"abc"])
    store.complete(UP, OBJ, 1)
    with pytest.raises(ValueError):
        store.read_range(OBJ, 2, 3)


def test_abort_and_delete_are_idempotent(store: BlobStore) -> None:
    _fill(store, [b"abc"])
    store.abort(UP)
    store.abort(UP)
    assert store.part_sizes(UP) == {}
    _fill(store, [b"abc"])
    store.complete(UP, OBJ, 1)
    store.delete(OBJ)
    store.delete(OBJ)
    assert store.object_size(OBJ) is None


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
