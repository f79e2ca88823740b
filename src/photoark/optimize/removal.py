"""Removing photos from the backup without emptying an album: add first, then trash.

Both removals from the library (exact duplicates, :mod:`.duplicates`; similar photos,
:mod:`.similar`) end the same way: some kept photo is added to the albums that would otherwise
lose the picture (by reference: no bytes), then the others go to the trash, and their contents
are marked deleted (so no device's backup brings them back). A group whose adds fail is not
trashed: nothing is removed before its keeper is in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from photoark.client.batches import in_batches
from photoark.client.errors import ClientError
from photoark.client.library import sync
from photoark.client.library.albums import add_many_by_reference
from photoark.client.library.marks import DeletionMarks
from photoark.client.session import Session

__all__ = ["CleanupResult", "Removal", "add_then_trash"]


@dataclass(frozen=True)
class Removal:
    """One group's removal: the adds that come first, then the files to trash."""

    adds: tuple[tuple[int, int], ...]  # (album id, kept file id)
    trash: tuple[int, ...]  # file ids
    hashes: tuple[str, ...]  # the trashed contents, marked deleted
    bytes: int  # what trashing frees once the trash empties


@dataclass
class CleanupResult:
    """What :func:`add_then_trash` did: the groups removed, the adds, the files trashed, the
    failures."""

    groups: int = 0
    added_to_albums: int = 0
    trashed: int = 0
    bytes_freed: int = 0  # when the trash empties
    failed: list[dict[str, Any]] = field(default_factory=list)
    trashed_ids: list[int] = field(default_factory=list)  # what an undo restores
    adds: list[tuple[int, int]] = field(default_factory=list)  # (album, file): what it takes out

    def as_json(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "added_to_albums": self.added_to_albums,
            "trashed": self.trashed,
            "bytes_freed_when_trash_empties": self.bytes_freed,
            "failed": self.failed,
        }


def add_then_trash(session: Session, removals: Sequence[Removal]) -> CleanupResult:
    """Carry out ``removals``: every add (batched per album), then the trash of each group whose
    adds all succeeded, its contents marked deleted first."""
    mirror = session.mirror
    result = CleanupResult()
    adds: dict[int, list[int]] = {}  # album → file ids to add there
    for removal in removals:
        for album_id, file_id in removal.adds:
            if file_id not in adds.setdefault(album_id, []):
                adds[album_id].append(file_id)
    blocked: set[int] = set()
    for album_id, file_ids in adds.items():
        album = mirror.album(album_id)
        for chunk in in_batches(file_ids):
            files = [f for f in (mirror.file(i) for i in chunk) if f is not None]
            try:
                if album is None:
                    raise ClientError(f"album {album_id} is not in the local mirror")
                add_many_by_reference(session, album, files)
            except ClientError as err:
                blocked.update(chunk)
                result.failed.extend({"file_id": i, "error": str(err)} for i in chunk)
                continue
            result.added_to_albums += len(chunk)
            result.adds.extend((album_id, f.id) for f in files)
    ready = [r for r in removals if not any(f in blocked for _, f in r.adds)]
    # the removed photos' local files must not be uploaded again
    DeletionMarks(session).mark(h for r in ready for h in r.hashes)
    doomed = [f for r in ready for f in r.trash]
    for chunk in in_batches(doomed):
        session.api.trash_files(chunk)
        with session.db.transaction() as conn:
            for file_id in chunk:
                for album_id in mirror.albums_of_file(file_id):
                    mirror.remove_entry(conn, album_id, file_id)
        result.trashed += len(chunk)
        result.trashed_ids.extend(chunk)
    result.bytes_freed = sum(r.bytes for r in ready)
    result.groups = len(ready)
    sync.pull(session)
    return result
