"""Organising the library: add files to an album by reference (``photoark add``), create,
rename and delete albums (``photoark albums create|rename|delete``).

Deleting an album never deletes a photo that is in another album; the photos only in the
deleted album go to ``Uncategorized`` — or, with ``with_photos``, to the trash. Moving them
comes first, so a photo is never left in no album even if we are cut off midway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from photoark.client.errors import ClientError
from photoark.client.library import sync
from photoark.client.library.albums import (
    NotInAlbum,
    add_many_by_reference,
    album_named,
    ensure_album,
)
from photoark.client.library.records import seal_album_name
from photoark.client.library.trash import UNCATEGORIZED, delete_files
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.protocol.models import CollectionRename

__all__ = [
    "AlbumDeleted",
    "add_to_album",
    "create_album",
    "delete_album",
    "library_files_by_ref",
    "rename_album",
]


def library_files_by_ref(session: Session, refs: Sequence[str]) -> list[LibraryFile]:
    """Library files named by id, or by a file name that only one library file has."""
    mirror = session.mirror
    out: dict[int, LibraryFile] = {}
    for ref in refs:
        f = mirror.file(int(ref)) if ref.isdigit() else None
        if f is None:
            named = mirror.files_named(ref)
            if not named:
                raise NotInAlbum(f"no file {ref!r} in the library")
            if len(named) > 1:
                ids = ", ".join(str(n.id) for n in named)
                raise NotInAlbum(f"{len(named)} files are named {ref!r} (ids {ids}): use an id")
            f = named[0]
        out[f.id] = f
    return list(out.values())


def add_to_album(session: Session, album_name: str, refs: Sequence[str]) -> list[LibraryFile]:
    """Add library files to an album (created if missing) by reference: the file key is
    wrapped again with the album key; no bytes move, storage is unchanged."""
    sync.pull(session)
    files = library_files_by_ref(session, refs)
    album = ensure_album(session, album_name)
    fresh = [f for f in files if album.id not in session.mirror.albums_of_file(f.id)]
    add_many_by_reference(session, album, fresh)
    return files


def create_album(session: Session, name: str) -> Album:
    sync.pull(session)
    if session.mirror.album_by_name(name) is not None:
        raise ClientError(f"an album named {name!r} already exists")
    return ensure_album(session, name)


def rename_album(session: Session, old: str, new: str) -> Album:
    sync.pull(session)
    album = album_named(session, old)
    if session.mirror.album_by_name(new) is not None:
        raise ClientError(f"an album named {new!r} already exists")
    session.api.rename_collection(
        album.id, CollectionRename(encrypted_name=seal_album_name(album.key, new))
    )
    sync.pull(session)
    renamed = session.mirror.album(album.id)
    assert renamed is not None
    return renamed


@dataclass(frozen=True)
class AlbumDeleted:
    name: str
    kept_elsewhere: int  # photos also in other albums: untouched
    moved: int  # photos only in this album, now in Uncategorized
    trashed: int  # ... or in the trash (with_photos)


def delete_album(session: Session, name: str, with_photos: bool = False) -> AlbumDeleted:
    sync.pull(session)
    album = album_named(session, name)
    mirror = session.mirror
    files = mirror.files_in_album(album.id)
    only_here = [f for f in files if mirror.albums_of_file(f.id) <= {album.id}]
    if only_here and not with_photos:
        if album.name == UNCATEGORIZED:
            raise ClientError(
                f"{len(only_here)} photos are only in {UNCATEGORIZED}; put them in another "
                "album first, or delete them too with --with-photos"
            )
        target = ensure_album(session, UNCATEGORIZED)
        add_many_by_reference(session, target, only_here)
    elif only_here:
        delete_files(session, [f.id for f in only_here])
    session.api.delete_collection(album.id)
    sync.pull(session)
    return AlbumDeleted(
        album.name,
        kept_elsewhere=len(files) - len(only_here),
        moved=0 if with_photos else len(only_here),
        trashed=len(only_here) if with_photos else 0,
    )
