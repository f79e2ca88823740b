"""The local store's batch durability (``put_objects``): no object is visible before its data is
durable, the names are durable before the call returns, and a failed sync leaves nothing and
raises, on both paths (one ``syncfs`` per filesystem, or an ``fdatasync`` per file and an
``fsync`` per directory). Every sync call is recorded by the inode it reaches, so the order
of syncs and links can be checked object by object."""

from __future__ import annotations

import errno
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from photoark.server.blobs import LocalBlobStore, durability
from photoark.server.errors import StorageFull

from .conftest import Account, Api

KEYS = [  # two share a fan-out directory
    "01abababababababab",
    "02abababababababab",
    "02cdcdcdcdcdcdcdcd",
    "03abababababababab",
    "feabababababababab",
]
Event = tuple[str, int]  # (what, inode reached)

EXT4 = 0xEF53
FUSE = 0x65735546
needs_libc = pytest.mark.skipif(durability._LIBC is None, reason="syncfs: Linux 5.8+ only")


def _objects() -> list[tuple[str, bytes]]:
    return [(key, os.urandom(1000 + 37 * n)) for n, key in enumerate(KEYS)]


def _record(monkeypatch: pytest.MonkeyPatch, *, whole: bool) -> list[Event]:
    """Record syncs and links; ``whole`` forces the syncfs path (a stand-in, on any system),
    otherwise the per-file path."""
    events: list[Event] = []
    link, fdatasync, fsync = os.link, os.fdatasync, os.fsync

    def on_fd(what: str, call: Callable[[int], None]) -> Callable[[int], None]:
        def recorded(fd: int) -> None:
            events.append((what, os.fstat(fd).st_ino))
            call(fd)

        return recorded

    def linked(src: str | Path, dst: str | Path) -> None:
        link(src, dst)
        events.append(("link", os.stat(dst).st_ino))

    monkeypatch.setattr(os, "link", linked)
    monkeypatch.setattr(os, "fdatasync", on_fd("fdatasync", fdatasync))
    monkeypatch.setattr(os, "fsync", on_fd("fsync", fsync))
    if whole:
        monkeypatch.setattr(durability, "_LIBC", object())
        monkeypatch.setattr(durability, "_filesystem_type", lambda _fd: EXT4)
        monkeypatch.setattr(durability, "_syncfs", on_fd("syncfs", fsync))
    else:
        monkeypatch.setattr(durability, "_LIBC", None)
    return events


def _inode(store_dir: Path, key: str) -> int:
    return (store_dir / "blobs" / key[:2] / key).stat().st_ino


def _visible(tmp_path: Path, store: LocalBlobStore) -> tuple[list[str], list[str]]:
    """The objects listed, and any temporary file left under ``blobs/``."""
    objects = sorted(o.key for o in store.list_objects())
    return objects, [p.name for p in (tmp_path / "blobs").rglob(".*")]


def test_syncfs_path_syncs_the_data_before_any_link_and_the_names_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    events = _record(monkeypatch, whole=True)
    objects = _objects()
    store.put_objects(objects)
    first = _inode(tmp_path, KEYS[0])  # the file opened first carries the batch's errors
    links = [("link", _inode(tmp_path, key)) for key in KEYS]
    assert events == [("syncfs", first), *links, ("syncfs", first)]
    for key, data in objects:
        assert b"".join(store.read_range(key, 0, len(data) - 1)) == data


def test_per_file_path_syncs_each_object_before_its_link_and_each_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    events = _record(monkeypatch, whole=False)
    store.put_objects(_objects())
    position = {event: index for index, event in enumerate(events)}
    for key in KEYS:
        inode = _inode(tmp_path, key)
        assert position[("fdatasync", inode)] < position[("link", inode)]
    parents = {(tmp_path / "blobs" / key[:2]).stat().st_ino for key in KEYS}
    last_link = max(position[("link", _inode(tmp_path, key))] for key in KEYS)
    assert {inode for what, inode in events if what == "fsync"} == parents
    assert all(position[("fsync", inode)] > last_link for inode in parents)
    assert len(events) == 2 * len(KEYS) + len(parents)


