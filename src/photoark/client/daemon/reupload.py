"""``photoark watch reupload PATH``: back up again what was deleted from the backup.

A deleted photo's content carries a deletion mark (:mod:`photoark.client.library.marks`) so
no device uploads it again; the user lifts it here, deliberately, and the daemon picks the
files up from its queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from photoark.client.library.marks import DeletionMarks
from photoark.client.pipeline.identify import content_hash
from photoark.client.pipeline.scanner import scan_split
from photoark.client.session import Session
from photoark.client.state.daemonstate import DaemonQueue
from photoark.client.state.statcache import StatCache

__all__ = ["reupload"]


def reupload(session: Session, paths: Sequence[str]) -> list[str]:
    """Lift the deletion mark of these files' contents (files, or folders walked) and queue
    them for the daemon: the user deliberately wants them backed up again. Returns the
    files whose mark was lifted."""
    cache = StatCache(session.db)
    marks = DeletionMarks(session)
    found, _ = scan_split(paths)
    lifted: dict[str, str] = {}
    for item in found:
        digest = content_hash(cache, item.path, item.stat)
        if digest is not None and marks.is_deleted(digest):
            lifted[item.path] = digest
    marks.unmark(lifted.values())
    DaemonQueue(session.db).put(lifted)
    return sorted(lifted)
