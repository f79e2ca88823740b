"""Backing up what the daemon found: a batch of settled paths from the durable queue, or a
whole watched folder (a reconcile), album by album through the backup pipeline.

- **The queue** (:class:`~photoark.client.state.daemonstate.DaemonQueue`): a path leaves it
  only once the pipeline has dealt with it, so a SIGKILL at any moment loses nothing; the
  pipeline's own state means nothing finished is read or sent again. A path whose watch was
  removed, or that was deleted, just leaves it (the backup keeps what it has).
- **Live Photos**: a batch takes in the other half of a pair settled earlier, so the pair
  forms.
- **Pausing**: a run cut off by ``cancel`` (metered network, low battery) reports the files
  it dealt with; the rest stay queued. A run that lost the server pauses the daemon
  (offline, with backoff) and keeps what failed queued.
- **Failures** (a file that cannot be read, an empty file…) are recorded with their reason
  for ``photoark status``, and cleared once the file goes through.
- **The log**: each item's outcome is one line (:class:`_OutcomeLog`): uploaded, a new version
  uploaded (its path was backed up before), already backed up, added by reference, passed
  over, deleted from the backup, at INFO; a failure with its reason at WARNING. Files the fast
  pass finds unchanged are one line per batch, not one each.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.folders import WatchedFolders
from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.daemon.pausing import Pausing
from photoark.client.daemon.watcher import wanted
from photoark.client.pipeline.backup import BackupOptions, BackupProgress, backup_found
from photoark.client.pipeline.decide import MatchProfile
from photoark.client.pipeline.livephotos import pair_key
from photoark.client.pipeline.outcome import Outcome
from photoark.client.pipeline.scanner import Found, PassedOver, scan, scan_split
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.daemonstate import DaemonQueue, Failures, backed_up_among
from photoark.client.state.statcache import StatCache
from photoark.client.state.watches import Watch

__all__ = ["BackupRunner", "batch_progress"]

log = logging.getLogger(__name__)


def _live_siblings(paths: list[str], root: str) -> list[str]:
    """Files beside ``paths`` with the same basename and another extension, not in ``paths``:
    a Live Photo's other half, settled earlier, must be in the batch for the pair to form
    (if it is already backed up alone, the pair replaces it as a new version)."""
    keys = {pair_key(p) for p in paths}
    taken = set(paths)
    extra: list[str] = []
    for folder in sorted({os.path.dirname(p) for p in paths}):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if path not in taken and pair_key(path) in keys and wanted(path, root):
                extra.append(path)
    return extra


class _OutcomeLog:
    """One log line per item of a batch into ``album``; ``backed_up_before``: the batch's paths
    that were already backed up as some file (uploading one again is a new version)."""

    def __init__(self, album: str, backed_up_before: set[str]) -> None:
        self._album = album
        self._before = backed_up_before

    def failed(self, path: str, error: str) -> None:
        log.warning("failed: %s: %s (tried again on the next change or restart)", path, error)

    def done(self, path: str, outcome: str) -> None:
        album = self._album
        if outcome == Outcome.UPLOADED and path in self._before:
            log.info(
                "uploaded a new version of %s to %r (the previous one is retired)", path, album
            )
        elif outcome == Outcome.UPLOADED:
            log.info("uploaded %s to %r", path, album)
        elif outcome == Outcome.SKIPPED:
            log.info("already backed up in %r: %s", album, path)
        elif outcome == Outcome.ADDED:
            log.info("already in the library, added to %r: %s", album, path)
        elif outcome == Outcome.IGNORED:
            log.info("passed over (not a photo or video): %s", path)
        elif outcome == Outcome.DELETED_FROM_BACKUP:
            log.info("not uploaded (you deleted it from the backup): %s", path)
        # failed: logged with its reason by failed()

    def unchanged(self, n: int) -> None:
        if n == 1:
            log.info("1 item unchanged since it was backed up to %r", self._album)
        elif n:
            log.info("%d items unchanged since they were backed up to %r", n, self._album)


class _Progress(BackupProgress):
    """Remembers which paths a batch dealt with, shows the batch's progress on the board and
    logs each item's outcome (``outcomes``)."""

    def __init__(
        self, status: StatusPublisher, album: str, outcomes: _OutcomeLog | None = None
    ) -> None:
        self._status = status
        self._log = outcomes or _OutcomeLog(album, set())
        self._lock = threading.Lock()
        self.dealt_with: set[str] = set()
        self.current: dict[str, Any] = {
            "album": album,
            "files": 0,
            "files_done": 0,
            "bytes": 0,
            "bytes_done": 0,
        }

    def planned(self, files: int, total_bytes: int) -> None:
        self.current.update(files=files, bytes=total_bytes)
        self._status.publish(current=dict(self.current))

    def file_failed(self, path: str, error: str) -> None:
        self._log.failed(path, error)

    def file_done(self, path: str, size: int, outcome: str) -> None:
        with self._lock:
            self.dealt_with.add(path)
            self.current["files_done"] += 1
        self._log.done(path, outcome)
        self._status.publish(current=dict(self.current), throttle=True)

    def files_done(self, files: Sequence[Found], outcome: Outcome) -> None:
        """The fast pass's unchanged files: counted one by one, logged in one line."""
        with self._lock:
            self.dealt_with.update(item.path for item in files)
            self.current["files_done"] += len(files)
        self._log.unchanged(len(files))
        self.bytes_done(sum(item.stat.st_size for item in files))

    def bytes_done(self, n: int) -> None:
        with self._lock:
            self.current["bytes_done"] += n
        self._status.publish(current=dict(self.current), throttle=True)


