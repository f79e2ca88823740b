"""What the daemon does when no original waits: thumbnails of what was backed up, then the
embeddings of new photos for ``photoark similar``. Each stops (the rest staying queued) as
soon as a file is touched, an original is queued or uploads pause."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.watcher import Settler
from photoark.client.errors import ModelUnavailable
from photoark.client.pipeline.thumbnailer import make_thumbnails
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.daemonstate import DaemonQueue
from photoark.client.state.thumbqueue import ThumbnailQueue

__all__ = ["Guard", "IdleWork"]

log = logging.getLogger(__name__)

Guard = Callable[[Callable[[], bool | None]], bool]
"""Runs a unit of work; True if it finished (see ``Daemon._guard``)."""


class IdleWork:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        settler: Settler,
        queue: DaemonQueue,
        cancel: threading.Event,
        status: StatusPublisher,
    ) -> None:
        self._session = session
        self._settings = settings
        self._settler = settler
        self._queue = queue
        self._cancel = cancel
        self._status = status
        self._thumbnails = ThumbnailQueue(session.db)
        self._embeddings_due = True  # photos may lack embeddings: checked when idle

    def embeddings_due(self) -> None:
        """New photos may lack embeddings (after a backup or a pull): look when idle."""
        self._embeddings_due = True

    def step(self, guard: Guard) -> bool:
        """Do the next piece of idle work, if nothing settles; False when there is none."""
        if not len(self._settler) and self._thumbnails.count():
            guard(self.make_thumbnails)
            self._embeddings_due = True
            return True
        if self._embeddings_due and not len(self._settler):
            wanted = bool(self._settings.get("similar.embed_in_daemon"))
            self._embeddings_due = wanted and not guard(self.make_embeddings)
            return True
        return False

    def make_thumbnails(self) -> None:
        """Thumbnails of what was backed up, once no original waits: they stop (before
        the next render, the rest staying queued) as soon as a file is touched or uploads
        pause."""
        self._status.publish(state="thumbnails")

        def interrupted() -> bool:
            return self._cancel.is_set() or len(self._settler) > 0 or self._queue.count() > 0

        workers = max(1, min(int(self._settings.get("upload.workers")), os.cpu_count() or 1))
        make_thumbnails(self._session, workers, cancel=interrupted)

    def make_embeddings(self) -> bool:
        """Embeddings of new photos for ``photoark similar``, once originals and thumbnails are
        done, on one core; stopped between batches as soon as other work arrives. True when
        every photo has one (or a recorded reason why not)."""
        from photoark.client.library.embedder import embed_library  # numpy and the model: when used

        self._status.publish(state="embeddings")

        def interrupted() -> bool:
            return (
                self._cancel.is_set()
                or len(self._settler) > 0
                or self._queue.count() > 0
                or self._thumbnails.count() > 0
            )

        try:
            embed_library(self._session, threads=1, cancel=interrupted)
        except ModelUnavailable as err:  # not the server's fault: say so once, stop trying
            log.error("similar-photo embeddings are off until restart: %s", err)
            return True
        return not interrupted()
