"""``BlobStore.stored_size`` (what ``POST /files/verify`` reports) for every implementation:
objects completed from parts, written whole, written in a bundle; missing; deleted."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from photoark.server.blobs import BlobStore, LocalBlobStore, MemoryBlobStore

UP = "0123456789abcdef"


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    makers: dict[str, Callable[[], BlobStore]] = {
        "local": lambda: LocalBlobStore(tmp_path),
        "memory": MemoryBlobStore,
    }
    return makers[request.param]()


def test_stored_size_of_every_kind_of_object(store: BlobStore) -> None:
    for number, size in enumerate((1000, 1000, 17)):
        store.put_part(UP, number, os.urandom(size))
    store.complete(UP, "aa00000000000001", 3)
    store.put_object("aa00000000000002", os.urandom(50))
    store.put_objects([("aa00000000000003", os.urandom(60)), ("bb00000000000004", b"x")])
    assert store.stored_size("aa00000000000001") == 2017
    assert store.stored_size("aa00000000000002") == 50
    assert store.stored_size("aa00000000000003") == 60
    assert store.stored_size("bb00000000000004") == 1
    assert store.stored_size("cc00000000000005") is None
    store.delete("aa00000000000001")
    store.delete("aa00000000000003")
    assert store.stored_size("aa00000000000001") is None
    assert store.stored_size("aa00000000000003") is None
    with pytest.raises(ValueError):
        store.stored_size("../etc")


def test_local_stored_size_measures_the_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for number in range(2):
        store.put_part(UP, number, os.urandom(1000))
    store.complete(UP, "aa00000000000001", 2)
    store.put_objects([("aa00000000000002", os.urandom(60))])
    directory = tmp_path / "blobs" / "aa" / "aa00000000000001"
    with open(directory / "00000001.part", "r+b") as fh:
        fh.truncate(10)
    assert store.object_size("aa00000000000001") == 2000  # the manifest's record
    assert store.stored_size("aa00000000000001") == 1010  # what is there
    (directory / "00000000.part").unlink()
    assert store.stored_size("aa00000000000001") is None
    with open(tmp_path / "blobs" / "aa" / "aa00000000000002", "r+b") as fh:
        fh.truncate(7)
    assert store.stored_size("aa00000000000002") == 7
