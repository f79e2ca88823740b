"""One writer per client home: a backup holds an exclusive ``flock`` on ``<home>/lock``.

Two overlapping backups of one home (a cron job and a manual run, say) would each open their
own upload sessions for the same files; the second one is refused with a clear message instead.
The lock is released by the kernel when the process dies, so a SIGKILL never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from photoark.client.errors import HomeBusy
from photoark.client.home import ClientHome

__all__ = ["HomeBusy", "exclusive"]


@contextmanager
def exclusive(home: ClientHome, what: str) -> Iterator[None]:
    path = home.root / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise HomeBusy(
                f"another photoark process is already working with {home.root} ({holder})"
            ) from err
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {what}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
