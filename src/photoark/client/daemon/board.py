"""The daemon's side of the status board: the facts it publishes as things happen, which
``photoark status`` reads from another process (:class:`~photoark.client.state.daemonstate.
StatusBoard`, read by :func:`photoark.client.status.status_report`).

The facts: ``pid``; ``state`` (starting, reconciling, backing_up, thumbnails, embeddings,
idle, paused, stopped); ``paused`` (why, or none); ``offline_reason``; ``current`` (the
running batch's album and progress); ``problems`` (watched folder → why it is not watched);
``last_sync``, ``last_backup`` (times); and what the loop had waiting when it last chose
what to do: ``settling`` (touched files not yet holding still) and ``queued`` (settled paths
in its durable queue). Idle with nothing settling or queued means every change seen so far
was dealt with; paused with something queued means it is held back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from photoark.client.state.daemonstate import StatusBoard

__all__ = ["StatusPublisher"]


class StatusPublisher:
    """Thread-safe: the loop, the policy and events threads and the backup workers publish."""

    def __init__(self, board: StatusBoard) -> None:
        self._board = board
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {"pid": os.getpid(), "state": "starting"}
        self._last_write = 0.0

    def publish(self, throttle: bool = False, **changes: Any) -> None:
        """Update the status board; unchanged facts are rewritten only every 30 s (so
        ``updated_at`` shows the daemon is alive), progress at most twice a second."""
        with self._lock:
            before = dict(self._status)
            self._status.update(changes)
            now = time.monotonic()
            since = now - self._last_write
            if (throttle and since < 0.5) or (self._status == before and since < 30):
                return
            self._last_write = now
            status = dict(self._status)
        with contextlib.suppress(Exception):  # the board is informative; never stop for it
            self._board.write(status)

    def get(self, key: str) -> Any:
        """The fact as last published (``None`` if never)."""
        with self._lock:
            return self._status.get(key)
