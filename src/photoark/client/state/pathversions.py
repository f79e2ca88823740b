"""Which library file each local path was backed up as, per album, and the old versions a
backup has replaced but not yet retired on the server.

A path whose content changes is backed up as a new file; the file it used to be is its
*previous version*. :meth:`PathVersions.record` writes the new mapping and, in the same local
transaction, queues the previous version for retirement (``retire_queue``); the backup then
retires it on the server (:mod:`photoark.client.pipeline.retire`) and only then drops it from the
queue. A kill between the two leaves the old version in the album, never a lost photo, and the
next run retires it.

Paths are raw bytes (``os.fsencode``), as in the stat cache.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from photoark.client.state.db import StateDB, subtree, subtree_bounds

__all__ = ["PathVersions", "Retirement"]


@dataclass(frozen=True)
class Retirement:
    """A previous version to take out of ``album_id``."""

    album_id: int
    file_id: int


class PathVersions:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    @staticmethod
    def record(conn: sqlite3.Connection, path: str, album_id: int, file_id: int) -> None:
        """Inside the caller's transaction: ``path`` is now ``file_id`` in ``album_id``; the
        file it was before, if another, is queued for retirement."""
        raw = os.fsencode(path)
        row = conn.execute(
            "SELECT file_id FROM backed_up WHERE path = ? AND album_id = ?", (raw, album_id)
        ).fetchone()
        if row is not None and int(row[0]) == file_id:
            return
        conn.execute(
            "INSERT OR REPLACE INTO backed_up (path, album_id, file_id) VALUES (?, ?, ?)",
            (raw, album_id, file_id),
        )
        if row is not None:
            conn.execute(
                "INSERT OR IGNORE INTO retire_queue (album_id, file_id) VALUES (?, ?)",
                (album_id, int(row[0])),
            )
        # the same file backed up again (a revert to an older content) is no longer retired
        conn.execute(
            "DELETE FROM retire_queue WHERE album_id = ? AND file_id = ?", (album_id, file_id)
        )

    def record_now(self, path: str, album_id: int, file_id: int) -> None:
        with self._db.transaction() as conn:
            self.record(conn, path, album_id, file_id)

    def paths_of(self, file_id: int, album_id: int | None = None) -> list[str]:
        """The local paths last backed up as ``file_id`` (in ``album_id``, or in any album)."""
        if album_id is None:
            rows = self._db.query("SELECT path FROM backed_up WHERE file_id = ?", (file_id,))
        else:
            rows = self._db.query(
                "SELECT path FROM backed_up WHERE file_id = ? AND album_id = ?",
                (file_id, album_id),
            )
        return [os.fsdecode(bytes(r["path"])) for r in rows]

    def backed_up_as(self, path: str) -> list[int]:
        """The files ``path`` was last backed up as (one per album)."""
        rows = self._db.query("SELECT file_id FROM backed_up WHERE path = ?", (os.fsencode(path),))
        return [int(r["file_id"]) for r in rows]

    def forget_path(self, path: str) -> None:
        """``path`` is gone (moved away): it no longer stands for any file."""
        self._db.execute("DELETE FROM backed_up WHERE path = ?", (os.fsencode(path),))

    def forget_under(self, root: str) -> None:
        """No path at or under ``root`` stands for any file any more (a device's folder, whose
        names a camera reuses for other photos: :mod:`photoark.client.devices.seen`)."""
        self._db.execute(f"DELETE FROM backed_up WHERE {subtree()}", subtree_bounds(root))

    def pending_retirements(self) -> list[Retirement]:
        rows = self._db.query("SELECT album_id, file_id FROM retire_queue ORDER BY rowid")
        return [Retirement(int(r["album_id"]), int(r["file_id"])) for r in rows]

    def retired(self, done: Iterable[Retirement]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM retire_queue WHERE album_id = ? AND file_id = ?",
                [(r.album_id, r.file_id) for r in done],
            )
