"""Stat cache: (path, size, mtime_ns, ctime_ns, inode) → (format, content hash), so an unchanged
file is never read again, not even to sniff its format.

``ctime`` is part of the key because tools that edit metadata in place may restore the mtime
(``exiftool -P``); nothing can set the ctime. Non-media files are cached with format "" and no
hash, so they are not re-sniffed either. Paths are stored as raw bytes (``os.fsencode``) so any
filename round-trips."""

from __future__ import annotations

import os

from photoark.client.state.db import StateDB

__all__ = ["StatCache"]


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
        self._db.execute(
            "INSERT OR REPLACE INTO stat_cache"
            " (path, size, mtime_ns, ctime_ns, inode, format, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                os.fsencode(path),
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
                fmt,
                content_hash,
            ),
        )

    def forget(self, path: str) -> None:
        self._db.execute("DELETE FROM stat_cache WHERE path = ?", (os.fsencode(path),))
