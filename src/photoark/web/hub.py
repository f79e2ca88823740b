"""Changes pushed to the open pages, as server-sent events (``GET /api/events``).

Publishers are threads (the server's change stream, the daemon's status board, the jobs);
subscribers are the event-stream responses on the app's event loop. Each subscriber has a
bounded queue: a page that stops reading loses old events, never the app's memory.

Two sources feed it besides the jobs:

- :class:`LibraryFollower`: the server's own change stream (``GET /events``); a new version
  is pulled into the mirror, then ``library`` is published (the timeline refreshes).
- :class:`BoardWatcher`: the daemon writes its status board to the state DB; inotify on the
  DB's files (watchdog) wakes the watcher, which publishes ``status`` when the board changed.
  No page polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.library import sync
from photoark.client.session import Session
from photoark.client.state.daemonstate import StatusBoard
from photoark.client.status import daemon_running

__all__ = ["BoardWatcher", "Hub", "LibraryFollower"]

QUEUE_DEPTH: Final = 64
HEARTBEAT_SECONDS: Final = 15.0


class Hub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[asyncio.Queue[str]] = set()
        self._lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> None:
        """Send ``kind`` (with ``data``) to every open page; callable from any thread."""
        message = f"event: {kind}\ndata: {json.dumps(data or {})}\n\n"
        with self._lock:
            loop, queues = self._loop, list(self._queues)
        if loop is None or loop.is_closed():
            return
        for q in queues:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(_offer, q, message)

    async def stream(self) -> AsyncIterator[str]:
        """One page's events, with a comment line as heartbeat."""
        q: asyncio.Queue[str] = asyncio.Queue(QUEUE_DEPTH)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._queues.add(q)
        try:
            yield ": connected\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(q.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": heartbeat\n\n"
        finally:
            with self._lock:
                self._queues.discard(q)


def _offer(q: asyncio.Queue[str], message: str) -> None:
    if q.full():
        q.get_nowait()
    q.put_nowait(message)


class LibraryFollower:
    """Keeps the mirror in step with the server: pulls on every change it announces."""

    def __init__(self, session: Session, hub: Hub, write_lock: threading.Lock) -> None:
        self._session = session
        self._hub = hub
        self._write = write_lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                for version in self._session.api.events():
                    if self._stop.is_set():
                        return
                    if version > self._session.mirror.sync_version():
                        with self._write:
                            sync.pull(self._session)
                        self._hub.publish("library", {"version": version})
                    delay = 1.0
            except ServerUnreachable:
                self._hub.publish("server", {"reachable": False})
            except ClientError as err:  # a revoked token: say so, try again later
                self._hub.publish("server", {"reachable": True, "error": str(err)})
            except Exception:
                if self._stop.is_set():  # the session closed under us at the app's stop
                    return
                raise
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)


class BoardWatcher(FileSystemEventHandler):
    """Publishes ``status`` (the daemon's board) whenever the state DB changes and the board
    with it; a burst of writes is folded into one look after ``settle`` seconds."""

    def __init__(
        self,
        state_db: Path,
        board: StatusBoard,
        publish: Callable[[dict[str, Any]], None],
        settle: float = 0.2,
    ) -> None:
        self._db_name = state_db.name
        self._folder = state_db.parent
        self._board = board
        self._publish = publish
        self._settle = settle
        self._last: dict[str, Any] | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._observer = Observer()

    def start(self) -> None:
        self._observer.schedule(self, str(self._folder), recursive=False)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def on_any_event(self, event: FileSystemEvent) -> None:
        name = Path(str(event.src_path)).name
        if not name.startswith(self._db_name):
            return
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self._settle, self._look)
                self._timer.daemon = True
                self._timer.start()

    def _look(self) -> None:
        with self._lock:
            self._timer = None
        try:
            board = self._board.read() or {}
        except sqlite3.Error:  # a busy or closing DB: the next write brings another look
            return
        board = {**board, "running": daemon_running(board or None)}
        if board != self._last:
            self._last = board
            self._publish(board)
