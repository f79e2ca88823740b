"""Per-content claims: files of one run with the same content are decided one at a time.

The first worker holding a claim decides and uploads; the others wait, then decide against
the mirror that now holds the file, so identical files are uploaded once per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from photoark.client.library.records import display_name
from photoark.client.pipeline.decide import MatchProfile

__all__ = ["Claims", "claim_of"]


def claim_of(match: MatchProfile, content_hash: str, path: str) -> str:
    """What two files of this run must not decide on at once: the same content, and under
    ``name+hash`` the same name too (copies under other names are uploaded each anyway, and
    waiting for the other's bundle held a worker idle: 114 copies in the throughput bench
    cost ~3 s)."""
    if match == "name+hash":
        return f"{content_hash}/{display_name(path)['name']}"
    return content_hash


class Claims:
    """The run's claims (see :func:`claim_of`), each a lock shared by its waiters."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def acquire(self, claim: str) -> Callable[[], None]:
        """Wait for the claim, then hold it; returns the release function, which any thread
        may call once (a bundled upload releases when its bundle is committed)."""
        with self._guard:
            lock, users = self._locks.get(claim, (threading.Lock(), 0))
            self._locks[claim] = (lock, users + 1)
        lock.acquire()

        def release() -> None:
            with self._guard:
                lock, users = self._locks[claim]
                if users <= 1:
                    del self._locks[claim]
                else:
                    self._locks[claim] = (lock, users - 1)
            lock.release()

        return release
