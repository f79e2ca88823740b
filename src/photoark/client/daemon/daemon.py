"""The backup daemon: watch folders, back up what settles, follow the server's change stream.

One loop thread orchestrates; watchdog's thread feeds a :class:`~.watcher.Settler`; a policy
thread reads the battery/network probe and pauses; an events thread follows ``GET /events``
and pulls the diff when the change counter moves.

- **At start**, and for a watch added while running, the whole watched folder is reconciled
  with the backup pipeline: files added or changed while the daemon was down are found by the
  stat cache (unchanged files cost one dict lookup, no read).
- **Settled paths** go to the durable queue (:class:`~.state.daemonstate.DaemonQueue`), and
  leave it only once the pipeline has dealt with them, so a SIGKILL at any moment loses
  nothing; the pipeline's own state means nothing finished is read or sent again.
- **Pausing** (metered network, low battery, server unreachable): the running batch is
  cancelled between files and between parts of a large file, and everything resumes later.
- **Deleted local files** need nothing: the backup keeps them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photoark.client.api import ApiClient
from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.daemon.policy import Probe, UploadPolicy, pause_reason
from photoark.client.daemon.watcher import FolderWatcher, Settler, wanted
from photoark.client.errors import ClientError, ModelUnavailable, ServerUnreachable
from photoark.client.library import sync
from photoark.client.lock import exclusive
from photoark.client.pipeline.backup import BackupOptions, BackupProgress, backup_found
from photoark.client.pipeline.livephotos import pair_key
from photoark.client.pipeline.scanner import Found, PassedOver, scan, scan_split
from photoark.client.pipeline.thumbnailer import make_thumbnails
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.daemonstate import DaemonQueue, Failures, StatusBoard
from photoark.client.state.statcache import StatCache
from photoark.client.state.thumbqueue import ThumbnailQueue
from photoark.client.state.watches import Watch, WatchList

__all__ = ["Daemon", "DaemonTiming"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaemonTiming:
    policy_every: float = 5.0  # seconds between battery/network probes
    watches_every: float = 2.0  # seconds between re-reading the watch list and settings
    batch_files: int = 2000  # settled paths taken per batch (bounds memory)
    reconcile_every: float = 3600.0  # full rescan of a watched folder, a safety net
    unwatched_every: float = 60.0  # rescan of a folder inotify cannot watch
    backoff_first: float = 1.0
    backoff_max: float = 60.0


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


class _Progress(BackupProgress):
    """Remembers which paths a batch dealt with and shows the batch's progress on the board."""

    def __init__(self, daemon: Daemon, album: str) -> None:
        self._daemon = daemon
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
        self._daemon._publish(current=dict(self.current))

    def file_done(self, path: str, size: int, outcome: str) -> None:
        with self._lock:
            self.dealt_with.add(path)
            self.current["files_done"] += 1
        self._daemon._publish(current=dict(self.current), throttle=True)

    def bytes_done(self, n: int) -> None:
        with self._lock:
            self.current["bytes_done"] += n
        self._daemon._publish(current=dict(self.current), throttle=True)