@pytest.mark.parametrize("whole", [True, False], ids=["syncfs", "per-file"])
@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
def test_a_failed_data_sync_leaves_no_object_and_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: bool, code: int
) -> None:
    store = LocalBlobStore(tmp_path)
    events = _record(monkeypatch, whole=whole)

    def failing(_fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(durability if whole else os, "_syncfs" if whole else "fdatasync", failing)
    expected = StorageFull if code == errno.ENOSPC else OSError
    with pytest.raises(expected) as info:
        store.put_objects(_objects())
    cause = info.value if code == errno.EIO else info.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == code
    assert [what for what, _ in events if what == "link"] == []
    assert _visible(tmp_path, store) == ([], [])


@pytest.mark.parametrize("whole", [True, False], ids=["syncfs", "per-file"])
def test_a_failed_name_sync_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    """After the links: the objects are there (their data durable), but the call must not
    return as if their names were durable."""
    store = LocalBlobStore(tmp_path)
    _record(monkeypatch, whole=whole)
    calls: list[int] = []

    def second_fails(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2 or not whole:  # syncfs: the second one
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(durability if whole else os, "_syncfs" if whole else "fsync", second_fails)
    with pytest.raises(OSError) as info:
        store.put_objects(_objects())
    assert info.value.errno == errno.EIO
    assert _visible(tmp_path, store) == (sorted(KEYS), [])


def test_only_filesystems_known_to_sync_whole_take_the_syncfs_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(tmp_path / "f", "wb") as fh:
        fds = [fh.fileno()]
        monkeypatch.setattr(durability, "_LIBC", object())
        monkeypatch.setattr(durability, "_filesystem_type", lambda _fd: EXT4)
        assert durability.BatchSync(fds).whole_filesystem
        monkeypatch.setattr(durability, "_filesystem_type", lambda _fd: FUSE)
        assert not durability.BatchSync(fds).whole_filesystem
        monkeypatch.setattr(durability, "_LIBC", None)  # not Linux, or before 5.8
        assert not durability.BatchSync(fds).whole_filesystem


def test_kernel_versions() -> None:
    assert durability._kernel_version("6.8.0-45-generic") == (6, 8)
    assert durability._kernel_version("5.10.216-204.855.amzn2.x86_64") >= (5, 8)
    assert durability._kernel_version("4.18.0-477.el8.x86_64") < (5, 8)
    assert durability._kernel_version("unknown") == (0, 0)


@needs_libc
def test_the_system_calls_work_and_report_errors(tmp_path: Path) -> None:
    fd = os.open("/proc/self/status", os.O_RDONLY)
    try:
        assert durability._filesystem_type(fd) == 0x9FA0  # PROC_SUPER_MAGIC
    finally:
        os.close(fd)
    with open(tmp_path / "f", "wb") as fh:
        fh.write(b"x")
        fh.flush()
        durability._syncfs(fh.fileno())
        closed = os.dup(fh.fileno())
    os.close(closed)
    with pytest.raises(OSError) as info:
        durability._syncfs(closed)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError):
        durability._filesystem_type(closed)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux")
def test_this_machine_s_choice_is_the_documented_one(tmp_path: Path) -> None:
    with open(tmp_path / "f", "wb") as fh:
        chosen = durability.BatchSync([fh.fileno()]).whole_filesystem
        if durability._LIBC is None:
            assert not chosen
        else:
            known = durability._filesystem_type(fh.fileno()) in durability.SYNCFS_FILESYSTEMS
            assert chosen == known


@pytest.mark.local_blobs
def test_a_bundle_whose_sync_finds_the_disk_full_is_storage_full(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    album = api.album(alice)
    contents = [os.urandom(300) for _ in range(16)]
    ids = [uuid.uuid4().hex for _ in contents]
    before = {k.key for k in api.blobs.list_objects()}

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durability, "_LIBC", object())
    monkeypatch.setattr(durability, "_filesystem_type", lambda _fd: EXT4)
    monkeypatch.setattr(durability, "_syncfs", full)
    response = api.bundle(alice, album, contents, upload_ids=ids)
    assert response.status_code == 507, response.text
    assert response.json()["code"] == "storage_full"
    assert api.usage(alice)["files"] == 0
    assert {k.key for k in api.blobs.list_objects()} == before
    monkeypatch.undo()
    again = api.bundle(alice, album, contents, upload_ids=ids)
    assert again.status_code == 201, again.text
    assert api.usage(alice)["files"] == len(contents)
