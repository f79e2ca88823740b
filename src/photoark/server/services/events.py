"""Change push: who watches which user's change counter, and one poller that wakes them.

``GET /events`` streams a user's change counter (``users.version``) to their devices. Several
server replicas may share one PostgreSQL, so a change committed through ANOTHER process must
wake this one's streams: the source of truth is the database, read by ONE background poller per
:class:`ChangeFeed` (one per app, so per server process). Each tick is one query for every
watched user at once (``SELECT id, version FROM users WHERE id IN (...)``), run off the event
loop, every ``poll_interval`` seconds while anyone watches and not at all otherwise; a stream
costs no query after its first. :meth:`ChangeFeed.poke` asks for a tick now (the app calls it
after each successful write request, so this process's own commits arrive in milliseconds;
other replicas' within a tick). Pokes in a burst are folded: at most one tick per
``min_gap`` seconds.

Contract:

- :meth:`ChangeFeed.current` reads one user's counter (a stream's first event).
- :meth:`ChangeFeed.watch` registers a watcher from a version the caller already knows; its
  :meth:`Watch.changes` yields each newer counter value (several moves between two ticks come
  as one value, the newest), ``None`` after ``heartbeat`` seconds without one, and ends when the
  feed closes. Leaving the ``with`` block (normally, by an error, or by cancellation when the
  client went away) unregisters it; a user nobody watches any more is dropped from the query.
- A watcher may name the token its stream was opened with (``token_id``); given a
  ``live_tokens`` reader, each tick also asks which of the watched tokens are still unrevoked
  (one more primary-key query, in the same trip to a thread) and ends the streams of the others:
  a logout or a revoked session, through any replica, ends its streams within a tick (at once
  through this process: the write pokes the feed). A token that merely expires by idleness
  does not end an open stream (the stream is its use); its next request is refused.
- :meth:`ChangeFeed.notify` is :meth:`poke` for one user: a tick now only if that user is
  watched here (``None``: whoever is watched). On PostgreSQL, :func:`start_change_listener`
  runs a :class:`~photoark.server.store.notify.PgChangeListener` that calls it for every commit
  that moved a counter or revoked a token, through any replica: other replicas' changes then
  arrive in milliseconds too, and the poll is only a safety net (a lost notification
  connection; it calls ``notify(None)`` once it listens again). SQLite keeps the poll alone.
- :meth:`ChangeFeed.start` / :meth:`ChangeFeed.stop` run and end the poller (the app's lifespan);
  :meth:`ChangeFeed.close` ends every stream at once (server shutdown: uvicorn drains open
  requests BEFORE the lifespan ends, so the runner calls it when shutdown begins). A feed never
  started never wakes anyone: fine for tests that drive the app without its lifespan.
- Everything but :meth:`poke` and :meth:`notify` (thread-safe) runs on the event loop of
  :meth:`start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping

from sqlalchemy.engine import URL

from photoark.server.store.notify import PgChangeListener, is_postgres_url

__all__ = ["ChangeFeed", "Watch", "start_change_listener"]

log = logging.getLogger(__name__)

ReadVersions = Callable[[Collection[int]], Mapping[int, int]]
LiveTokens = Callable[[Collection[int]], Collection[int]]


class Watch:
    """One stream's view of a user's counter; made by :meth:`ChangeFeed.watch`."""

    def __init__(
        self, feed: ChangeFeed, topic: _Topic, version: int, token_id: int | None = None
    ) -> None:
        self._feed = feed
        self._topic = topic
        self._wake = asyncio.Event()
        self.version = version  # the newest value handed out (or known by the caller)
        self.token_id = token_id
        self.revoked = False  # its token was revoked: the stream ends

    async def changes(self) -> AsyncIterator[int | None]:
        """Each newer counter value; ``None`` after ``heartbeat`` s of silence; ends on close
        or when the watch's token is revoked."""
        while not self._feed.closed and not self.revoked:
            if self._topic.version > self.version:
                self.version = self._topic.version
                yield self.version
                continue
            # no await since the check: a wake-up set after it cannot be lost
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._feed.heartbeat)
            except TimeoutError:
                yield None

    def _notify(self) -> None:
        self._wake.set()


