"""Following the server's change stream: another device's uploads reach this one's mirror
within a second.

A thread holds ``GET /events`` open; whenever the library's change counter moves past the
mirror's, the diff is pulled (:func:`photoark.client.library.sync.pull`). A broken stream is
reopened after a backoff that doubles up to ``backoff_max`` and resets once events flow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from photoark.client.api import ApiClient
from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.timing import DaemonTiming
from photoark.client.errors import ClientError
from photoark.client.library import sync
from photoark.client.session import Session

__all__ = ["ChangeFollower"]

log = logging.getLogger(__name__)


class ChangeFollower:
    def __init__(
        self,
        session: Session,
        timing: DaemonTiming,
        stop: threading.Event,
        status: StatusPublisher,
        pulled: Callable[[], None],
    ) -> None:
        """``pulled()`` is told after each pull (new photos may need embeddings)."""
        self._session = session
        self._timing = timing
        self._stop = stop
        self._status = status
        self._pulled = pulled
        self._pull_lock = threading.Lock()

    def pull(self) -> None:
        """Bring the mirror up to date with the server's library."""
        with self._pull_lock:
            sync.pull(self._session)
        self._pulled()
        self._status.publish(last_sync=time.time())

    def follow(self) -> None:
        """The events thread: follow the stream until ``stop``."""
        account = self._session.account
        delay = self._timing.backoff_first
        while not self._stop.is_set():
            try:
                with ApiClient(account.server, account.token) as api:
                    for version in api.events():
                        delay = self._timing.backoff_first
                        if self._stop.is_set():
                            return
                        if version > self._session.mirror.sync_version():
                            self.pull()
            except ClientError as err:
                log.info("change stream interrupted: %s", err)
            except Exception:
                log.exception("change stream failed")
            if self._stop.wait(delay):
                return
            delay = min(self._timing.backoff_max, delay * 2)
