"""The local cache of image embeddings, one row per (model, library file).

A row holds the encoded embedding (:mod:`photoark.ml.codec`) or, when none can be made (no
thumbnail, undecodable), the reason, so a photo is not retried on every run; ``sent`` tells
whether the server has it (sealed with the file's key), so work done offline is sent later
instead of redone. Only live still photos (``image`` and ``live`` items) take part.
:meth:`EmbeddingCache.fingerprints_of` reads photos' fingerprints (the payload's last bytes)
without decoding their vectors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from photoark.client.state.db import StateDB
from photoark.ml.codec import decode_fingerprint
from photoark.ml.errors import EmbeddingFormatError
from photoark.ml.fingerprint import Fingerprint

__all__ = ["NO_THUMBNAIL", "EmbeddingCache", "EmbeddingRow", "Missing"]

NO_THUMBNAIL: Final = "no thumbnail on the server"  # retried once the file has one
_KINDS: Final = "('image', 'live')"
_PAGE: Final = 4096


@dataclass(frozen=True)
class Missing:
    """A live photo with no row for the model yet."""

    file_id: int
    hash: str
    thumbnail_size: int


@dataclass(frozen=True)
class EmbeddingRow:
    file_id: int
    vector: bytes


class EmbeddingCache:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def missing(self, model: str) -> list[Missing]:
        """Live photos without a row for ``model`` (neither an embedding nor a reason), by id;
        and those that had no thumbnail but have one now."""
        rows = self._db.query(
            "SELECT f.id, f.hash, f.thumbnail_size FROM files f"
            f" WHERE f.is_trashed = 0 AND f.type IN {_KINDS} AND NOT EXISTS"
            " (SELECT 1 FROM embeddings e WHERE e.model = ? AND e.file_id = f.id"
            "  AND NOT (e.error = ? AND f.thumbnail_size > 0))"
            " ORDER BY f.id",
            (model, NO_THUMBNAIL),
        )
        return [Missing(r["id"], r["hash"], r["thumbnail_size"]) for r in rows]

    def by_hash(self, model: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """An embedding already made for each of these contents (any file of it), by hash."""
        rows = self._in_chunks(
            "SELECT f.hash AS k, e.vector FROM embeddings e JOIN files f ON f.id = e.file_id"
            " WHERE e.model = ? AND e.vector IS NOT NULL AND f.hash IN ({})",
            model,
            hashes,
        )
        return {r["k"]: bytes(r["vector"]) for r in rows}

    def _in_chunks(self, sql: str, model: str, keys: Sequence[object]) -> list[sqlite3.Row]:
        """``sql`` (one ``?`` for the model, then ``IN ({})``) run over ``keys`` 500 at a time."""
        out: list[sqlite3.Row] = []
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            out += self._db.query(sql.format(",".join("?" * len(chunk))), (model, *chunk))
        return out

    @staticmethod
    def put(
        conn: sqlite3.Connection, model: str, rows: Sequence[tuple[int, bytes]], sent: bool
    ) -> None:
        """Record embeddings ``(file id, encoded vector)`` inside the caller's transaction."""
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings (model, file_id, vector, error, sent)"
            " VALUES (?, ?, ?, NULL, ?)",
            [(model, file_id, vector, int(sent)) for file_id, vector in rows],
        )

    @staticmethod
    def put_failed(
        conn: sqlite3.Connection, model: str, failures: Sequence[tuple[int, str]]
    ) -> None:
        """Record why these files have no embedding (not retried until :meth:`retry_failed`)."""
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings (model, file_id, vector, error, sent)"
            " VALUES (?, ?, NULL, ?, 1)",
            [(model, file_id, error) for file_id, error in failures],
        )

    @staticmethod
    def mark_sent(conn: sqlite3.Connection, model: str, file_ids: Sequence[int]) -> None:
        conn.executemany(
            "UPDATE embeddings SET sent = 1 WHERE model = ? AND file_id = ?",
            [(model, i) for i in file_ids],
        )

    def unsent(self, model: str, limit: int) -> list[EmbeddingRow]:
        rows = self._db.query(
            "SELECT file_id, vector FROM embeddings WHERE model = ? AND sent = 0"
            " AND vector IS NOT NULL ORDER BY file_id LIMIT ?",
            (model, limit),
        )
        return [EmbeddingRow(r["file_id"], bytes(r["vector"])) for r in rows]

    def failures(self, model: str) -> list[tuple[int, str]]:
        """Live photos that have no embedding, and why."""
        rows = self._db.query(
            "SELECT e.file_id, e.error FROM embeddings e JOIN files f ON f.id = e.file_id"
            " WHERE e.model = ? AND e.vector IS NULL AND f.is_trashed = 0 ORDER BY e.file_id",
            (model,),
        )
        return [(r["file_id"], str(r["error"])) for r in rows]

    def retry_failed(self, model: str) -> None:
        self._db.execute("DELETE FROM embeddings WHERE model = ? AND vector IS NULL", (model,))

    def live_vectors(self, model: str) -> Iterator[EmbeddingRow]:
        """The embeddings of live photos, by file id, read a page at a time (bounded memory)."""
        after = -1
        while True:
            rows = self._db.query(
                "SELECT e.file_id, e.vector FROM embeddings e JOIN files f ON f.id = e.file_id"
                f" WHERE e.model = ? AND e.file_id > ? AND e.vector IS NOT NULL"
                f" AND f.is_trashed = 0 AND f.type IN {_KINDS} ORDER BY e.file_id LIMIT ?",
                (model, after, _PAGE),
            )
            if not rows:
                return
            for r in rows:
                yield EmbeddingRow(r["file_id"], bytes(r["vector"]))
            after = rows[-1]["file_id"]

    def vectors_of(self, model: str, file_ids: Sequence[int]) -> dict[int, bytes]:
        rows = self._in_chunks(
            "SELECT file_id AS k, vector FROM embeddings WHERE model = ? AND vector IS NOT NULL"
            " AND file_id IN ({})",
            model,
            file_ids,
        )
        return {r["k"]: bytes(r["vector"]) for r in rows}

    def fingerprints_of(self, model: str, file_ids: Sequence[int]) -> dict[int, Fingerprint]:
        """The fingerprints of these files' embeddings of ``model``, by id (only each payload's
        header and trailer are decoded, not the vector). A file with no embedding, or one whose
        payload is not valid, is absent."""
        rows = self._in_chunks(
            "SELECT file_id AS k, vector FROM embeddings WHERE model = ? AND vector IS NOT NULL"
            " AND file_id IN ({})",
            model,
            file_ids,
        )
        out: dict[int, Fingerprint] = {}
        for r in rows:
            try:
                out[r["k"]] = decode_fingerprint(r["vector"])
            except EmbeddingFormatError:
                continue
        return out

    def prune(self) -> None:
        """Forget rows of files no longer in the library (deleted for good)."""
        self._db.execute("DELETE FROM embeddings WHERE file_id NOT IN (SELECT id FROM files)")

    def counts(self, model: str) -> dict[str, int]:
        """Live photos: how many have an embedding, how many cannot, how many wait."""
        row = self._db.query_one(
            "SELECT count(*) AS photos, count(e.vector) AS embedded,"
            " sum(e.file_id IS NOT NULL AND e.vector IS NULL) AS failed"
            " FROM files f LEFT JOIN embeddings e ON e.file_id = f.id AND e.model = ?"
            f" WHERE f.is_trashed = 0 AND f.type IN {_KINDS}",
            (model,),
        )
        assert row is not None
        photos, embedded, failed = int(row["photos"]), int(row["embedded"]), int(row["failed"] or 0)
        return {
            "photos": photos,
            "embedded": embedded,
            "failed": failed,
            "pending": photos - embedded - failed,
        }