class _Topic:
    """The watchers of one user and the newest counter value the feed knows for them."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.watches: set[Watch] = set()

    def wake(self) -> None:
        for watch in self.watches:
            watch._notify()


class ChangeFeed:
    """Watchers per user and the poller that wakes them (see the module doc)."""

    def __init__(
        self,
        read_versions: ReadVersions,
        poll_interval: float = 0.25,
        heartbeat: float = 15.0,
        min_gap: float = 0.02,
        live_tokens: LiveTokens | None = None,
    ) -> None:
        self._read = read_versions
        self._live_tokens = live_tokens
        self.poll_interval = poll_interval
        self.heartbeat = heartbeat
        self._min_gap = min_gap
        self._topics: dict[int, _Topic] = {}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def watched(self) -> frozenset[int]:
        """The users with at least one open watcher (what each tick asks for)."""
        return frozenset(self._topics)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the poller on the current event loop until :meth:`stop`."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._poke = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._run(), name="photoark-change-poller")

    def close(self) -> None:
        """End every open stream now (and any opened later). Idempotent."""
        self._closed = True
        for topic in self._topics.values():
            topic.wake()

    async def stop(self) -> None:
        """:meth:`close`, then stop the poller. Idempotent."""
        self.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = None

    def poke(self) -> None:
        """Ask for a tick now (after a commit), from any thread; a no-op while no one watches
        or the poller does not run."""
        loop, poke = self._loop, self._poke
        if loop is None or poke is None or not self._topics:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(poke.set)

    def notify(self, user_id: int | None) -> None:
        """A commit moved ``user_id``'s counter or revoked one of their tokens (``None``: maybe
        anyone's): :meth:`poke` if that user is watched in this process, else nothing. From any
        thread."""
        if user_id is None or user_id in self._topics:
            self.poke()

    # -- streams ------------------------------------------------------------------------------

    async def current(self, user_id: int) -> int:
        """The user's counter as committed now (one query, off the event loop)."""
        versions = await asyncio.to_thread(self._read, [user_id])
        return versions.get(user_id, 0)

    @contextlib.contextmanager
    def watch(self, user_id: int, version: int, token_id: int | None = None) -> Iterator[Watch]:
        """Watch ``user_id`` from ``version`` (read by the caller, e.g. with :meth:`current`):
        a change committed after that read is never missed. With ``token_id``, the watch ends
        once that token is revoked."""
        topic = self._topics.get(user_id)
        if topic is None:
            topic = self._topics[user_id] = _Topic(version)
        else:
            topic.version = max(topic.version, version)
        watch = Watch(self, topic, version, token_id)
        topic.watches.add(watch)
        try:
            yield watch
        finally:
            topic.watches.discard(watch)
            if not topic.watches and self._topics.get(user_id) is topic:
                del self._topics[user_id]

    # -- the poller ---------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._poke is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.poll_interval)
            self._poke.clear()  # a poke from here on asks for the NEXT tick: none is lost
            if self._topics:
                await self._tick()
                await asyncio.sleep(self._min_gap)

    async def _tick(self) -> None:
        """One query for every watched user (and one for the watched tokens); wake the watchers
        of those whose counter moved, end those whose token was revoked."""
        users = list(self._topics)
        tokens = {
            watch.token_id
            for topic in self._topics.values()
            for watch in topic.watches
            if watch.token_id is not None
        }
        live_tokens = self._live_tokens if tokens else None

        def read() -> tuple[Mapping[int, int], Collection[int] | None]:
            versions = self._read(users)
            return versions, None if live_tokens is None else set(live_tokens(tokens))

        try:
            versions, live = await asyncio.to_thread(read)
        except Exception:
            if not self._failing:  # once per outage, not four times a second
                log.exception("reading users' change counters failed; retrying every tick")
            self._failing = True
            return
        if self._failing:
            log.info("reading users' change counters works again")
            self._failing = False
        for user_id, version in versions.items():
            topic = self._topics.get(user_id)
            if topic is not None and version > topic.version:
                topic.version = version
                topic.wake()
        if live is not None:
            for topic in self._topics.values():
                for watch in topic.watches:
                    # a watch opened during the query is checked at the next tick
                    if watch.token_id in tokens and watch.token_id not in live:
                        watch.revoked = True
                        watch._notify()


@contextlib.asynccontextmanager
async def start_change_listener(
    database_url: str | URL, feed: ChangeFeed
) -> AsyncIterator[PgChangeListener | None]:
    """On PostgreSQL, listen for other replicas' commits and :meth:`ChangeFeed.notify` the feed
    until the block ends (the listener connects in the background; the poll covers the wait).
    Elsewhere (SQLite) nothing runs and the block gets ``None``."""
    if not is_postgres_url(database_url):
        yield None
        return
    listener = PgChangeListener(database_url, feed.notify)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()
