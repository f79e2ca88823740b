"""Watching folders for new and changed files, and taking a file only once it holds still.

- :func:`wanted` says whether a path can be a photo or video worth looking at: hidden files
  and folders, temporary files and partial downloads (``.part``, ``.crdownload``, ``~``…) and
  sidecars (``.xmp``, ``.aae``) are passed over. Whether a file is media is decided later, by its
  content (non-media files are cached as such and never re-read).
- :class:`Settler` keeps the paths that were touched and hands one out once its size and mtime
  have not moved for ``settle`` seconds, so a half-written file is never uploaded.
- :class:`FolderWatcher` feeds a settler from watchdog's inotify events; a folder that appears
  (created or moved in) is walked, since its files raise no event of their own.

Deletions delete nothing from the backup; the daemon only drops them from its stat cache, so
``status`` counts the files that are there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from photoark.client.pipeline.livephotos import pair_key
from photoark.client.pipeline.scanner import SIDECAR_EXTENSIONS

__all__ = ["FolderWatcher", "Settler", "wait_until_settled", "wanted"]

log = logging.getLogger(__name__)

_TEMPORARY_SUFFIXES = (
    ".tmp",
    ".temp",
    ".part",
    ".partial",
    ".crdownload",
    ".download",
    ".opdownload",
    ".!qb",
    ".swp",
    "~",
)


def wanted(path: str, root: str) -> bool:
    """Whether ``path`` (under ``root``) may be a photo or video to back up."""
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        return False
    parts = rel.split(os.sep)
    if any(p.startswith(".") for p in parts if p != "."):
        return False  # hidden file, or in a hidden folder (.thumbnails, .Trash-1000, .git)
    name = parts[-1].lower()
    if name.endswith(_TEMPORARY_SUFFIXES) or name.startswith("~$"):
        return False
    return os.path.splitext(name)[1] not in SIDECAR_EXTENSIONS


class Settler:
    """Paths waiting to hold still. Thread-safe: watchdog's thread touches, the daemon takes."""

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle = settle
        self._clock = clock
        self._lock = threading.Lock()
        # path → (size, mtime_ns) last seen, when it was last seen to change
        self._waiting: dict[str, tuple[tuple[int, int] | None, float]] = {}
        self.wake = threading.Event()  # set when something was touched

    def touch(self, path: str) -> None:
        with self._lock:
            self._waiting[path] = (None, self._clock())
        self.wake.set()

    def touch_all(self, paths: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for path in paths:
                self._waiting[path] = (None, now)
        self.wake.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def take_settled(self) -> list[str]:
        """Paths whose size and mtime have not changed for ``settle`` seconds (vanished paths
        are dropped: nothing to back up). A path seen for the first time counts from its mtime,
        so a file written long ago is not held back, and one still being written is. A Live
        Photo's two files arrive one after the other (a phone sync): a settled file waits for
        a sibling (same folder and basename) still settling, so both reach the same batch."""
        now = self._clock()
        with self._lock:
            before = dict(self._waiting)
        waiting: dict[str, tuple[tuple[int, int], float]] = {}
        for path, (seen, since) in before.items():
            try:
                st = os.stat(path)
            except OSError:
                continue  # gone
            current = (st.st_size, st.st_mtime_ns)
            if current != seen:
                since = now if seen is not None else min(now, _age_start(st, now))
            waiting[path] = (current, since)
        ready = {p for p, (_, since) in waiting.items() if now - since >= self.settle}
        unsettled = {pair_key(p) for p in waiting if p not in ready}
        ready = {p for p in ready if pair_key(p) not in unsettled}
        with self._lock:
            for path, old in before.items():
                if self._waiting.get(path) != old:
                    ready.discard(path)  # touched again meanwhile: its new wait stands
                elif path in waiting and path not in ready:
                    self._waiting[path] = waiting[path]
                else:
                    del self._waiting[path]
        return sorted(ready)

    def next_due_in(self) -> float:
        """Seconds until the earliest waiting path may be settled (``settle`` if unknown)."""
        now = self._clock()
        with self._lock:
            if not self._waiting:
                return self.settle
            earliest = min(since for _, since in self._waiting.values())
        return max(0.05, min(self.settle, earliest + self.settle - now))


def wait_until_settled(
    settler: Settler, paths: Iterable[str], timeout: float
) -> tuple[list[str], list[str]]:
    """Block until each of ``paths`` has held still for the settler's ``settle`` seconds (or is
    gone), for at most ``timeout`` seconds: (the settled paths, those still changing). For a
    one-shot run that found files changing under it (a camera writing to its card while
    plugged in); the daemon's loop uses the settler without blocking. Gone paths are in
    neither list."""
    paths = list(paths)
    settler.touch_all(paths)
    settled: list[str] = []
    deadline = time.monotonic() + timeout
    while len(settler):
        settled.extend(settler.take_settled())
        if not len(settler) or time.monotonic() >= deadline:
            break
        time.sleep(min(settler.next_due_in(), max(0.0, deadline - time.monotonic())))
    done = set(settled)
    return sorted(done), sorted(p for p in paths if p not in done and os.path.exists(p))


def _age_start(st: os.stat_result, now_monotonic: float) -> float:
    """The monotonic time matching the file's mtime (how long it has been still already)."""
    still_for = max(0.0, time.time() - st.st_mtime_ns / 1e9)
    return now_monotonic - still_for


class _Handler(FileSystemEventHandler):
    def __init__(self, root: str, settler: Settler, on_gone: Callable[[str], None]) -> None:
        self._root = root
        self._settler = settler
        self._on_gone = on_gone

    def _take(self, path: str | bytes) -> None:
        text = os.fsdecode(path)
        if wanted(text, self._root):
            self._settler.touch(text)

    def _walk(self, folder: str | bytes) -> None:
        top = os.fsdecode(folder)
        if not wanted(os.path.join(top, "x"), self._root):
            return
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            found.extend(
                p
                for p in (os.path.join(dirpath, name) for name in filenames)
                if wanted(p, self._root)
            )
        self._settler.touch_all(found)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileCreatedEvent | FileModifiedEvent | FileClosedEvent):
            self._take(event.src_path)
        elif isinstance(event, FileMovedEvent):
            self._on_gone(os.fsdecode(event.src_path))
            self._take(event.dest_path)
        elif isinstance(event, DirCreatedEvent):
            self._walk(event.src_path)
        elif isinstance(event, DirMovedEvent):
            self._on_gone(os.fsdecode(event.src_path))
            self._walk(event.dest_path)
        elif isinstance(event, FileDeletedEvent | DirDeletedEvent):
            self._on_gone(os.fsdecode(event.src_path))


class FolderWatcher:
    """Recursive watches on some folders, feeding one :class:`Settler`."""

    def __init__(self, settler: Settler, on_gone: Callable[[str], None] = lambda p: None) -> None:
        """``on_gone(path)``: a file or folder was deleted or moved away (told from watchdog's
        thread; the backup keeps it, this is only for bookkeeping)."""
        self._settler = settler
        self._on_gone = on_gone
        self._observer: BaseObserver = Observer()
        self._watches: dict[str, object] = {}
        self._started = False

    def watch(self, root: str) -> None:
        if root in self._watches:
            return
        handler = _Handler(root, self._settler, self._on_gone)
        self._watches[root] = self._observer.schedule(handler, root, recursive=True)
        if not self._started:
            self._observer.start()
            self._started = True

    def unwatch(self, root: str) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None:
            self._observer.unschedule(watch)  # type: ignore[arg-type]

    @property
    def roots(self) -> set[str]:
        return set(self._watches)

    def stop(self) -> None:
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=5)
