"""Importable builders for the ``photoark.optimize`` unit tests: a real client state (a
``StateDB`` in a tmp dir whose mirror is filled with albums and files) behind a real
:class:`~photoark.client.session.Session`, talking to :class:`FakeApi`, a stand-in for the
server that answers only the calls the optimize code makes, and records them in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import blake3

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError
from photoark.client.home import ClientHome
from photoark.client.session import Session
from photoark.client.state.account import Account
from photoark.client.state.db import StateDB
from photoark.client.state.mirror import Album, LibraryFile, Mirror
from photoark.crypto.boxes import new_key
from photoark.optimize.keeper import Candidate
from photoark.protocol.metadata import FileMetadata
from photoark.protocol.models import (
    AddManyToCollection,
    Diff,
    Entry,
    FileRecord,
    KeyAttributesModel,
    VerifiedFile,
)

__all__ = ["FakeApi", "Library", "blake3_hex", "file_metadata"]


def blake3_hex(data: bytes) -> str:
    """A content hash as the client computes it (BLAKE3 of the file's bytes)."""
    return str(blake3.blake3(data).hexdigest())


def file_metadata(**fields: Any) -> FileMetadata:
    """A file's (complete) metadata: a plain image unless ``fields`` say otherwise."""
    base: dict[str, Any] = {
        "name": "IMG_0001.jpg",
        "hash": "00" * 32,
        "size": 1000,
        "type": "image",
        "header": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # base64 of 24 zero bytes
    }
    return FileMetadata.model_validate({**base, **fields})


@dataclass
class FakeApi:
    """The server as the optimize code sees it. ``calls`` records, in order:

    - ``("add", album_id, (file_id, ...))`` per ``add_many_to_collection`` that succeeded;
    - ``("marks", n)`` per ``add_marks`` (n deletion marks);
    - ``("trash", (file_id, ...))`` per ``trash_files``;
    - ``("verify", (file_id, ...))`` per ``verify_files`` (also the refused ones).

    Each committed file's content object is as big as its ``content_size`` unless ``objects``
    says otherwise (``None``: missing). ``purged`` files are deleted for good (``verify``
    refuses the whole call naming them, as the server does); adds to ``refuse_albums`` fail."""

    sizes: dict[int, int] = field(default_factory=dict)  # file id → content size committed
    objects: dict[int, int | None] = field(default_factory=dict)
    trashed: set[int] = field(default_factory=set)
    purged: set[int] = field(default_factory=set)
    refuse_albums: set[int] = field(default_factory=set)
    marks: list[str] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def diff(self, since: int, limit: int = 1000) -> Diff:
        """Nothing changed remotely: the mirror is the library."""
        return Diff(collections=[], entries=[], marks=[], latest_version=since, has_more=False)

    def collections(self) -> list[Any]:
        return []

    def verify_files(self, file_ids: Sequence[int]) -> list[VerifiedFile]:
        self.calls.append(("verify", tuple(file_ids)))
        gone = [i for i in file_ids if i in self.purged or i not in self.sizes]
        if gone:
            raise ApiError("not_found", "no such file", 404, {"file_ids": gone})
        return [
            VerifiedFile(
                id=i,
                content_size=self.sizes[i],
                object_size=self.objects.get(i, self.sizes[i]),
                trashed=i in self.trashed,
            )
            for i in file_ids
        ]

    def add_many_to_collection(
        self, collection_id: int, request: AddManyToCollection
    ) -> list[Entry]:
        if collection_id in self.refuse_albums:
            raise ApiError("not_found", f"no album {collection_id}", 404)
        ids = tuple(item.file_id for item in request.items)
        self.calls.append(("add", collection_id, ids))
        return [
            Entry(
                collection_id=collection_id,
                file_id=item.file_id,
                encrypted_key=item.encrypted_key,
                version=1,
            )
            for item in request.items
        ]

    def add_marks(self, marks: Sequence[str]) -> None:
        self.calls.append(("marks", len(marks)))
        self.marks.extend(marks)

    def trash_files(self, file_ids: Sequence[int]) -> list[FileRecord]:
        self.calls.append(("trash", tuple(file_ids)))
        self.trashed.update(file_ids)
        return [
            FileRecord(
                id=i,
                content_size=self.sizes.get(i, 0),
                thumbnail_size=0,
                encrypted_metadata=b"",
                created_at=0.0,
                is_trashed=True,
            )
            for i in file_ids
        ]

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        """The recorded calls of one kind (``add``, ``marks``, ``trash``, ``verify``)."""
        return [c for c in self.calls if c[0] == kind]

    def close(self) -> None:
        pass


def candidate(i: int, **changes: Any) -> Candidate:
    """A keeper candidate: a dated 12 MP JPEG in one album, uploaded in id order; ``changes``
    override fields (``name``, ``pixels``, ``album_count``…)."""
    base = Candidate(
        id=i,
        pixels=12_000_000,
        format="jpeg",
        has_date=True,
        has_gps=False,
        metadata_fields=4,
        album_count=1,
        taken=1_600_000_000.0,
        created_at=1_700_000_000.0 + i,
    )
    return dataclasses.replace(base, **changes)


def _key_attributes() -> KeyAttributesModel:
    """Never used by the optimize code (it only needs the master key)."""
    return KeyAttributesModel(
        kek_salt=bytes(16),
        ops_limit=1,
        mem_limit=8192,
        master_key_wrapped=bytes(32),
        master_key_wrapped_recovery=bytes(32),
        recovery_key_wrapped=bytes(32),
    )


class Library:
    """A client home in ``root`` with a logged-in :attr:`session` whose API is :attr:`api`;
    :meth:`album` and :meth:`file` fill the mirror (and tell the fake server)."""

    def __init__(self, root: Path) -> None:
        home = ClientHome(root).ensure()
        self.db = StateDB(home.state_db)
        self.mirror = Mirror(self.db)
        self.api = FakeApi()
        account = Account(
            server="http://fake.invalid",
            email="alice@example.com",
            user_id=1,
            token="token",
            master_key=new_key(),
            key_attributes=_key_attributes(),
        )
        self.session = Session(home, self.db, account, cast(ApiClient, self.api), self.mirror)
        self._next_album = 1
        self._next_file = 1

    def album(self, name: str) -> Album:
        album = Album(self._next_album, name, new_key(), 1)
        self._next_album += 1
        with self.db.transaction() as conn:
            self.mirror.put_album(conn, album)
        return album

    def file(
        self,
        name: str,
        *,
        data: bytes | None = None,
        hash: str | None = None,
        albums: Sequence[Album] = (),
        created_at: float | None = None,
        content_size: int | None = None,
        thumbnail_size: int = 100,
        type: str = "image",
        metadata: FileMetadata | None = None,
        trashed: bool = False,
    ) -> LibraryFile:
        """A committed library file of content ``data`` (or of content hash ``hash``) in
        ``albums``; ids and upload times count up (file 1 is the oldest)."""
        if (data is None) == (hash is None):
            raise ValueError("give the file's data or its hash")
        file_id = self._next_file
        self._next_file += 1
        size = len(data) if data is not None else 1000
        f = LibraryFile(
            id=file_id,
            hash=blake3_hex(data) if data is not None else str(hash),
            name=name,
            size=size,
            type=type,
            taken_at=None,
            taken_at_utc=None,
            metadata=metadata
            or file_metadata(
                name=name,
                hash=blake3_hex(data) if data is not None else str(hash),
                size=size,
                type=type,
            ),
            file_key=new_key(),
            content_size=content_size if content_size is not None else size + 40,
            thumbnail_size=thumbnail_size,
            created_at=created_at if created_at is not None else 1.7e9 + file_id,
            is_trashed=trashed,
        )
        with self.db.transaction() as conn:
            self.mirror.put_file(conn, f)
            for album in albums:
                self.mirror.put_entry(conn, album.id, f.id)
        self.api.sizes[f.id] = f.content_size
        if trashed:
            self.api.trashed.add(f.id)
        return f

    def albums_of(self, f: LibraryFile) -> set[str]:
        """The names of the albums the mirror shows ``f`` in now."""
        names = {a.id: a.name for a in self.mirror.albums()}
        return {names[a] for a in self.mirror.albums_of_file(f.id)}

    def close(self) -> None:
        self.db.close()
