"""Trash rules: a file moved to the trash leaves every album but keeps its bytes (and its place
in the quota, as ``trash_bytes``) until the trash is emptied; a restore can bring it back into
exactly the albums it left. Only moving files in exists so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from photoark.protocol.models import FileRecord, TrashFiles
from photoark.server.errors import BadRequest
from photoark.server.store.trash import TrashStore

__all__ = ["TrashService"]


class TrashService:
    def __init__(self, store: TrashStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def trash(self, user_id: int, request: TrashFiles) -> list[FileRecord]:
        """Move the caller's files to the trash; all or none (an unknown id, or another user's,
        is :class:`NotFound` for the whole request), idempotent (a trashed file stays as it
        is). Records in request order, each ``is_trashed``."""
        if len(set(request.file_ids)) != len(request.file_ids):
            raise BadRequest("a file appears twice in the request")
        return self._store.trash(user_id, request.file_ids, self._clock())
