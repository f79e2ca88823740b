"""Deleted from the backup stays deleted: the client side of deletion marks.

When the user deletes a photo from the backup (``delete``, ``dedup``, an album deleted with its
photos, similar-image cleanup), its content is *marked* (:mod:`photoark.crypto.marks`: an
opaque keyed hash the server cannot read), in the user's synced state, so every device's
backup skips that content instead of silently undoing the cleanup (``deleted_from_backup``).
Changed content is a new photo (another hash, no mark). Restoring from the trash, or
``photoark watch reupload PATH`` (:mod:`photoark.client.daemon.reupload`), removes the mark.
"""

from __future__ import annotations

from collections.abc import Iterable

from photoark.client.session import Session
from photoark.client.state.mirror import LibraryFile
from photoark.crypto.marks import deletion_mark, marks_key

__all__ = ["DeletionMarks"]


class DeletionMarks:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._key = marks_key(session.account.master_key)

    def mark_of(self, content_hash: str) -> str:
        return deletion_mark(self._key, content_hash)

    def is_deleted(self, content_hash: str) -> bool:
        return self._session.mirror.is_marked(self.mark_of(content_hash))

    def mark(self, hashes: Iterable[str]) -> None:
        """Remember these contents as deleted (on the server first, then locally)."""
        marks = sorted({self.mark_of(h) for h in hashes})
        if not marks:
            return
        self._session.api.add_marks(marks)
        with self._session.db.transaction() as conn:
            self._session.mirror.put_marks(conn, marks)

    def unmark(self, hashes: Iterable[str]) -> None:
        marks = sorted({self.mark_of(h) for h in hashes})
        if not marks:
            return
        self._session.api.remove_marks(marks)
        with self._session.db.transaction() as conn:
            self._session.mirror.remove_marks(conn, marks)

    def mark_files(self, files: Iterable[LibraryFile]) -> None:
        self.mark(f.hash for f in files)
