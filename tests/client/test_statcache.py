"""The stat cache, and the buffered one a backup run writes through."""

from __future__ import annotations

import os
from pathlib import Path

from photoark.client.state import StateDB
from photoark.client.state.statcache import BufferedStatCache, StatCache


def _file(tmp_path: Path, name: str, data: bytes = b"x") -> tuple[str, os.stat_result]:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), os.stat(path)


def test_buffered_entries_are_seen_at_once_and_written_on_flush(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    buffered, plain = BufferedStatCache(db, batch=100), StatCache(db)
    path, st = _file(tmp_path, "a.jpg")
    buffered.store(path, st, "jpeg", "h1")
    assert buffered.lookup(path, st) == ("jpeg", "h1")
    assert plain.lookup(path, st) is None  # not written yet
    buffered.flush()
    assert plain.lookup(path, st) == ("jpeg", "h1")


def test_a_full_batch_is_written_without_a_flush(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    buffered, plain = BufferedStatCache(db, batch=3), StatCache(db)
    files = [_file(tmp_path, f"{n}.jpg") for n in range(3)]
    for path, st in files:
        buffered.store(path, st, "jpeg", path)
    assert [plain.lookup(p, st) for p, st in files] == [("jpeg", p) for p, _ in files]


def test_forget_drops_a_pending_entry_too(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    buffered, plain = BufferedStatCache(db), StatCache(db)
    path, st = _file(tmp_path, "a.jpg")
    plain.store(path, st, "jpeg", "old")
    buffered.store(path, st, "jpeg", "new")
    buffered.forget(path)  # e.g. the upload failed: the cached hash may be the stale one
    buffered.flush()
    assert buffered.lookup(path, st) is None
    assert plain.lookup(path, st) is None


def test_a_changed_file_misses_its_pending_entry(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    buffered = BufferedStatCache(db)
    path, st = _file(tmp_path, "a.jpg")
    buffered.store(path, st, "jpeg", "h1")
    Path(path).write_bytes(b"changed, and longer")
    assert buffered.lookup(path, os.stat(path)) is None
