"""The upload queue: one row per file whose upload has started and not yet committed.

A row keeps what is needed to resume after a crash: the file key, the secretstream header, the
server's upload session, how many parts are acknowledged and the encryptor's state snapshot after
the last of them. The snapshot is key material; the row is deleted as soon as the file commits.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, replace

from photoark.client.state.db import StateDB

__all__ = ["PendingUpload", "UploadQueue"]


@dataclass(frozen=True)
class PendingUpload:
    path: str
    size: int
    mtime_ns: int
    hash: str
    file_key: bytes
    header: bytes
    upload_id: str
    part_size: int
    part_count: int
    parts_done: int = 0
    snapshot: bytes | None = None

    def advanced(self, parts_done: int, snapshot: bytes) -> PendingUpload:
        return replace(self, parts_done=parts_done, snapshot=snapshot)


class UploadQueue:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def get(self, path: str) -> PendingUpload | None:
        row = self._db.query_one("SELECT * FROM uploads WHERE path = ?", (os.fsencode(path),))
        if row is None:
            return None
        return PendingUpload(
            path=os.fsdecode(bytes(row["path"])),
            size=row["size"],
            mtime_ns=row["mtime_ns"],
            hash=row["hash"],
            file_key=bytes(row["file_key"]),
            header=bytes(row["header"]),
            upload_id=row["upload_id"],
            part_size=row["part_size"],
            part_count=row["part_count"],
            parts_done=row["parts_done"],
            snapshot=None if row["snapshot"] is None else bytes(row["snapshot"]),
        )

    def put(self, p: PendingUpload) -> None:
        self._db.execute(*_put(p))

    @staticmethod
    def put_in(conn: sqlite3.Connection, p: PendingUpload) -> None:
        """:meth:`put` inside the caller's transaction."""
        conn.execute(*_put(p))

    def advance(self, p: PendingUpload) -> None:
        self._db.execute(
            "UPDATE uploads SET parts_done = ?, snapshot = ? WHERE path = ?",
            (p.parts_done, p.snapshot, os.fsencode(p.path)),
        )

    def remove(self, path: str) -> None:
        """Delete the row (inside the current transaction, if the caller holds one)."""
        self._db.execute(*_remove(path))

    @staticmethod
    def remove_in(conn: sqlite3.Connection, path: str) -> None:
        """:meth:`remove` inside the caller's transaction."""
        conn.execute(*_remove(path))

    def paths(self) -> set[bytes]:
        """The paths (as bytes) of every upload in progress."""
        return {bytes(r["path"]) for r in self._db.query("SELECT path FROM uploads")}

    def count(self) -> int:
        row = self._db.query_one("SELECT COUNT(*) AS n FROM uploads")
        return 0 if row is None else int(row["n"])


def _remove(path: str) -> tuple[str, tuple[bytes]]:
    return "DELETE FROM uploads WHERE path = ?", (os.fsencode(path),)


def _put(p: PendingUpload) -> tuple[str, tuple[object, ...]]:
    return (
        "INSERT OR REPLACE INTO uploads (path, size, mtime_ns, hash, file_key, header,"
        " upload_id, part_size, part_count, parts_done, snapshot, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            os.fsencode(p.path),
            p.size,
            p.mtime_ns,
            p.hash,
            p.file_key,
            p.header,
            p.upload_id,
            p.part_size,
            p.part_count,
            p.parts_done,
            p.snapshot,
            time.time(),
        ),
    )
