"""What ``photoark status`` reports: per watched folder, items seen, backed up, queued,
failed (with reasons) and deleted from the backup (so not uploaded again); the daemon's state,
why it is paused (offline: the error and its hint), the current batch's progress, what it has
settling and queued, and the last sync. Read from the state DB, so it works from another
process while the daemon runs.

Counts are of items, as a backup counts them: a Live Photo's still and video are one item
(:mod:`photoark.client.pipeline.report`), so ``seen`` and ``backed_up`` agree once everything
is backed up. Each watch's JSON has ``seen``, ``backed_up``, ``queued`` (paths),
``failed``/``failures`` (paths, with reasons), ``deleted_from_backup`` (and up to 100
``deleted_from_backup_paths``), and ``live_photos``: how many of the backed-up items are Live
Photos, so the media files on disk are ``seen + live_photos``. The daemon's ``current`` batch
counts items too (``files``, ``files_done``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from photoark.client.state.account import AccountStore
from photoark.client.state.daemonstate import (
    DaemonQueue,
    Failures,
    StatusBoard,
    media_hashes_under,
    seen_under,
)
from photoark.client.state.db import StateDB
from photoark.client.state.embeddings import EmbeddingCache
from photoark.client.state.mirror import Mirror
from photoark.client.state.thumbqueue import ThumbnailQueue
from photoark.client.state.watches import WatchList
from photoark.crypto.marks import deletion_mark, marks_key
from photoark.ml.identity import model_name

__all__ = ["daemon_running", "status_report"]


def daemon_running(board: dict[str, Any] | None) -> bool:
    if board is None or board.get("state") == "stopped":
        return False
    pid = int(board.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status_report(db: StateDB) -> dict[str, Any]:
    board = StatusBoard(db).read()
    running = daemon_running(board)
    queue, failures = DaemonQueue(db), Failures(db)
    problems = (board or {}).get("problems", {}) if running else {}
    account = AccountStore(db).load()
    marks = Mirror(db).marks()
    key = marks_key(account.master_key) if account is not None and marks else None
    folders = []
    for watch in WatchList(db).list():
        failed = failures.under(watch.path)
        counts = seen_under(db, watch.path)
        deleted = (
            [p for p, h in media_hashes_under(db, watch.path) if deletion_mark(key, h) in marks]
            if key is not None
            else []
        )
        folders.append(
            {
                **watch.as_json(),
                "exists": os.path.isdir(watch.path),
                "problem": problems.get(watch.path),
                "seen": counts.seen,
                "backed_up": counts.backed_up,
                "live_photos": counts.live_photos,
                "queued": queue.count(watch.path),
                "failed": len(failed),
                "failures": failed,
                "deleted_from_backup": len(deleted),
                "deleted_from_backup_paths": deleted[:100],
            }
        )
    board = board or {}
    offline = running and board.get("paused") == "offline"
    return {
        "daemon": {
            "running": running,
            "state": board.get("state", "never started") if running else "not running",
            "pid": board.get("pid") if running else None,
            "paused": board.get("paused") if running else None,
            # paused offline: the error (the server or its object store unreachable), its hint
            "offline_reason": board.get("offline_reason") if offline else None,
            "offline_hint": board.get("offline_hint") if offline else None,
            "current": board.get("current") if running else None,
            # what the daemon had waiting when it last chose what to do (see its status board)
            "settling": board.get("settling") if running else None,
            "queued": board.get("queued") if running else None,
            "updated_at": board.get("updated_at"),
        },
        "thumbnails_pending": ThumbnailQueue(db).count(),
        "embeddings": EmbeddingCache(db).counts(model_name()),
        "last_sync": board.get("last_sync"),
        "last_backup": board.get("last_backup"),
        "watches": folders,
        "now": time.time(),
    }
