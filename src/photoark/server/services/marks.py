"""Deletion-mark rules: "deleted from the backup stays deleted".

A mark is the client's keyed hash of a content hash (opaque here: the key never leaves the
client). The server keeps each user's set of marks and hands every change to every device
through diff sync; it never interprets one. Both calls are idempotent (set semantics: a mark
twice in a request counts once), so a retry after a lost answer is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from photoark.protocol.models import DeletionMarks
from photoark.server.store.marks import MarkStore

__all__ = ["MarkService"]


class MarkService:
    def __init__(self, store: MarkStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def add(self, user_id: int, request: DeletionMarks) -> int:
        """Add the marks (new or revived ones take new versions; present ones stay as they
        are); returns how many changed."""
        return self._store.add(user_id, _distinct(request), self._clock())

    def remove(self, user_id: int, request: DeletionMarks) -> int:
        """Tombstone the marks present (new versions); unknown ones are ignored. Returns how
        many changed."""
        return self._store.remove(user_id, _distinct(request))


def _distinct(request: DeletionMarks) -> list[str]:
    """The request's marks, each once, in order (the model checked their form)."""
    return list(dict.fromkeys(request.marks))