class Daemon:
    def __init__(
        self,
        session: Session,
        probe: Probe,
        timing: DaemonTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.probe = probe
        self.timing = timing or DaemonTiming()
        self._clock = clock
        self.settings = Settings(session.db)
        self.watches = WatchList(session.db)
        self.queue = DaemonQueue(session.db)
        self.thumbnails = ThumbnailQueue(session.db)
        self.inhibitor = SleepInhibitor()
        self.failures = Failures(session.db)
        self.board = StatusBoard(session.db)
        self.settler = Settler(float(self.settings.get("watch.settle_seconds")), clock)
        self.stat_cache = StatCache(session.db)
        self.watcher = FolderWatcher(self.settler, self._gone)
        self.stop_event = threading.Event()
        self.cancel = threading.Event()  # set while paused: the running batch stops early
        self._pull_lock = threading.Lock()
        self._board_lock = threading.Lock()
        self._status: dict[str, Any] = {"pid": os.getpid(), "state": "starting"}
        self._last_publish = 0.0
        self._policy_reason: str | None = None
        self._offline_until = 0.0
        self._backoff = self.timing.backoff_first
        self._to_reconcile: list[Watch] = []
        self._known_watches: dict[str, Watch] = {}
        self._watching: set[str] = set()
        self._problems: dict[str, str] = {}  # watched folder → why it is not watched
        self._retry_at: dict[str, float] = {}
        self._next_reconcile: dict[str, float] = {}
        self._embeddings_due = True  # photos may lack embeddings: checked when idle

    # -- the board ---------------------------------------------------------------------------

    def _publish(self, throttle: bool = False, **changes: Any) -> None:
        """Update the status board; unchanged facts are rewritten only every 30 s (so
        ``updated_at`` shows the daemon is alive), progress at most twice a second."""
        with self._board_lock:
            before = dict(self._status)
            self._status.update(changes)
            now = time.monotonic()
            since = now - self._last_publish
            if (throttle and since < 0.5) or (self._status == before and since < 30):
                return
            self._last_publish = now
            status = dict(self._status)
        with contextlib.suppress(Exception):  # the board is informative; never stop for it
            self.board.write(status)

    # -- pausing -----------------------------------------------------------------------------

    def _policy(self) -> UploadPolicy:
        return UploadPolicy(
            on_metered=bool(self.settings.get("upload.on_metered")),
            min_battery=int(self.settings.get("upload.min_battery")),
        )

    def check_policy(self) -> str | None:
        """Probe the conditions; pause (cancel the running batch) or resume accordingly."""
        try:
            reason = pause_reason(self.probe.read(), self._policy())
        except Exception:  # a broken probe must not stop backups: treat as no reason
            log.exception("the battery/network probe failed")
            reason = None
        self._policy_reason = reason
        self._sync_cancel()
        return reason

    def pause_reason(self) -> str | None:
        if self._policy_reason is not None:
            return self._policy_reason
        if self._clock() < self._offline_until:
            return "offline"
        return None

    def _sync_cancel(self) -> None:
        if self._policy_reason is not None:
            self.cancel.set()
        else:
            self.cancel.clear()
        reason = self.pause_reason()
        self._publish(paused=reason, state="paused" if reason else self._status.get("state"))

    def _went_offline(self, why: str) -> None:
        self._offline_until = self._clock() + self._backoff
        log.warning("server unreachable (%s); retrying in %.0f s", why, self._backoff)
        self._backoff = min(self.timing.backoff_max, self._backoff * 2)
        self._publish(paused="offline", state="paused", offline_reason=why)

    def _online(self) -> None:
        self._backoff = self.timing.backoff_first
        self._offline_until = 0.0

    def _policy_loop(self) -> None:
        while not self.stop_event.wait(self.timing.policy_every):
            self.check_policy()

    # -- the change stream -------------------------------------------------------------------

    def pull(self) -> None:
        with self._pull_lock:
            sync.pull(self.session)
        self._embeddings_due = True
        self._publish(last_sync=time.time())

    def _events_loop(self) -> None:
        account = self.session.account
        delay = self.timing.backoff_first
        while not self.stop_event.is_set():
            try:
                with ApiClient(account.server, account.token) as api:
                    for version in api.events():
                        delay = self.timing.backoff_first
                        if self.stop_event.is_set():
                            return
                        if version > self.session.mirror.sync_version():
                            self.pull()
            except ClientError as err:
                log.info("change stream interrupted: %s", err)
            except Exception:
                log.exception("change stream failed")
            if self.stop_event.wait(delay):
                return
            delay = min(self.timing.backoff_max, delay * 2)

    # -- watches -----------------------------------------------------------------------------

    def _gone(self, path: str) -> None:
        """A file or folder was deleted or moved away: the backup keeps it; the stat cache
        forgets it (so ``status`` counts what is there)."""
        with contextlib.suppress(Exception):  # bookkeeping only, on watchdog's thread
            self.stat_cache.forget_under(path)

    def refresh_watches(self) -> None:
        """Take watches added or removed (``photoark watch add|rm``) while running, start the
        ones that could not be watched before (a folder that was missing), and schedule a
        reconcile of every watch now and then: a safety net for events the kernel dropped,
        and the only way to see changes where inotify cannot watch (its limit reached)."""
        now = self._clock()
        current = {w.path: w for w in self.watches.list()}
        for path in set(self._known_watches) - set(current):
            self.watcher.unwatch(path)
            self._watching.discard(path)
            self._problems.pop(path, None)
            self._to_reconcile = [w for w in self._to_reconcile if w.path != path]
        for path, watch in current.items():
            if self._known_watches.get(path) not in (None, watch):  # changed: take it anew
                self.watcher.unwatch(path)
                self._watching.discard(path)
            if path not in self._watching and now >= self._retry_at.get(path, 0.0):
                self._start_watching(watch, now)
            due = self._next_reconcile.get(path)
            if due is not None and now >= due and watch not in self._to_reconcile:
                self._to_reconcile.append(watch)
        self._known_watches = current
        self.settler.settle = float(self.settings.get("watch.settle_seconds"))
        self._publish(problems=dict(self._problems))

    def _start_watching(self, watch: Watch, now: float) -> None:
        if not os.path.isdir(watch.path):
            self._problems[watch.path] = "folder missing (unplugged disk?); waiting for it"
            self._retry_at[watch.path] = now + self.timing.watches_every
            return
        try:
            self.watcher.watch(watch.path)
        except OSError as err:
            # typically ENOSPC: the inotify watch limit (fs.inotify.max_user_watches)
            self._problems[watch.path] = (
                f"cannot watch for changes ({err.strerror or err}); rescanning every "
                f"{self.timing.unwatched_every:.0f} s instead. Raise fs.inotify.max_user_watches"
                " (see `photoark doctor`)"
            )
            self._retry_at[watch.path] = now + self.timing.unwatched_every
            self._next_reconcile[watch.path] = now + self.timing.unwatched_every
        else:
            self._watching.add(watch.path)
            self._problems.pop(watch.path, None)
            self._next_reconcile[watch.path] = now + self.timing.reconcile_every
        if watch not in self._to_reconcile:
            self._to_reconcile.append(watch)

    # -- backing up --------------------------------------------------------------------------

    def _options(self, watch: Watch) -> BackupOptions:
        self.inhibitor.enabled = bool(self.settings.get("upload.inhibit_sleep"))
        return BackupOptions(
            match=watch.match,
            workers=int(self.settings.get("upload.workers")),
            cancel=self.cancel,
            inhibitor=self.inhibitor,
        )

    def _back_up(
        self, watch: Watch, found: list[Found], passed: list[PassedOver], roots: list[str]
    ) -> tuple[set[str], bool]:
        """Back up one watch's files, album by album. Returns the paths dealt with and whether
        the run went to the end (not paused or cut off)."""
        self.failures.record([(p.path, p.reason) for p in passed if p.is_error], [])
        dealt_with: set[str] = {p.path for p in passed}
        by_album: dict[str, list[Found]] = defaultdict(list)
        for item in found:
            by_album[watch.album_for(item.path)].append(item)
        for album, items in sorted(by_album.items()):
            if self.cancel.is_set():
                return dealt_with, False
            progress = _Progress(self, album)
            self._publish(state="backing_up")
            report = backup_found(
                self.session,
                items,
                [],
                roots,
                album,
                self._options(watch),
                progress,
                pull=False,
                thumbnails=False,  # made when no original is left to back up
            )
            finished = not report.aborted and not self.cancel.is_set()
            # a run that went to the end dealt with every file (a Live Photo's video is
            # reported under its still's path); a cut-off one with those it reported
            dealt = {i.path for i in items} if finished else set(progress.dealt_with)
            failed = [(f["path"], f["error"]) for f in report.failed]
            if report.aborted:  # what failed may have failed for the outage: try it again
                dealt -= {p for p, _ in failed}
                failed = []
            self.failures.record(failed, dealt - {p for p, _ in failed})
            dealt_with |= dealt
            self._publish(current=None, last_backup=time.time())
            if report.aborted:
                self._went_offline(report.aborted)
                return dealt_with, False
            if not finished:
                return dealt_with, False
        self._online()
        return dealt_with, True

    def reconcile(self, watch: Watch) -> bool:
        """Back up everything under the watch that is not backed up yet; True if it finished."""
        self._publish(state="reconciling")
        found: list[Found] = []
        passed: list[PassedOver] = []
        for item in scan([watch.path]):
            if isinstance(item, PassedOver):
                if item.is_error:
                    passed.append(item)
            elif wanted(item.path, watch.path):
                found.append(item)
        # files deleted while the daemon was down: the stat cache forgets them
        self.stat_cache.forget_under(watch.path, keep={os.fsencode(f.path) for f in found})
        _, complete = self._back_up(watch, found, passed, [watch.path])
        return complete

    def run_queue(self) -> None:
        """Back up one batch of settled paths from the durable queue."""
        paths = self.queue.peek(self.timing.batch_files)
        by_watch: dict[str, list[str]] = defaultdict(list)
        orphans: list[str] = []
        for path in paths:
            watch = next((w for w in self._known_watches.values() if w.covers(path)), None)
            if watch is None:
                orphans.append(path)  # its watch was removed: stop backing it up
            else:
                by_watch[watch.path].append(path)
        self.queue.done(orphans)
        for root, members in by_watch.items():
            watch = self._known_watches[root]
            present = [p for p in members if os.path.lexists(p)]
            self.queue.done(set(members) - set(present))  # deleted: the backup keeps it
            found, passed = scan_split(present + _live_siblings(present, root))
            roots = sorted({os.path.dirname(p) for p in present})
            dealt, _ = self._back_up(watch, found, passed, roots)
            self.queue.done(dealt)
            if self.cancel.is_set() or self.pause_reason():
                return

    def make_embeddings(self) -> bool:
        """Embeddings of new photos for ``photoark similar``, once originals and thumbnails are
        done, on one core; stopped between batches as soon as other work arrives. True when
        every photo has one (or a recorded reason why not)."""
        from photoark.client.library.embedder import embed_library  # numpy and the model: when used

        self._publish(state="embeddings")

        def interrupted() -> bool:
            return (
                self.cancel.is_set()
                or len(self.settler) > 0
                or self.queue.count() > 0
                or self.thumbnails.count() > 0
            )

        try:
            embed_library(self.session, threads=1, cancel=interrupted)
        except ModelUnavailable as err:  # not the server's fault: say so once, stop trying
            log.error("similar-photo embeddings are off until restart: %s", err)
            return True
        return not interrupted()

    def make_thumbnails(self) -> None:
        """Thumbnails of what was backed up, once no original waits: they stop (between
        pages, the rest staying queued) as soon as a file is touched or uploads pause."""
        self._publish(state="thumbnails")

        def interrupted() -> bool:
            return self.cancel.is_set() or len(self.settler) > 0 or self.queue.count() > 0

        workers = max(1, min(int(self.settings.get("upload.workers")), os.cpu_count() or 1))
        make_thumbnails(self.session, workers, cancel=interrupted)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT through the CLI)."""
        with exclusive(self.session.home, "daemon"):
            self._run()

    def stop(self) -> None:
        self.stop_event.set()
        self.cancel.set()
        self.settler.wake.set()

    def _run(self) -> None:
        threads = [
            threading.Thread(target=self._policy_loop, name="policy", daemon=True),
            threading.Thread(target=self._events_loop, name="events", daemon=True),
        ]
        self.check_policy()
        try:
            self.pull()
        except ServerUnreachable as err:
            self._went_offline(str(err))
        for t in threads:
            t.start()
        last_refresh = -1e9
        try:
            while not self.stop_event.is_set():
                now = self._clock()
                if now - last_refresh >= self.timing.watches_every:
                    self.refresh_watches()
                    last_refresh = now
                settled = self.settler.take_settled()
                if settled:
                    self.queue.put(settled)
                reason = self.pause_reason()
                if reason is not None:
                    self._publish(state="paused", paused=reason)
                    self.settler.wake.wait(min(1.0, self.timing.policy_every))
                    self.settler.wake.clear()
                    continue
                self._publish(paused=None)
                if self._to_reconcile:
                    watch = self._to_reconcile[0]
                    if self._guard(self.reconcile, watch):
                        self._to_reconcile.remove(watch)
                        if watch.path in self._next_reconcile:
                            every = (
                                self.timing.reconcile_every
                                if watch.path in self._watching
                                else self.timing.unwatched_every
                            )
                            self._next_reconcile[watch.path] = self._clock() + every
                    continue
                if self.queue.count():
                    self._guard(self.run_queue)
                    continue
                if not len(self.settler) and self.thumbnails.count():
                    self._guard(self.make_thumbnails)
                    self._embeddings_due = True
                    continue
                if self._embeddings_due and not len(self.settler):
                    wanted = bool(self.settings.get("similar.embed_in_daemon"))
                    self._embeddings_due = wanted and not self._guard(self.make_embeddings)
                    continue
                self._publish(state="idle", queued=0)
                self.settler.wake.wait(self.settler.next_due_in() if len(self.settler) else 1.0)
                self.settler.wake.clear()
        finally:
            self.stop_event.set()
            self.watcher.stop()
            self._publish(state="stopped", current=None)

    def _guard(self, work: Callable[..., bool | None], *args: Any) -> bool:
        """Run a unit of backup work; True if it finished. An unreachable server (or another
        failure of the run as a whole) means back off and retry, not die."""
        try:
            return work(*args) is not False
        except ServerUnreachable as err:
            self._went_offline(str(err))
        except ClientError as err:
            log.error("backup step failed: %s", err)
            self._went_offline(str(err))
        return False
