"""The trash, seen from the client: list it (decrypted), restore, delete for good, empty; and
moving files out of albums (``rm``) or into the trash (``delete``).

Trashed files are not in the local mirror (diff sync removed their entries), so listing asks
the server (``GET /trash``) and decrypts each item's metadata with the key of an album it was
trashed from (kept by the server, wrapped by the master key, even for an album deleted since).

Rules:

- ``rm ALBUM FILE``: out of that album only; a file that would be in no album any more goes to
  ``Uncategorized`` first (never to the trash: removing from an album is not deleting).
- ``delete FILE``: to the trash, out of every album; its content is marked deleted, so no
  device backs it up again (:mod:`.marks`) until it is restored.
- restore: back into the albums it was trashed from, or ``--album NAME``, or ``Uncategorized``
  when none of its albums exists any more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from photoark.client.batches import in_batches
from photoark.client.errors import ApiError, ClientError
from photoark.client.library import sync
from photoark.client.library.albums import add_many_by_reference, ensure_album
from photoark.client.library.marks import DeletionMarks
from photoark.client.library.records import file_from_entry
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.crypto.boxes import unwrap_key
from photoark.crypto.errors import CryptoError
from photoark.protocol.models import Entry, TrashDeleted, TrashItem

__all__ = [
    "UNCATEGORIZED",
    "TrashedFile",
    "delete_files",
    "delete_forever",
    "empty_trash",
    "list_trash",
    "remove_from_album",
    "restore_files",
    "trashed_hashes",
]

UNCATEGORIZED = "Uncategorized"


@dataclass(frozen=True)
class TrashedFile:
    id: int
    file: LibraryFile | None  # None: no album key to decrypt it with
    albums: tuple[str, ...]  # the albums it was trashed from (that still exist)
    stored: int
    trashed_at: float
    expires_at: float

    @property
    def name(self) -> str:
        return self.file.name if self.file is not None else f"(file {self.id})"

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.file.name if self.file else None,
            "hash": self.file.hash if self.file else None,
            "size": self.file.size if self.file else None,
            "albums": list(self.albums),
            "stored_bytes": self.stored,
            "trashed_at": self.trashed_at,
            "expires_at": self.expires_at,
        }


def _decrypt(item: TrashItem, albums: dict[int, Album], master_key: bytes) -> TrashedFile:
    """Name a trashed file: its key is wrapped by the key of an album it was trashed from;
    that album's key comes from the mirror, or (an album deleted since) from the entry, where
    the server keeps it wrapped by the master key."""
    names = tuple(albums[e.collection_id].name for e in item.entries if e.collection_id in albums)
    file: LibraryFile | None = None
    for e in item.entries:
        entry = Entry(
            collection_id=e.collection_id,
            file_id=item.file.id,
            encrypted_key=e.encrypted_key,
            version=0,
            file=item.file,
        )
        try:
            album = albums.get(e.collection_id) or Album(
                e.collection_id, "", unwrap_key(master_key, e.collection_key), 0
            )
            file = file_from_entry(album, entry)
            break
        except (CryptoError, ValueError):
            continue
    stored = item.file.content_size + item.file.thumbnail_size
    return TrashedFile(item.file.id, file, names, stored, item.trashed_at, item.expires_at)


def list_trash(session: Session) -> list[TrashedFile]:
    albums = {a.id: a for a in session.mirror.albums()}
    out: list[TrashedFile] = []
    after = 0
    while True:
        page = session.api.trash_page(after)
        out.extend(_decrypt(item, albums, session.account.master_key) for item in page.items)
        if not page.has_more or not page.items:
            return out
        after = page.items[-1].file.id


def trashed_hashes(session: Session) -> set[str]:
    """Content hashes in the trash (Live Photos: the item's and each part's)."""
    hashes: set[str] = set()
    for t in list_trash(session):
        if t.file is not None:
            hashes.add(t.file.hash)
            hashes.update(t.file.metadata.part_hashes())
    return hashes


def restore_files(
    session: Session, file_ids: Sequence[int], album_name: str | None = None
) -> list[TrashedFile]:
    """Bring files back from the trash: into their old albums, and into ``album_name`` if
    given; a file none of whose albums exists any more goes to ``Uncategorized``."""
    wanted = list(dict.fromkeys(file_ids))
    trashed = {t.id: t for t in list_trash(session) if t.id in set(wanted)}
    missing = [i for i in wanted if i not in trashed]
    if missing:
        raise ClientError(f"not in the trash: {missing} (see `photoark trash ls`)")
    for chunk in in_batches(wanted):
        try:
            session.api.restore_files(chunk)
        except ApiError as err:
            # a retry after a lost answer: the first attempt restored them
            if err.code != "conflict" or err.details.get("reason") != "not_in_trash":
                raise
    DeletionMarks(session).unmark(t.file.hash for t in trashed.values() if t.file is not None)
    sync.pull(session)
    homeless = [i for i in wanted if session.mirror.file(i) is None]  # in no album we have
    placed = wanted if album_name is not None else homeless
    if placed:
        target = ensure_album(session, album_name or UNCATEGORIZED)
        files = [f for i in placed if (f := trashed[i].file) is not None]
        add_many_by_reference(session, target, files)
        if len(files) < len(placed):
            raise ClientError(
                "some restored files could not be decrypted (their albums are gone) and are "
                "in no album"
            )
    return [trashed[i] for i in wanted]


def delete_files(session: Session, file_ids: Sequence[int]) -> int:
    """Move library files to the trash (out of every album). Their contents are marked
    deleted first (:mod:`.marks`), so no device backs them up again."""
    known = [f for f in (session.mirror.file(i) for i in file_ids) if f is not None]
    DeletionMarks(session).mark_files(known)
    for chunk in in_batches(file_ids):
        session.api.trash_files(chunk)
    sync.pull(session)
    return len(file_ids)


def delete_forever(session: Session, file_ids: Sequence[int]) -> TrashDeleted:
    deleted, freed = 0, 0
    for chunk in in_batches(file_ids):
        done = session.api.delete_forever(chunk)
        deleted, freed = deleted + done.deleted, freed + done.bytes
    return TrashDeleted(deleted=deleted, bytes=freed)


def empty_trash(session: Session) -> TrashDeleted:
    return session.api.empty_trash()


def remove_from_album(session: Session, album: Album, files: Sequence[LibraryFile]) -> int:
    """Take files out of one album; one that would be left in no album goes to
    ``Uncategorized`` first (it is never in zero albums, even if we are cut off midway)."""
    mirror = session.mirror
    last = [f for f in files if mirror.albums_of_file(f.id) <= {album.id}]
    if last and album.name != UNCATEGORIZED:
        add_many_by_reference(session, ensure_album(session, UNCATEGORIZED), last)
    elif last:
        raise ClientError(
            f"{len(last)} of these files are only in {UNCATEGORIZED}; use `photoark delete` "
            "to move them to the trash"
        )
    for f in files:
        session.api.remove_from_collection(album.id, f.id)
        with session.db.transaction() as conn:
            mirror.remove_entry(conn, album.id, f.id)
    return len(files)
