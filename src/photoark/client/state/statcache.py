"""Stat cache: (path, size, mtime_ns, ctime_ns, inode) → (format, content hash), so an unchanged
file is never read again, not even to sniff its format.

``ctime`` is part of the key because tools that edit metadata in place may restore the mtime
(``exiftool -P``); nothing can set the ctime. Non-media files are cached with format "" and no
hash, so they are not re-sniffed either. Paths are stored as raw bytes (``os.fsencode``) so any
filename round-trips."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from photoark.client.state.db import StateDB, subtree, subtree_bounds

__all__ = ["BufferedStatCache", "StatCache"]


_Row = tuple[bytes, int, int, int, int, str, str]
_INSERT = (
    "INSERT OR REPLACE INTO stat_cache"
    " (path, size, mtime_ns, ctime_ns, inode, format, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _row(path: str, st: os.stat_result, fmt: str, content_hash: str) -> _Row:
    return (
        os.fsencode(path),
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        fmt,
        content_hash,
    )


class StatCache:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def lookup(self, path: str, st: os.stat_result) -> tuple[str, str] | None:
        """(format name or "" for non-media, hash or "") if the file is unchanged, else None."""
        row = self._db.query_one(
            "SELECT size, mtime_ns, ctime_ns, inode, format, hash FROM stat_cache WHERE path = ?",
            (os.fsencode(path),),
        )
        if row is None:
            return None
        cached = (row["size"], row["mtime_ns"], row["ctime_ns"], row["inode"])
        if cached != (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            return None
        return str(row["format"]), str(row["hash"])

    def store(self, path: str, st: os.stat_result, fmt: str, content_hash: str) -> None:
        self._db.execute(_INSERT, _row(path, st, fmt, content_hash))

    def snapshot(self, roots: Sequence[str]) -> dict[bytes, tuple[tuple[int, ...], str, str]]:
        """Every cached entry under ``roots`` (absolute), for a fast pass over unchanged files:
        raw path → ((size, mtime_ns, ctime_ns, inode), format, hash). One range query per root."""
        out: dict[bytes, tuple[tuple[int, ...], str, str]] = {}
        for root in roots:
            rows = self._db.query_tuples(
                "SELECT path, size, mtime_ns, ctime_ns, inode, format, hash FROM stat_cache"
                f" WHERE {subtree()}",
                subtree_bounds(root),
            )
            for path, size, mtime_ns, ctime_ns, inode, fmt, content_hash in rows:
                out[path] = ((size, mtime_ns, ctime_ns, inode), fmt, content_hash)
        return out

    @staticmethod
    def key_of(st: os.stat_result) -> tuple[int, ...]:
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def forget(self, path: str) -> None:
        self._db.execute("DELETE FROM stat_cache WHERE path = ?", (os.fsencode(path),))

    def forget_under(self, root: str, keep: set[bytes] | None = None) -> int:
        """Drop the entries of ``root`` and everything under it (a folder deleted or moved
        away), except the raw paths in ``keep``. Returns how many were dropped."""
        bounds, where = subtree_bounds(root), subtree()
        with self._db.transaction() as conn:
            if not keep:
                return conn.execute(f"DELETE FROM stat_cache WHERE {where}", bounds).rowcount
            rows = conn.execute(f"SELECT path FROM stat_cache WHERE {where}", bounds)
            gone = [(p,) for (p,) in rows.fetchall() if bytes(p) not in keep]
            conn.executemany("DELETE FROM stat_cache WHERE path = ?", gone)
            return len(gone)


class BufferedStatCache(StatCache):
    """A stat cache whose writes are gathered and written ``batch`` at a time, in one
    transaction, instead of one commit per file: a backup's workers each took the state DB's
    lock for every file they hashed, behind the bundles' commits. Call :meth:`flush` when the
    run ends (what is lost to a kill is a cache entry: that file is hashed again next time).
    Lookups and :meth:`forget` see the pending entries."""

    def __init__(self, db: StateDB, batch: int = 256) -> None:
        super().__init__(db)
        self._batch = batch
        self._pending: dict[bytes, _Row] = {}
        self._guard = threading.Lock()

    def lookup(self, path: str, st: os.stat_result) -> tuple[str, str] | None:
        with self._guard:
            row = self._pending.get(os.fsencode(path))
        if row is None:
            return super().lookup(path, st)
        if row[1:5] != self.key_of(st):
            return None
        return row[5], row[6]

    def store(self, path: str, st: os.stat_result, fmt: str, content_hash: str) -> None:
        row = _row(path, st, fmt, content_hash)
        with self._guard:
            self._pending[row[0]] = row
            full = len(self._pending) >= self._batch
        if full:
            self.flush()

    def forget(self, path: str) -> None:
        with self._guard:
            self._pending.pop(os.fsencode(path), None)
        super().forget(path)

    def flush(self) -> None:
        """Write the pending entries (one transaction)."""
        with self._guard:
            rows, self._pending = list(self._pending.values()), {}
        if rows:
            with self._db.transaction() as conn:
                conn.executemany(_INSERT, rows)