def batch_progress(status: StatusPublisher, album: str) -> BackupProgress:
    """The progress of one daemon run into ``album``: shown on the status board as the current
    batch, each item's outcome logged (a device import uses it too)."""
    return _Progress(status, album)


class BackupRunner:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        folders: WatchedFolders,
        queue: DaemonQueue,
        pausing: Pausing,
        cancel: threading.Event,
        status: StatusPublisher,
        batch_files: int,
    ) -> None:
        self._session = session
        self._settings = settings
        self._folders = folders
        self._queue = queue
        self._pausing = pausing
        self._cancel = cancel
        self._status = status
        self._batch_files = batch_files
        self._failures = Failures(session.db)
        self._stat_cache = StatCache(session.db)
        self._inhibitor = SleepInhibitor()

    def reconcile(self, watch: Watch) -> bool:
        """Back up everything under the watch that is not backed up yet; True if it finished."""
        self._status.publish(state="reconciling")
        found: list[Found] = []
        passed: list[PassedOver] = []
        for item in scan([watch.path]):
            if isinstance(item, PassedOver):
                if item.is_error:
                    passed.append(item)
            elif wanted(item.path, watch.path):
                found.append(item)
        # files deleted while the daemon was down: the stat cache forgets them
        self._stat_cache.forget_under(watch.path, keep={os.fsencode(f.path) for f in found})
        _, complete = self._back_up(watch, found, passed, [watch.path])
        return complete

    def run_queue(self) -> None:
        """Back up one batch of settled paths from the durable queue."""
        paths = self._queue.peek(self._batch_files)
        watches: dict[str, Watch] = {}
        by_watch: dict[str, list[str]] = defaultdict(list)
        orphans: list[str] = []
        for path in paths:
            watch = self._folders.covering(path)
            if watch is None:
                orphans.append(path)  # its watch was removed: stop backing it up
            else:
                watches[watch.path] = watch
                by_watch[watch.path].append(path)
        self._queue.done(orphans)
        for root, members in by_watch.items():
            present = [p for p in members if os.path.lexists(p)]
            self._queue.done(set(members) - set(present))  # deleted: the backup keeps it
            found, passed = scan_split(present + _live_siblings(present, root))
            roots = sorted({os.path.dirname(p) for p in present})
            dealt, _ = self._back_up(watches[root], found, passed, roots)
            self._queue.done(dealt)
            if self._cancel.is_set() or self._pausing.reason():
                return

    def _options(self, watch: Watch) -> BackupOptions:
        return self.options(watch.match)

    def options(self, match: MatchProfile = "name+hash") -> BackupOptions:
        """The daemon's options for a run (workers and sleep inhibition from the settings,
        cancelled when the daemon pauses); a device import uses them too."""
        self._inhibitor.enabled = bool(self._settings.get("upload.inhibit_sleep"))
        return BackupOptions(
            match=match,
            workers=int(self._settings.get("upload.workers")),
            cancel=self._cancel,
            inhibitor=self._inhibitor,
        )

    def _back_up(
        self, watch: Watch, found: list[Found], passed: list[PassedOver], roots: list[str]
    ) -> tuple[set[str], bool]:
        """Back up one watch's files, album by album. Returns the paths dealt with and whether
        the run went to the end (not paused or cut off)."""
        self._failures.record([(p.path, p.reason) for p in passed if p.is_error], [])
        dealt_with: set[str] = {p.path for p in passed}
        by_album: dict[str, list[Found]] = defaultdict(list)
        for item in found:
            by_album[watch.album_for(item.path)].append(item)
        for album, items in sorted(by_album.items()):
            if self._cancel.is_set():
                return dealt_with, False
            outcomes = _OutcomeLog(
                album, backed_up_among(self._session.db, (i.path for i in items))
            )
            progress = _Progress(self._status, album, outcomes)
            self._status.publish(state="backing_up")
            report = backup_found(
                self._session,
                items,
                [],
                roots,
                album,
                self._options(watch),
                progress,
                pull=False,
                thumbnails=False,  # made when no original is left to back up
                bases=() if watch.per_folder else (watch.path,),  # album-per-folder: names
            )
            finished = not report.aborted and not self._cancel.is_set()
            # a run that went to the end dealt with every file (a Live Photo's video is
            # reported under its still's path); a cut-off one with those it reported
            dealt = {i.path for i in items} if finished else set(progress.dealt_with)
            failed = [(f["path"], f["error"]) for f in report.failed]
            if report.aborted:  # what failed may have failed for the outage: try it again
                dealt -= {p for p, _ in failed}
                failed = []
            self._failures.record(failed, dealt - {p for p, _ in failed})
            dealt_with |= dealt
            self._status.publish(current=None, last_backup=time.time())
            if report.aborted:
                self._pausing.went_offline(report.aborted, report.aborted_hint)
                return dealt_with, False
            if not finished:
                return dealt_with, False
        self._pausing.online()
        return dealt_with, True
