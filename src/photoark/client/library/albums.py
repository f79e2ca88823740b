"""Album operations on the client: find or create an album by name, add a file by reference."""

from __future__ import annotations

from collections.abc import Sequence

from photoark.client.batches import in_batches
from photoark.client.errors import NotInAlbum
from photoark.client.library.records import album_from_collection, encrypt_album
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.crypto.boxes import wrap_key
from photoark.protocol.models import AddManyToCollection, AddToCollection

__all__ = [
    "NotInAlbum",
    "add_by_reference",
    "add_many_by_reference",
    "album_named",
    "ensure_album",
    "files_in_album_by_ref",
]


def ensure_album(session: Session, name: str) -> Album:
    """The album called ``name`` (the oldest, if several), created if there is none.

    A name that is not valid UTF-8 (a folder name in another encoding) is stored with
    replacement characters: album names are text."""
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    existing = session.mirror.album_by_name(name)
    if existing is not None:
        return existing
    request, _ = encrypt_album(session.account.master_key, name)
    created = session.api.create_collection(request)
    album = album_from_collection(session.account.master_key, created)
    with session.db.transaction() as conn:
        session.mirror.put_album(conn, album)
    return album


def add_many_by_reference(
    session: Session, album: Album, files: Sequence[LibraryFile]
) -> list[LibraryFile]:
    """Put library files into another album (keys wrapped again, no bytes move), a request
    per ``MAX_BUNDLE_FILES`` (each all or none); the mirror learns each request's entries in
    one transaction. Returns ``files``."""
    for batch in in_batches(files):
        request = AddManyToCollection(
            items=[
                AddToCollection(file_id=f.id, encrypted_key=wrap_key(album.key, f.file_key))
                for f in batch
            ]
        )
        session.api.add_many_to_collection(album.id, request)
        with session.db.transaction() as conn:
            for f in batch:
                session.mirror.put_entry(conn, album.id, f.id)
    return list(files)


def add_by_reference(session: Session, album: Album, f: LibraryFile) -> None:
    """Put a library file into another album: its key is wrapped again, no bytes move."""
    session.api.add_to_collection(
        album.id, AddToCollection(file_id=f.id, encrypted_key=wrap_key(album.key, f.file_key))
    )
    with session.db.transaction() as conn:
        session.mirror.put_entry(conn, album.id, f.id)


def album_named(session: Session, name: str) -> Album:
    album = session.mirror.album_by_name(name)
    if album is None:
        raise NotInAlbum(f"no album named {name!r}")
    return album


def files_in_album_by_ref(session: Session, album: Album, refs: Sequence[str]) -> list[LibraryFile]:
    """The files of ``album`` named by id or by file name (a name shared by several files is
    refused: say which by id)."""
    files = session.mirror.files_in_album(album.id)
    by_id = {str(f.id): f for f in files}
    out: list[LibraryFile] = []
    for ref in refs:
        if ref in by_id:
            out.append(by_id[ref])
            continue
        named = [f for f in files if f.name == ref]
        if not named:
            raise NotInAlbum(f"{ref!r} is not in the album {album.name!r}")
        if len(named) > 1:
            ids = ", ".join(str(f.id) for f in named)
            raise NotInAlbum(f"{len(named)} files in {album.name!r} are named {ref!r} (ids {ids})")
        out.append(named[0])
    return list({f.id: f for f in out}.values())
