from __future__ import annotations

import sqlite3
from pathlib import Path

from photoark.client.state import StateDB


def test_a_version_1_state_db_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE stat_cache (path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
        " inode INTEGER, format TEXT, hash TEXT);"
        "INSERT INTO stat_cache VALUES (x'61', 1, 1, 1, 'jpeg', 'h');"
    )
    old.commit()
    old.close()
    db = StateDB(path)
    columns = {r["name"] for r in db.query("PRAGMA table_info(stat_cache)")}
    assert "ctime_ns" in columns
    assert db.get_meta("schema_version") == "7"
    assert db.query("SELECT * FROM thumbnail_queue") == []
    for table in (
        "watches",
        "settings",
        "backed_up",
        "retire_queue",
        "daemon_queue",
        "deletion_marks",
        "embeddings",
        "similar_pairs",
        "similar_index",
    ):
        assert db.query(f"SELECT * FROM {table}") == []
    db.close()
    StateDB(path).close()  # opening again is a no-op
