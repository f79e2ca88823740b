"""The daemon's durable state: the queue of settled paths still to back up, the paths that
failed (with why), and a status board that ``photoark status`` reads from another process.

The queue is what makes a SIGKILL harmless: a path leaves it only once the backup pipeline
has dealt with it (uploaded, skipped, added, ignored or failed), and the pipeline's own state
(stat cache, upload queue) means nothing finished is read or sent again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from photoark.client.state.db import StateDB, subtree, subtree_bounds

__all__ = [
    "DaemonQueue",
    "Failures",
    "FolderCounts",
    "StatusBoard",
    "backed_up_among",
    "media_hashes_under",
    "seen_under",
]


_UNDER = subtree()


class DaemonQueue:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def put(self, paths: Iterable[str]) -> None:
        now = time.time()
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO daemon_queue (path, queued_at) VALUES (?, ?)",
                [(os.fsencode(p), now) for p in paths],
            )

    def peek(self, limit: int) -> list[str]:
        rows = self._db.query(
            "SELECT path FROM daemon_queue ORDER BY queued_at, path LIMIT ?", (limit,)
        )
        return [os.fsdecode(bytes(r["path"])) for r in rows]

    def paths(self) -> set[str]:
        return {
            os.fsdecode(bytes(r["path"])) for r in self._db.query("SELECT path FROM daemon_queue")
        }

    def done(self, paths: Iterable[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM daemon_queue WHERE path = ?", [(os.fsencode(p),) for p in paths]
            )

    def count(self, root: str | None = None) -> int:
        if root is None:
            row = self._db.query_one("SELECT count(*) AS n FROM daemon_queue")
        else:
            row = self._db.query_one(
                f"SELECT count(*) AS n FROM daemon_queue WHERE {_UNDER}", subtree_bounds(root)
            )
        return 0 if row is None else int(row["n"])


class Failures:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, failed: Iterable[tuple[str, str]], succeeded: Iterable[str]) -> None:
        now = time.time()
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM daemon_failures WHERE path = ?",
                [(os.fsencode(p),) for p in succeeded],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO daemon_failures (path, error, at) VALUES (?, ?, ?)",
                [(os.fsencode(p), error, now) for p, error in failed],
            )

    def under(self, root: str) -> list[dict[str, str]]:
        rows = self._db.query(
            f"SELECT path, error FROM daemon_failures WHERE {_UNDER} ORDER BY path",
            subtree_bounds(root),
        )
        return [{"path": os.fsdecode(bytes(r["path"])), "error": str(r["error"])} for r in rows]


class StatusBoard:
    """A small JSON document the daemon rewrites as things happen (``meta`` key); its facts
    are listed in :mod:`photoark.client.daemon.board`."""

    KEY = "daemon_status"

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def write(self, status: dict[str, Any]) -> None:
        self._db.set_meta(self.KEY, json.dumps({**status, "updated_at": time.time()}))

    def read(self) -> dict[str, Any] | None:
        text = self._db.get_meta(self.KEY)
        return None if text is None else dict(json.loads(text))


class FolderCounts(NamedTuple):
    """What ``photoark status`` counts under a watched folder, in items as a backup counts
    them: a Live Photo's still and video are one item."""

    seen: int  # media items the stat cache knows under the folder
    backed_up: int  # of those, backed up (a Live Photo: under its still's path)
    live_photos: int  # of the backed up, Live Photos (so files on disk = seen + live_photos)


def seen_under(db: StateDB, root: str) -> FolderCounts:
    """The :class:`FolderCounts` of the media files under ``root`` the stat cache knows. The
    daemon drops the stat cache entries of deleted files, so these are files still present.

    A Live Photo is backed up as one library item of type ``live`` whose hash is
    ``"<stillHash>:<videoHash>"``, recorded under its still's path only; a file with no
    backed-up path of its own whose content is the video of such an item backed up under
    ``root`` is that item's other half, so it is not counted as an item of its own."""
    row = db.query_one(
        "WITH live AS (SELECT DISTINCT substr(f.hash, instr(f.hash, ':') + 1) AS video"
        " FROM backed_up lb JOIN files f ON f.id = lb.file_id"
        f" WHERE f.type = 'live' AND {subtree('lb.path')})"
        " SELECT count(*) AS files, count(b.path) AS backed_up,"
        " coalesce(sum(b.path IS NULL AND s.hash IN (SELECT video FROM live)), 0) AS halves"
        " FROM stat_cache s LEFT JOIN (SELECT DISTINCT path FROM backed_up) b ON b.path = s.path"
        f" WHERE {subtree('s.path')} AND s.format != ''",
        subtree_bounds(root) + subtree_bounds(root),
    )
    if row is None:
        return FolderCounts(0, 0, 0)
    halves = int(row["halves"])
    return FolderCounts(int(row["files"]) - halves, int(row["backed_up"]), halves)


def media_hashes_under(db: StateDB, root: str) -> list[tuple[str, str]]:
    """(path, content hash) of the media files under ``root`` the stat cache knows."""
    rows = db.query(
        f"SELECT path, hash FROM stat_cache WHERE {_UNDER} AND format != ''", subtree_bounds(root)
    )
    return [(os.fsdecode(bytes(r["path"])), str(r["hash"])) for r in rows]


def backed_up_among(db: StateDB, paths: Iterable[str], chunk: int = 500) -> set[str]:
    """Those of ``paths`` already backed up as some file (in any album): a new upload of one
    of them is a new version of it."""
    raw = [os.fsencode(p) for p in paths]
    out: set[str] = set()
    for start in range(0, len(raw), chunk):
        part = raw[start : start + chunk]
        rows = db.query(
            f"SELECT DISTINCT path FROM backed_up WHERE path IN ({', '.join('?' * len(part))})",
            tuple(part),
        )
        out.update(os.fsdecode(bytes(r["path"])) for r in rows)
    return out
