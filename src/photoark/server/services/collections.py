"""Album rules: create, rename, list, add a file by reference, remove (tombstone).

Adding a file to another album moves no bytes: only a new wrapped key is stored, so storage
use does not change. Both the album and the file must be the caller's.
"""

from __future__ import annotations

from photoark.protocol.models import AddToCollection, Collection, CollectionCreate, Entry
from photoark.server.store.collections import CollectionStore

__all__ = ["CollectionService"]


class CollectionService:
    def __init__(self, store: CollectionStore) -> None:
        self._store = store

    def create(self, user_id: int, request: CollectionCreate) -> Collection:
        return self._store.create(user_id, request.encrypted_key, request.encrypted_name)

    def rename(self, user_id: int, collection_id: int, encrypted_name: bytes) -> Collection:
        return self._store.rename(user_id, collection_id, encrypted_name)

    def list(self, user_id: int) -> list[Collection]:
        return self._store.list(user_id)

    def add_file(self, user_id: int, collection_id: int, request: AddToCollection) -> Entry:
        """Idempotent; re-adding a removed file revives its entry with a new version."""
        return self._store.add_file(user_id, collection_id, request.file_id, request.encrypted_key)

    def remove_file(self, user_id: int, collection_id: int, file_id: int) -> None:
        """Leave a tombstone for diff sync. Idempotent. The file itself stays."""
        self._store.remove_file(user_id, collection_id, file_id)
