"""The decrypted mirror of the remote library: albums, files, album entries.

All dedup decisions are made against this mirror (the server cannot see hashes). Lookups by
content hash (and name) go through an index, so their cost stays flat with library size.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from photoark.client.state.db import StateDB
from photoark.protocol.metadata import FileMetadata
from photoark.protocol.models import FileRecord

__all__ = ["Album", "LibraryFile", "Mirror"]


@dataclass(frozen=True)
class Album:
    id: int
    name: str
    key: bytes
    version: int


@dataclass(frozen=True)
class LibraryFile:
    id: int
    hash: str
    name: str
    size: int
    type: str
    taken_at: str | None
    taken_at_utc: float | None
    metadata: FileMetadata
    file_key: bytes
    content_size: int
    thumbnail_size: int
    created_at: float
    is_trashed: bool = False


def _file(row: sqlite3.Row) -> LibraryFile:
    return LibraryFile(
        id=row["id"],
        hash=row["hash"],
        name=row["name"],
        size=row["size"],
        type=row["type"],
        taken_at=row["taken_at"],
        taken_at_utc=row["taken_at_utc"],
        metadata=FileMetadata.model_validate_json(row["metadata"]),
        file_key=bytes(row["file_key"]),
        content_size=row["content_size"],
        thumbnail_size=row["thumbnail_size"],
        created_at=row["created_at"],
        is_trashed=bool(row["is_trashed"]),
    )


def _album(row: sqlite3.Row) -> Album:
    return Album(row["id"], row["name"], bytes(row["key"]), row["version"])


class Mirror:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    # -- writes (called by sync and by the backup pipeline after a commit) -------------------

    def put_album(self, conn: sqlite3.Connection, album: Album) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO collections (id, name, key, version) VALUES (?, ?, ?, ?)",
            (album.id, album.name, album.key, album.version),
        )

    def remove_album(self, conn: sqlite3.Connection, album_id: int) -> None:
        conn.execute("DELETE FROM collections WHERE id = ?", (album_id,))
        conn.execute("DELETE FROM entries WHERE collection_id = ?", (album_id,))

    def put_file(self, conn: sqlite3.Connection, f: LibraryFile) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO files (id, hash, name, size, type, taken_at, taken_at_utc,"
            " metadata, file_key, content_size, thumbnail_size, created_at, is_trashed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f.id,
                f.hash,
                f.name,
                f.size,
                f.type,
                f.taken_at,
                f.taken_at_utc,
                json.dumps(f.metadata.to_json(), ensure_ascii=False),
                f.file_key,
                f.content_size,
                f.thumbnail_size,
                f.created_at,
                int(f.is_trashed),
            ),
        )

    def refresh_record(self, conn: sqlite3.Connection, record: FileRecord) -> None:
        """Take the server's mutable facts of a known file (sizes, trash) without decrypting:
        its metadata never changes, its thumbnail and trash state may."""
        conn.execute(
            "UPDATE files SET content_size = ?, thumbnail_size = ?, is_trashed = ? WHERE id = ?",
            (record.content_size, record.thumbnail_size, int(record.is_trashed), record.id),
        )

    def put_entry(self, conn: sqlite3.Connection, album_id: int, file_id: int) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO entries (collection_id, file_id) VALUES (?, ?)",
            (album_id, file_id),
        )

    def remove_entry(self, conn: sqlite3.Connection, album_id: int, file_id: int) -> None:
        conn.execute(
            "DELETE FROM entries WHERE collection_id = ? AND file_id = ?", (album_id, file_id)
        )
        still = conn.execute("SELECT 1 FROM entries WHERE file_id = ? LIMIT 1", (file_id,))
        if still.fetchone() is None:
            conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    # -- reads ------------------------------------------------------------------------------

    def albums(self) -> list[Album]:
        return [_album(r) for r in self._db.query("SELECT * FROM collections ORDER BY name, id")]

    def album_by_name(self, name: str) -> Album | None:
        row = self._db.query_one(
            "SELECT * FROM collections WHERE name = ? ORDER BY id LIMIT 1", (name,)
        )
        return None if row is None else _album(row)

    def album(self, album_id: int) -> Album | None:
        row = self._db.query_one("SELECT * FROM collections WHERE id = ?", (album_id,))
        return None if row is None else _album(row)

    def album_file_counts(self) -> dict[int, int]:
        rows = self._db.query(
            "SELECT e.collection_id AS id, COUNT(*) AS n FROM entries e"
            " JOIN files f ON f.id = e.file_id WHERE f.is_trashed = 0 GROUP BY e.collection_id"
        )
        return {r["id"]: r["n"] for r in rows}

    def file(self, file_id: int) -> LibraryFile | None:
        row = self._db.query_one("SELECT * FROM files WHERE id = ?", (file_id,))
        return None if row is None else _file(row)

    def file_key(self, file_id: int) -> bytes | None:
        """The file's key, ``None`` if the file is not in the mirror: :meth:`file` without
        parsing its metadata (a thumbnail needs only the key; the parse was most of the
        look-up)."""
        row = self._db.query_tuples("SELECT file_key FROM files WHERE id = ?", (file_id,))
        return bytes(row[0][0]) if row else None

    def files_in_album(self, album_id: int) -> list[LibraryFile]:
        rows = self._db.query(
            "SELECT f.* FROM files f JOIN entries e ON e.file_id = f.id"
            " WHERE e.collection_id = ? AND f.is_trashed = 0 ORDER BY f.id",
            (album_id,),
        )
        return [_file(r) for r in rows]

    def files_named(self, name: str) -> list[LibraryFile]:
        """Live files with this name, oldest first."""
        rows = self._db.query(
            "SELECT * FROM files WHERE name = ? AND is_trashed = 0 ORDER BY id", (name,)
        )
        return [_file(r) for r in rows]

    def files_of_type(self, kind: str) -> list[LibraryFile]:
        """Live files of one type (``live``: Live Photos), oldest first."""
        rows = self._db.query(
            "SELECT * FROM files WHERE type = ? AND is_trashed = 0 ORDER BY id", (kind,)
        )
        return [_file(r) for r in rows]

    def find_by_hash(self, content_hash: str, name: str | None = None) -> list[LibraryFile]:
        """Live files with this content hash (and this name, when given), oldest first."""
        if name is None:
            rows = self._db.query(
                "SELECT * FROM files WHERE hash = ? AND is_trashed = 0 ORDER BY id",
                (content_hash,),
            )
        else:
            rows = self._db.query(
                "SELECT * FROM files WHERE hash = ? AND name = ? AND is_trashed = 0 ORDER BY id",
                (content_hash, name),
            )
        return [_file(r) for r in rows]

    def album_contents(self, album_id: int) -> set[tuple[str, str]]:
        """(hash, name) of every live file in an album: the fast skip test of a re-backup."""
        rows = self._db.query_tuples(
            "SELECT f.hash, f.name FROM files f JOIN entries e ON e.file_id = f.id"
            " WHERE e.collection_id = ? AND f.is_trashed = 0",
            (album_id,),
        )
        return set(rows)

    def duplicate_copies(self) -> list[sqlite3.Row]:
        """Every live file whose content hash another live file shares, with the albums it is
        in (comma-separated ids), ordered by hash then id. One grouped query over the hash
        index: the result is proportional to the duplicates, not to the library."""
        return self._db.query(
            "SELECT f.id, f.hash, f.name, f.size, f.content_size + f.thumbnail_size AS stored,"
            " f.created_at, (SELECT group_concat(e.collection_id) FROM entries e"
            "  WHERE e.file_id = f.id) AS albums"
            " FROM files f WHERE f.is_trashed = 0 AND f.hash IN ("
            "  SELECT hash FROM files WHERE is_trashed = 0 GROUP BY hash HAVING count(*) > 1)"
            " ORDER BY f.hash, f.id"
        )

    def timeline_rows(
        self, album_id: int | None = None
    ) -> list[tuple[int, str, str | None, float, bool]]:
        """``(id, type, taken_at, when, has thumbnail)`` of every live file (in one album, when
        given), where ``when`` is the best known time: taken (UTC), else modified (read from
        the metadata only when there is no ``taken_at``), else uploaded. Plain columns only
        (no metadata decoded): a 20 000-photo timeline is one cheap query."""
        where = "f.is_trashed = 0"
        params: tuple[int, ...] = ()
        if album_id is not None:
            where += " AND f.id IN (SELECT file_id FROM entries WHERE collection_id = ?)"
            params = (album_id,)
        rows = self._db.query_tuples(
            "SELECT f.id, f.type, f.taken_at, COALESCE(f.taken_at_utc, CASE WHEN f.taken_at"
            " IS NULL THEN json_extract(f.metadata, '$.mtime_ns') / 1e9 END, f.created_at),"
            " f.thumbnail_size"
            f" FROM files f WHERE {where}",
            params,
        )
        return [(int(i), str(t), a, float(w), n > 0) for i, t, a, w, n in rows]

    def album_covers(self) -> dict[int, int]:
        """Album id -> its most recently added live file with a thumbnail (its cover)."""
        rows = self._db.query_tuples(
            "SELECT e.collection_id, MAX(e.file_id) FROM entries e JOIN files f"
            " ON f.id = e.file_id WHERE f.is_trashed = 0 AND f.thumbnail_size > 0"
            " GROUP BY e.collection_id"
        )
        return {int(a): int(f) for a, f in rows}

    def largest_files(self, limit: int = 10) -> list[LibraryFile]:
        rows = self._db.query(
            "SELECT * FROM files WHERE is_trashed = 0 ORDER BY size DESC, id LIMIT ?", (limit,)
        )
        return [_file(r) for r in rows]

    def albums_of_file(self, file_id: int) -> set[int]:
        rows = self._db.query("SELECT collection_id FROM entries WHERE file_id = ?", (file_id,))
        return {r["collection_id"] for r in rows}

    # -- deletion marks (see photoark.crypto.marks) -------------------------------------------

    @staticmethod
    def put_marks(conn: sqlite3.Connection, marks: list[str]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO deletion_marks (mark) VALUES (?)", [(m,) for m in marks]
        )

    @staticmethod
    def remove_marks(conn: sqlite3.Connection, marks: list[str]) -> None:
        conn.executemany("DELETE FROM deletion_marks WHERE mark = ?", [(m,) for m in marks])

    def is_marked(self, mark: str) -> bool:
        return (
            self._db.query_one("SELECT 1 FROM deletion_marks WHERE mark = ?", (mark,)) is not None
        )

    def marks(self) -> set[str]:
        return {str(r["mark"]) for r in self._db.query("SELECT mark FROM deletion_marks")}

    # -- entries that failed authentication (reported by sync and export on every run)

    @staticmethod
    def put_broken(conn: sqlite3.Connection, album_id: int, file_id: int, error: str) -> None:
        """Remember an album (``file_id`` 0) or entry whose key or metadata failed
        authentication; replaces an earlier record of the same item."""
        conn.execute(
            "INSERT OR REPLACE INTO broken_entries (collection_id, file_id, error)"
            " VALUES (?, ?, ?)",
            (album_id, file_id, error),
        )

    @staticmethod
    def clear_broken(conn: sqlite3.Connection, album_id: int, file_id: int) -> None:
        """Forget a broken record (the item came again and may now be fine)."""
        conn.execute(
            "DELETE FROM broken_entries WHERE collection_id = ? AND file_id = ?",
            (album_id, file_id),
        )

    def broken_entries(self) -> list[tuple[int, int, str]]:
        """``(album id, file id, error)`` of every item that failed authentication."""
        rows = self._db.query("SELECT collection_id, file_id, error FROM broken_entries")
        return [(r["collection_id"], r["file_id"], r["error"]) for r in rows]

    @staticmethod
    def has_entry(conn: sqlite3.Connection, album_id: int, file_id: int) -> bool:
        """Whether the mirror already holds this file in this album (with its file row)."""
        row = conn.execute(
            "SELECT 1 FROM entries e JOIN files f ON f.id = e.file_id"
            " WHERE e.collection_id = ? AND e.file_id = ?",
            (album_id, file_id),
        ).fetchone()
        return row is not None

    def sync_version(self) -> int:
        value = self._db.get_meta("sync_version")
        return int(value) if value else 0

    def set_sync_version(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('sync_version', ?)", (str(version),)
        )
