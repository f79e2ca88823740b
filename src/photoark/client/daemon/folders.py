"""The watched folders as the daemon holds them: which are watched, which cannot be (and
why), and which are to be reconciled (scanned whole) next.

- **Watch list changes** (``photoark watch add|rm``) are taken while running, every
  ``watches_every`` seconds (:meth:`WatchedFolders.refresh`), with ``watch.settle_seconds``.
- **A folder that cannot be watched** is a problem published on the status board: a missing
  folder (an unplugged disk) is retried every ``watches_every`` seconds; when inotify refuses
  (its watch limit reached) the folder is rescanned every ``unwatched_every`` seconds instead.
- **Reconciling**: at start, and for a watch added while running, the whole folder is backed
  up, finding what changed while the daemon was down (the stat cache makes unchanged files
  cost a dict lookup). Every watch is reconciled again every ``reconcile_every`` seconds, a
  safety net for events the kernel dropped (:class:`ReconcilePlan`).
- **Deleted files** need nothing: the backup keeps them; the stat cache forgets them
  (:meth:`WatchedFolders.gone`), so ``status`` counts the files that are there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.timing import DaemonTiming
from photoark.client.daemon.watcher import FolderWatcher, Settler
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.statcache import StatCache
from photoark.client.state.watches import Watch, WatchList

__all__ = ["ReconcilePlan", "WatchedFolders"]


class ReconcilePlan:
    """The watches waiting to be reconciled, in order, and when each is due again."""

    def __init__(self) -> None:
        self._waiting: list[Watch] = []
        self._due_at: dict[str, float] = {}

    def add(self, watch: Watch) -> None:
        if watch not in self._waiting:
            self._waiting.append(watch)

    def add_if_due(self, watch: Watch, now: float) -> None:
        due = self._due_at.get(watch.path)
        if due is not None and now >= due:
            self.add(watch)

    def drop(self, path: str) -> None:
        """The watch was removed: no reconcile of it is waiting any more."""
        self._waiting = [w for w in self._waiting if w.path != path]

    def due_again(self, path: str, at: float) -> None:
        self._due_at[path] = at

    def first(self) -> Watch | None:
        return self._waiting[0] if self._waiting else None

    def finished(self, watch: Watch, again_at: float) -> None:
        """``watch`` was reconciled to the end; the next time is ``again_at`` (if it has one)."""
        self._waiting.remove(watch)
        if watch.path in self._due_at:
            self._due_at[watch.path] = again_at


class WatchedFolders:
    """The loop's view of the watch list; :attr:`watcher` feeds the settler from inotify."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        settler: Settler,
        timing: DaemonTiming,
        clock: Callable[[], float],
        status: StatusPublisher,
    ) -> None:
        self._watches = WatchList(session.db)
        self._stat_cache = StatCache(session.db)
        self._settings = settings
        self._settler = settler
        self._timing = timing
        self._clock = clock
        self._status = status
        self.watcher = FolderWatcher(settler, self.gone)
        self._plan = ReconcilePlan()
        self._known: dict[str, Watch] = {}
        self._watching: set[str] = set()
        self._problems: dict[str, str] = {}  # watched folder → why it is not watched
        self._retry_at: dict[str, float] = {}

    def gone(self, path: str) -> None:
        """A file or folder was deleted or moved away: the backup keeps it; the stat cache
        forgets it (so ``status`` counts what is there)."""
        with contextlib.suppress(Exception):  # bookkeeping only, on watchdog's thread
            self._stat_cache.forget_under(path)

    def refresh(self) -> None:
        """Take watches added or removed (``photoark watch add|rm``) while running, start the
        ones that could not be watched before (a folder that was missing), and schedule a
        reconcile of every watch now and then: a safety net for events the kernel dropped,
        and the only way to see changes where inotify cannot watch (its limit reached)."""
        now = self._clock()
        current = {w.path: w for w in self._watches.list()}
        for path in set(self._known) - set(current):
            self.watcher.unwatch(path)
            self._watching.discard(path)
            self._problems.pop(path, None)
            self._plan.drop(path)
        for path, watch in current.items():
            if self._known.get(path) not in (None, watch):  # changed: take it anew
                self.watcher.unwatch(path)
                self._watching.discard(path)
            if path not in self._watching and now >= self._retry_at.get(path, 0.0):
                self._start_watching(watch, now)
            self._plan.add_if_due(watch, now)
        self._known = current
        self._settler.settle = float(self._settings.get("watch.settle_seconds"))
        self._status.publish(problems=dict(self._problems))

    def _start_watching(self, watch: Watch, now: float) -> None:
        if not os.path.isdir(watch.path):
            self._problems[watch.path] = "folder missing (unplugged disk?); waiting for it"
            self._retry_at[watch.path] = now + self._timing.watches_every
            return
        try:
            self.watcher.watch(watch.path)
        except OSError as err:
            # typically ENOSPC: the inotify watch limit (fs.inotify.max_user_watches)
            self._problems[watch.path] = (
                f"cannot watch for changes ({err.strerror or err}); rescanning every "
                f"{self._timing.unwatched_every:.0f} s instead. Raise fs.inotify.max_user_watches"
                " (see `photoark doctor`)"
            )
            self._retry_at[watch.path] = now + self._timing.unwatched_every
            self._plan.due_again(watch.path, now + self._timing.unwatched_every)
        else:
            self._watching.add(watch.path)
            self._problems.pop(watch.path, None)
            self._plan.due_again(watch.path, now + self._timing.reconcile_every)
        self._plan.add(watch)

    def covering(self, path: str) -> Watch | None:
        """The watch ``path`` is under (``None``: its watch was removed)."""
        return next((w for w in self._known.values() if w.covers(path)), None)

    def next_to_reconcile(self) -> Watch | None:
        return self._plan.first()

    def reconciled(self, watch: Watch) -> None:
        """``watch`` was reconciled to the end: due again after the period that fits it."""
        every = (
            self._timing.reconcile_every
            if watch.path in self._watching
            else self._timing.unwatched_every
        )
        self._plan.finished(watch, self._clock() + every)
