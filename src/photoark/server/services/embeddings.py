"""Embedding rules: similar-photo search data, kept for a client and never read here.

A client computes an embedding of a photo under a model name (its name for the model and its
version), seals it with the file's key and stores it here, so another device can search without
computing it again. The server checks only that the files are the caller's and keeps the bytes
as they are. A put replaces what the model had for those files, so a retry after a lost answer
is harmless; a query tells nothing about ids that are not the caller's files (they are absent).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from photoark.protocol.models import EmbeddingItem, EmbeddingList, EmbeddingPut, EmbeddingQuery
from photoark.server.errors import BadRequest
from photoark.server.store.embeddings import EmbeddingStore

__all__ = ["EmbeddingService"]


class EmbeddingService:
    def __init__(self, store: EmbeddingStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def put(self, user_id: int, request: EmbeddingPut) -> None:
        """Store (replace) the embeddings of ``request.model`` for the caller's files, all or
        none: :class:`BadRequest` if a file appears twice, :class:`NotFound` (with
        ``details.file_ids``) if one is not the caller's file or is deleted for good. Trashed
        files are accepted. Idempotent."""
        ids = [item.file_id for item in request.items]
        if len(set(ids)) != len(ids):
            raise BadRequest("a file appears twice in the request")
        pairs = [(item.file_id, item.data) for item in request.items]
        self._store.put(user_id, request.model, pairs, self._clock())

    def query(self, user_id: int, request: EmbeddingQuery) -> EmbeddingList:
        """The embeddings of ``request.model`` stored for those of the ids that are the
        caller's files (trashed ones too), by file id; other ids are absent. Read-only."""
        found = self._store.get(user_id, request.model, request.file_ids)
        return EmbeddingList(items=[EmbeddingItem(file_id=i, data=data) for i, data in found])
