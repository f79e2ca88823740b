"""What the similar-photo comparison keeps between runs, per model: the confirmed close pairs
and a record of the neighbour index they came with.

- ``similar_pairs (model, a, b, distance)``: every pair found within the recorded threshold
  (``a < b``, cosine distance), among the photos the index holds.
- ``similar_index (model, generation, file, settings, checksum, ...)``: which index file the
  pairs go with (in a folder beside the state DB; its checksum tells a damaged or foreign file
  from it), what it was made with (``settings``: dimension, threshold, index
  parameters, as JSON) and how far it has drifted since it was built.

The pairs and this record change together in one transaction (:meth:`SimilarPairs.replace`,
:meth:`SimilarPairs.update`), after the index file of the new generation is in place, so an
interrupted run leaves the previous generation whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from photoark.client.state.db import StateDB

__all__ = ["IndexRecord", "PairRow", "SimilarPairs"]

_CHUNK = 500  # ids per IN (...) list

PairRow = tuple[int, int, float]  # (a, b, cosine distance), a < b


@dataclass(frozen=True)
class IndexRecord:
    model: str
    generation: int
    file: str  # the index file's name (in its folder beside the state DB)
    settings: str  # JSON: what the index and the pairs were made with
    checksum: str  # of the index file of this generation
    built: int  # photos in the index when it was last built from scratch
    changed: int  # photos added or removed since


class SimilarPairs:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, model: str) -> IndexRecord | None:
        row = self._db.query_one(
            "SELECT model, generation, file, settings, checksum, built, changed FROM similar_index"
            " WHERE model = ?",
            (model,),
        )
        if row is None:
            return None
        return IndexRecord(
            row["model"],
            int(row["generation"]),
            str(row["file"]),
            str(row["settings"]),
            str(row["checksum"]),
            int(row["built"]),
            int(row["changed"]),
        )

    def pairs(self, model: str, within: float) -> list[PairRow]:
        """The recorded pairs of ``model`` within ``within``, by (a, b)."""
        return self._db.query_tuples(
            "SELECT a, b, distance FROM similar_pairs WHERE model = ? AND distance <= ?"
            " ORDER BY a, b",
            (model, within),
        )

    def pairs_of(self, model: str, ids: Sequence[int]) -> list[PairRow]:
        """The recorded pairs of ``model`` that involve any of ``ids``, by (a, b)."""
        out: list[PairRow] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = [int(i) for i in ids[start : start + _CHUNK]]
            marks = ",".join("?" * len(chunk))
            out += self._db.query_tuples(
                "SELECT a, b, distance FROM similar_pairs WHERE model = ?"
                f" AND (a IN ({marks}) OR b IN ({marks}))",
                (model, *chunk, *chunk),
            )
        return sorted(set(out))

    def replace(self, record: IndexRecord, pairs: Sequence[PairRow]) -> None:
        """A freshly built index: its record and every pair, in place of the model's old ones."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM similar_pairs WHERE model = ?", (record.model,))
            _insert(conn, record.model, pairs)
            _put_record(conn, record)

    def update(self, record: IndexRecord, removed: Sequence[int], added: Sequence[PairRow]) -> None:
        """An index brought up to date: the pairs of ``removed`` ids dropped, ``added`` pairs
        recorded, and the new record, all at once."""
        with self._db.transaction() as conn:
            for start in range(0, len(removed), _CHUNK):
                chunk = [int(i) for i in removed[start : start + _CHUNK]]
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    f"DELETE FROM similar_pairs WHERE model = ? AND a IN ({marks})",
                    (record.model, *chunk),
                )
                conn.execute(
                    f"DELETE FROM similar_pairs WHERE model = ? AND b IN ({marks})",
                    (record.model, *chunk),
                )
            _insert(conn, record.model, added)
            _put_record(conn, record)

    def forget(self, model: str) -> None:
        """Drop the model's pairs and record (its index file is then an orphan)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM similar_pairs WHERE model = ?", (model,))
            conn.execute("DELETE FROM similar_index WHERE model = ?", (model,))


def _insert(conn: sqlite3.Connection, model: str, pairs: Sequence[PairRow]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO similar_pairs (model, a, b, distance) VALUES (?, ?, ?, ?)",
        ((model, a, b, d) for a, b, d in pairs),
    )


def _put_record(conn: sqlite3.Connection, record: IndexRecord) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO similar_index"
        " (model, generation, file, settings, checksum, built, changed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record.model,
            record.generation,
            record.file,
            record.settings,
            record.checksum,
            record.built,
            record.changed,
        ),
    )
