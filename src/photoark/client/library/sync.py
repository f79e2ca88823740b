"""Diff sync: pull the remote changes since our last version into the local mirror.

Each page is applied in one transaction together with the new version, so a kill mid-sync
resumes from the last applied page. An entry whose key or metadata fails authentication is
recorded in ``broken_entries`` (shown by ``ls``/``export`` as an integrity failure), never
silently dropped and never allowed to stop the rest of the library from syncing. A deleted
album takes its records with it (its own and its entries'): what is gone cannot fail.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from photoark.client.library.records import album_from_collection, file_from_entry
from photoark.client.session import Session
from photoark.client.state.mirror import Album, Mirror
from photoark.crypto.errors import CryptoError
from photoark.protocol.models import Collection, Entry

__all__ = ["SyncResult", "pull"]


@dataclass
class SyncResult:
    albums_changed: int = 0
    entries_changed: int = 0
    broken: list[tuple[int, int, str]] = field(default_factory=list)
    version: int = 0


def _apply_collection(
    session: Session, conn: sqlite3.Connection, c: Collection, result: SyncResult
) -> None:
    result.albums_changed += 1
    if c.is_deleted:
        session.mirror.remove_album(conn, c.id)
        _clear_album_broken(session, conn, c.id)
        return
    try:
        album = album_from_collection(session.account.master_key, c)
    except CryptoError as err:
        _record_broken(conn, result, c.id, 0, f"album {c.id}: {err}")
        return
    session.mirror.clear_broken(conn, c.id, 0)
    session.mirror.put_album(conn, album)


def _clear_album_broken(session: Session, conn: sqlite3.Connection, album_id: int) -> None:
    """Forget every broken record of a deleted album: the album's own and its entries'."""
    # same connection as ``conn`` (the state DB has one): sees this transaction's records too
    for broken_album, file_id, _ in session.mirror.broken_entries():
        if broken_album == album_id:
            session.mirror.clear_broken(conn, album_id, file_id)


def _record_broken(
    conn: sqlite3.Connection, result: SyncResult, album_id: int, file_id: int, message: str
) -> None:
    """Remember an item that failed authentication, so ``export`` reports it on every run."""
    result.broken.append((album_id, file_id, message))
    Mirror.put_broken(conn, album_id, file_id, message)


def _apply_entry(
    session: Session,
    conn: sqlite3.Connection,
    e: Entry,
    albums: dict[int, Album],
    result: SyncResult,
) -> None:
    result.entries_changed += 1
    session.mirror.clear_broken(conn, e.collection_id, e.file_id)
    if e.is_deleted or e.file is None:
        session.mirror.remove_entry(conn, e.collection_id, e.file_id)
        return
    if session.mirror.has_entry(conn, e.collection_id, e.file_id):
        # our own commit (or add) already put it in the mirror; file metadata is immutable in
        # this protocol, so there is nothing to decrypt again, only sizes to take (a thumbnail
        # sent after the original bumps the entry)
        session.mirror.refresh_record(conn, e.file)
        return
    album = albums.get(e.collection_id)
    if album is None:
        message = f"file {e.file_id}: its album {e.collection_id} could not be decrypted"
        _record_broken(conn, result, e.collection_id, e.file_id, message)
        return
    try:
        f = file_from_entry(album, e)
    except CryptoError as err:
        message = f"file {e.file_id} in album {album.name!r}: {err}"
        _record_broken(conn, result, e.collection_id, e.file_id, message)
        return
    session.mirror.put_file(conn, f)
    session.mirror.put_entry(conn, e.collection_id, e.file_id)


def pull(session: Session, page_size: int = 1000) -> SyncResult:
    result = SyncResult()
    since = session.mirror.sync_version()
    known = {a.id: a for a in session.mirror.albums()}
    while True:
        diff = session.api.diff(since, page_size)
        if any(e.collection_id not in known for e in diff.entries):
            # an album renamed later than its entries sorts after them: fetch keys up front
            for c in session.api.collections():
                if c.id not in known and not c.is_deleted:
                    try:
                        known[c.id] = album_from_collection(session.account.master_key, c)
                    except CryptoError:
                        continue
        with session.db.transaction() as conn:
            for c in diff.collections:
                _apply_collection(session, conn, c, result)
                known.pop(c.id, None)
            # same connection and lock: reads this transaction's own writes
            known.update({a.id: a for a in session.mirror.albums()})
            for e in diff.entries:
                _apply_entry(session, conn, e, known, result)
            # deletion marks (photoark.client.library.marks): contents deleted from the backup
            for m in diff.marks:  # in version order: a mark may come and go in one page
                if m.is_deleted:
                    session.mirror.remove_marks(conn, [m.mark])
                else:
                    session.mirror.put_marks(conn, [m.mark])
            session.mirror.set_sync_version(conn, diff.latest_version)
        since = diff.latest_version
        if not diff.has_more:
            break
    result.version = since
    return result
