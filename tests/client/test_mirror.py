"""Mirror look-ups that answer part of a file (without its metadata parsed)."""

from __future__ import annotations

from pathlib import Path

from photoark.client.state.db import StateDB
from photoark.client.state.mirror import LibraryFile, Mirror
from photoark.protocol.metadata import FileMetadata


def test_file_key_is_the_files_key_and_none_for_a_file_not_there(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    try:
        mirror = Mirror(db)
        meta = FileMetadata(name="a.jpg", hash="h", size=1, type="image")
        f = LibraryFile(7, "h", "a.jpg", 1, "image", None, None, meta, b"\x01" * 32, 1, 0, 0.0)
        with db.transaction() as conn:
            mirror.put_file(conn, f)
        found = mirror.file(7)
        assert found is not None and mirror.file_key(7) == found.file_key == b"\x01" * 32
        assert mirror.file_key(8) is None
    finally:
        db.close()
