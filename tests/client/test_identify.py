"""Identifying a file (format and content hash) without asking the stat cache twice: the settle
pass already looked every file up in its snapshot, so those it found nothing for (new or
changed: all of a first backup) are marked, and their workers do not query the cache again."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import blake3
import pytest

from photoark.client.pipeline.backup import backup
from photoark.client.pipeline.identify import identify
from photoark.client.pipeline.known import KnownContent
from photoark.client.pipeline.report import BackupProgress, BackupReport
from photoark.client.pipeline.scanner import Found, scan_split
from photoark.client.pipeline.settle import Settler
from photoark.client.pipeline.tally import Tally
from photoark.client.session import Session
from photoark.client.state.db import StateDB
from photoark.client.state.mirror import Album, Mirror
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import PendingUpload, UploadQueue
from photoark.client.state.statcache import BufferedStatCache, StatCache
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import serving, signed_up

ALBUM = Album(1, "Phone", b"k" * 32, 1)


class CountingCache(BufferedStatCache):
    def __init__(self, db: StateDB) -> None:
        super().__init__(db)
        self.lookups: list[str] = []

    def lookup(self, path: str, st: os.stat_result) -> tuple[str, str] | None:
        self.lookups.append(path)
        return super().lookup(path, st)


@pytest.fixture
def db(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "state.db")


def test_a_file_known_uncached_is_read_without_a_lookup_and_then_cached(
    tmp_path: Path, db: StateDB
) -> None:
    data = jpeg_bytes(1)
    path = make_tree(tmp_path / "p", {"a.jpg": data}) / "a.jpg"
    st = os.stat(path)
    cache = CountingCache(db)
    fmt, digest, read = identify(cache, str(path), st, small=True, maybe_cached=False)
    assert cache.lookups == []
    assert fmt is not None and fmt.name == "jpeg"
    assert (digest, read) == (blake3.blake3(data).hexdigest(), data)
    assert cache.lookup(str(path), st) == ("jpeg", digest)  # stored as before
    assert identify(cache, str(path), st, small=True) == (fmt, digest, None)  # a cache hit


def _settler(db: StateDB, cache: StatCache) -> Settler:
    session = cast(Session, SimpleNamespace(db=db, mirror=Mirror(db)))
    known = KnownContent(Mirror(db), PathVersions(db), ALBUM.id, "name+hash")
    tally = Tally(BackupReport(), BackupProgress(), cache, None)
    return Settler(session, ALBUM, "name+hash", cache, known, tally)


def test_the_settle_pass_marks_what_the_cache_holds_nothing_for(
    tmp_path: Path, db: StateDB
) -> None:
    root = make_tree(
        tmp_path / "p", {n: jpeg_bytes(i) for i, n in enumerate(["new.jpg", "changed.jpg"])}
    )
    make_tree(root, {"queued.jpg": jpeg_bytes(3), "sub": {"deep.jpg": jpeg_bytes(4)}})
    cache = StatCache(db)
    changed, queued = root / "changed.jpg", root / "queued.jpg"
    cache.store(str(changed), os.stat(changed), "jpeg", "old")
    cache.store(str(queued), os.stat(queued), "jpeg", "q")
    changed.write_bytes(jpeg_bytes(9, (70, 50)))
    UploadQueue(db).put(  # cached, but a killed run left its upload: the worker settles it
        PendingUpload(str(queued), 1, 1, "q", b"k" * 32, b"h" * 24, "u1", 0, 1)
    )
    found, _ = scan_split([str(root)])
    rest = _settler(db, cache).settle_unchanged([str(root)], found)
    uncached = {os.path.relpath(f.path, root): f.uncached for f in rest}
    assert uncached == {
        "new.jpg": True,
        "changed.jpg": True,
        "sub/deep.jpg": True,
        "queued.jpg": False,
    }


def test_a_file_outside_the_snapshot_is_not_marked(tmp_path: Path, db: StateDB) -> None:
    # the snapshot is read under the run's roots: a file elsewhere may still have an entry
    root = make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1)})
    beside = make_tree(tmp_path / "p2", {"b.jpg": jpeg_bytes(2)})  # "p2" starts like "p"
    cache = StatCache(db)
    b = beside / "b.jpg"
    cache.store(str(b), os.stat(b), "jpeg", "hb")
    found = [Found(str(root / "a.jpg"), os.stat(root / "a.jpg")), Found(str(b), os.stat(b))]
    rest = _settler(db, cache).settle_unchanged([str(root)], found)
    assert [(os.path.basename(f.path), f.uncached) for f in rest] == [
        ("a.jpg", True),
        ("b.jpg", False),
    ]


def test_a_first_backup_asks_the_stat_cache_nothing_and_a_rerun_settles_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    lookup = BufferedStatCache.lookup

    def counted(self: BufferedStatCache, path: str, st: os.stat_result) -> tuple[str, str] | None:
        asked.append(path)
        return lookup(self, path, st)

    monkeypatch.setattr(BufferedStatCache, "lookup", counted)
    root = make_tree(tmp_path / "p", {f"{i}.jpg": jpeg_bytes(i) for i in range(6)})
    settings = ServerSettings(data_dir=tmp_path / "server", login_hash="min")
    with serving(settings) as served, signed_up(tmp_path / "home", served.url) as session:
        first = backup(session, [str(root)], "Phone")
        assert (first.uploaded, first.failed, asked) == (6, [], [])
        (root / "0.jpg").write_bytes(jpeg_bytes(10))  # changed: read again, still no lookup
        again = backup(session, [str(root)], "Phone")
        assert (again.uploaded, again.skipped, asked) == (1, 5, [])
