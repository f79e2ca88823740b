"""The thumbnail queue: committed files whose thumbnail is still to be made and sent.

A backup commits originals first (the part that protects the user's photos) and makes
thumbnails afterwards; a row is written in the same transaction as the file's commit into the
mirror and deleted in the one that records the sent thumbnail, so a kill at any point leaves
each committed file either with its thumbnail or in this queue. The row remembers the local
file as it was backed up (size, mtime): a file changed since is not used for the thumbnail.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from photoark.client.state.db import StateDB

__all__ = ["ThumbnailJob", "ThumbnailQueue"]


@dataclass(frozen=True)
class ThumbnailJob:
    file_id: int
    path: str
    size: int
    mtime_ns: int
    format: str

    @classmethod
    def of(cls, file_id: int, path: str, st: os.stat_result, fmt_name: str) -> ThumbnailJob:
        """The job for ``path`` as ``st`` describes it (the file a backup just read)."""
        return cls(file_id, path, st.st_size, st.st_mtime_ns, fmt_name)


class ThumbnailQueue:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    @staticmethod
    def put(conn: sqlite3.Connection, job: ThumbnailJob) -> None:
        """Queue a job inside the caller's transaction."""
        conn.execute(
            "INSERT OR REPLACE INTO thumbnail_queue (file_id, path, size, mtime_ns, format)"
            " VALUES (?, ?, ?, ?, ?)",
            (job.file_id, os.fsencode(job.path), job.size, job.mtime_ns, job.format),
        )

    @staticmethod
    def remove(conn: sqlite3.Connection, file_ids: Sequence[int]) -> None:
        conn.executemany("DELETE FROM thumbnail_queue WHERE file_id = ?", [(i,) for i in file_ids])

    def after(self, file_id: int, limit: int) -> list[ThumbnailJob]:
        """Up to ``limit`` jobs with a file id above ``file_id``, in id order (paging)."""
        rows = self._db.query(
            "SELECT * FROM thumbnail_queue WHERE file_id > ? ORDER BY file_id LIMIT ?",
            (file_id, limit),
        )
        return [
            ThumbnailJob(
                file_id=r["file_id"],
                path=os.fsdecode(bytes(r["path"])),
                size=r["size"],
                mtime_ns=r["mtime_ns"],
                format=r["format"],
            )
            for r in rows
        ]

    def count(self) -> int:
        row = self._db.query_one("SELECT COUNT(*) AS n FROM thumbnail_queue")
        return 0 if row is None else int(row["n"])
