"""Connection and schema of the client state DB.

A single SQLite connection in WAL mode shared by the pipeline's threads behind a lock: the work
per statement is microseconds, far below hashing and network time, and one writer avoids
``database is locked`` between our own threads. Each ``transaction()`` is atomic, so a kill at
any point leaves either the old or the new state.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["StateDB", "subtree", "subtree_bounds"]

SCHEMA_VERSION = 7


def subtree(column: str = "path") -> str:
    """SQL matching a raw-path ``column`` that is a root or under it; parameters from
    :func:`subtree_bounds`. A range, so the path index serves it."""
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))"


def subtree_bounds(root: str) -> tuple[bytes, bytes, bytes]:
    """(the root itself, its first possible child, the first path after its children)."""
    exact = os.fsencode(os.path.abspath(root))
    prefix = exact.rstrip(b"/") + b"/"
    return exact, prefix, prefix[:-1] + b"0"  # b"0" sorts right after b"/"


_THUMBNAIL_QUEUE = """
CREATE TABLE IF NOT EXISTS thumbnail_queue (
    file_id INTEGER PRIMARY KEY,
    path BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    format TEXT NOT NULL
);
"""

_DAEMON = """
CREATE TABLE IF NOT EXISTS watches (
    path BLOB PRIMARY KEY,
    album TEXT,
    per_folder INTEGER NOT NULL,
    match TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS backed_up (
    path BLOB NOT NULL,
    album_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    PRIMARY KEY (path, album_id)
);
CREATE INDEX IF NOT EXISTS backed_up_file ON backed_up (file_id);
CREATE TABLE IF NOT EXISTS retire_queue (
    album_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    PRIMARY KEY (album_id, file_id)
);
CREATE TABLE IF NOT EXISTS daemon_queue (path BLOB PRIMARY KEY, queued_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS daemon_failures (
    path BLOB PRIMARY KEY,
    error TEXT NOT NULL,
    at REAL NOT NULL
);
"""

_MARKS = """
CREATE TABLE IF NOT EXISTS deletion_marks (mark TEXT PRIMARY KEY);
"""

_EMBEDDINGS = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    file_id INTEGER NOT NULL,
    vector BLOB,
    error TEXT,
    sent INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model, file_id)
);
"""

_SIMILAR = """
CREATE TABLE IF NOT EXISTS similar_pairs (
    model TEXT NOT NULL,
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    distance REAL NOT NULL,
    PRIMARY KEY (model, a, b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS similar_pairs_b ON similar_pairs (model, b);
CREATE TABLE IF NOT EXISTS similar_index (
    model TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    file TEXT NOT NULL,
    settings TEXT NOT NULL,
    checksum TEXT NOT NULL,
    built INTEGER NOT NULL,
    changed INTEGER NOT NULL
);
"""

_SCHEMA = (
    _THUMBNAIL_QUEUE
    + _DAEMON
    + _MARKS
    + _EMBEDDINGS
    + _SIMILAR
    + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    server TEXT NOT NULL,
    email TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    token TEXT NOT NULL,
    master_key BLOB NOT NULL,
    key_attributes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    key BLOB NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS collections_name ON collections (name);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    type TEXT NOT NULL,
    taken_at TEXT,
    taken_at_utc REAL,
    metadata TEXT NOT NULL,
    file_key BLOB NOT NULL,
    content_size INTEGER NOT NULL,
    thumbnail_size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    is_trashed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_hash_name ON files (hash, name);
CREATE TABLE IF NOT EXISTS entries (
    collection_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    PRIMARY KEY (collection_id, file_id)
);
CREATE INDEX IF NOT EXISTS entries_file ON entries (file_id);
CREATE TABLE IF NOT EXISTS broken_entries (
    collection_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (collection_id, file_id)
);
CREATE TABLE IF NOT EXISTS stat_cache (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    format TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    file_key BLOB NOT NULL,
    header BLOB NOT NULL,
    upload_id TEXT NOT NULL,
    part_size INTEGER NOT NULL,
    part_count INTEGER NOT NULL,
    parts_done INTEGER NOT NULL DEFAULT 0,
    snapshot BLOB,
    created_at REAL NOT NULL
);
"""
)

# Upgrades of an existing state DB, by the version they lead to. The stat cache is only a cache:
# changing its key means dropping it (files are re-hashed once, nothing is re-uploaded).
_UPGRADES: dict[int, str] = {
    2: "DROP TABLE IF EXISTS stat_cache;",  # ctime_ns joined the key
    3: _THUMBNAIL_QUEUE,  # thumbnails are made after the originals are committed
    4: _DAEMON,  # watches, settings, path → file versions, the daemon's queue and failures
    5: _MARKS,  # contents deleted from the backup (synced): never uploaded again
    6: _EMBEDDINGS,  # image embeddings for similar-photo groups (and why some have none)
    7: _SIMILAR,  # close pairs kept between `photoark similar` runs, and their index's record
}


class StateDB:
    """The state DB of one client home."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists()
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30
        )
        if new:
            os.chmod(path, 0o600)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate(new)

    def _migrate(self, new: bool) -> None:
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            current = SCHEMA_VERSION if new or row is None else int(row[0])
            if current > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{self.path} was written by a newer photoark (schema {current})"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self._conn.executescript(_UPGRADES[version])
            self._conn.executescript(_SCHEMA)
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An atomic unit of work (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._conn.execute(sql, params)
            cur.row_factory = sqlite3.Row
            return list(cur.fetchall())

    def query_tuples(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Like :meth:`query`, with plain tuples: for the passes that read a whole table's
        worth of rows (a row object per row costs as much as the query)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            cur = self._conn.execute(sql, params)
            cur.row_factory = sqlite3.Row
            row: sqlite3.Row | None = cur.fetchone()
            return row

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with self._lock:
            self._conn.execute(sql, params)

    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
