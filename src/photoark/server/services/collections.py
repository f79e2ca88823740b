"""Album rules: create, rename, list, add a file by reference, remove (tombstone), delete.

Adding a file to another album moves no bytes: only a new wrapped key is stored, so storage
use does not change. Both the album and the file must be the caller's. Deleting an album
tombstones its entries and leaves its files alone (they stay in other albums, or in none: the
client moves or trashes those first), so it does not change storage use either.
"""

from __future__ import annotations

from collections.abc import Sequence

from photoark.protocol.models import (
    AddManyToCollection,
    AddToCollection,
    Collection,
    CollectionCreate,
    Entry,
)
from photoark.server.errors import BadRequest
from photoark.server.services.validation import check_sealed
from photoark.server.store.collections import CollectionStore

__all__ = ["CollectionService"]


class CollectionService:
    def __init__(self, store: CollectionStore) -> None:
        self._store = store

    def create(self, user_id: int, request: CollectionCreate) -> Collection:
        """A new album. With ``request.idempotency_key``, at most one per key and user: a
        repeat answers the album the key made (a retry after a lost answer); the key with
        another body is a :class:`~photoark.server.errors.Conflict`. The wrapped key and the
        encrypted name must not be empty (:class:`BadRequest` otherwise)."""
        check_sealed("encrypted_key", request.encrypted_key)
        check_sealed("encrypted_name", request.encrypted_name)
        return self._store.create(
            user_id, request.encrypted_key, request.encrypted_name, request.idempotency_key
        )

    def rename(self, user_id: int, collection_id: int, encrypted_name: bytes) -> Collection:
        check_sealed("encrypted_name", encrypted_name)
        return self._store.rename(user_id, collection_id, encrypted_name)

    def list(self, user_id: int) -> list[Collection]:
        return self._store.list(user_id)

    def add_file(self, user_id: int, collection_id: int, request: AddToCollection) -> Entry:
        """Idempotent; re-adding a removed file revives its entry with a new version."""
        return self._store.add_file(user_id, collection_id, request.file_id, request.encrypted_key)

    def add_files(
        self, user_id: int, collection_id: int, request: AddManyToCollection
    ) -> Sequence[Entry]:
        """:meth:`add_file` for many files in one transaction (all or none)."""
        if len({i.file_id for i in request.items}) != len(request.items):
            raise BadRequest("a file appears twice in the request")
        items = [(i.file_id, i.encrypted_key) for i in request.items]
        return self._store.add_files(user_id, collection_id, items)

    def remove_file(self, user_id: int, collection_id: int, file_id: int) -> None:
        """Leave a tombstone for diff sync. Idempotent. The file itself stays."""
        self._store.remove_file(user_id, collection_id, file_id)

    def delete(self, user_id: int, collection_id: int) -> None:
        """Delete the caller's album and tombstone its entries (diff sync shows both; the
        album's own change comes last). Idempotent: deleting it again is a no-op; another
        user's or a missing album is :class:`~photoark.server.errors.NotFound`."""
        self._store.delete(user_id, collection_id)
