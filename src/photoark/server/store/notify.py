"""PostgreSQL change notifications: one ``LISTEN`` connection per process.

Migration 11's triggers ``pg_notify`` the channel ``photoark_changes`` with a user id when that
user's change counter moves or one of their tokens is revoked or deleted, at commit (never
after a rollback; repeats within one transaction folded into one). :class:`PgChangeListener`
holds one ``psycopg.AsyncConnection`` (autocommit, outside the engine's pool) that listens on
the channel, and calls ``on_user(user_id)`` for each notification, on the event loop of
:meth:`~PgChangeListener.start`.

Contract:

- ``on_user(None)`` means "anything may have changed": it is called after every successful
  (re)connection, because notifications sent while no connection listened are lost. A
  payload that is not a user id is treated the same way.
- A lost connection (the server restarted, ``pg_terminate_backend``, a network failure) is
  reconnected with a backoff from 0.1 s doubling up to 5 s; the first failure of an outage is
  logged as a warning, the recovery at info. An idle connection is checked with ``SELECT 1``
  every ``check_seconds`` (and TCP keepalives), so a silently dead one is found and replaced.
- ``on_user`` must be quick and must not block (it runs on the loop); its exceptions are
  logged and otherwise ignored.
- :meth:`~PgChangeListener.stop` ends the task and closes the connection. Idempotent.

Nothing here is needed on SQLite: one process owns the database there, and the feed's own
pokes after its writes cover it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

from photoark.server.store.db import normalize_url
from photoark.server.store.migrations import CHANGES_CHANNEL

__all__ = ["PgChangeListener", "is_postgres_url", "libpq_conninfo"]

log = logging.getLogger(__name__)

OnUser = Callable[[int | None], None]

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
CHECK_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5


def is_postgres_url(url: str | URL) -> bool:
    """Whether ``url`` names a PostgreSQL database (any driver spelling)."""
    sa_url = make_url(normalize_url(url) if isinstance(url, str) else url)
    return sa_url.get_backend_name() == "postgresql"


def libpq_conninfo(url: str | URL) -> str:
    """A libpq URI for the database of a SQLAlchemy URL (the driver name removed)."""
    sa_url = make_url(normalize_url(url) if isinstance(url, str) else url)
    return sa_url.set(drivername="postgresql").render_as_string(hide_password=False)


class PgChangeListener:
    """One ``LISTEN photoark_changes`` connection, kept up, feeding ``on_user`` (module doc)."""

    def __init__(
        self,
        url: str | URL,
        on_user: OnUser,
        *,
        channel: str = CHANGES_CHANNEL,
        check_seconds: float = CHECK_SECONDS,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self._conninfo = libpq_conninfo(url)
        self._on_user = on_user
        self._channel = channel
        self._check_seconds = check_seconds
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None
        self.backend_pid: int | None = None  # the listening server process (tests end it)
        self.connections = 0  # successful connections so far (1 + reconnections)

    @property
    def listening(self) -> bool:
        return self._listening is not None and self._listening.is_set()

    async def start(self) -> None:
        """Run the listener as a task on the current loop (it connects in the background)."""
        if self._task is not None:
            return
        self._listening = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="photoark-change-listener")

    async def wait_listening(self, timeout: float) -> bool:
        """Wait until a connection listens (the first one, or again after a loss); ``False``
        after ``timeout`` seconds."""
        if self._listening is None:
            return False
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """End the task and close the connection. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._listening is not None:
            self._listening.clear()
        self.backend_pid = None

    # -- the task -----------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._backoff_first
        failing = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                    application_name="photoark-listen",
                ) as conn:
                    await conn.execute(f'LISTEN "{self._channel}"')  # type: ignore[arg-type]
                    self.backend_pid = conn.info.backend_pid
                    self.connections += 1
                    if failing:
                        log.info("listening for database change notifications again")
                    failing = False
                    delay = self._backoff_first
                    assert self._listening is not None
                    self._listening.set()
                    self._call(None)  # whatever was sent while no one listened
                    await self._listen(conn)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if not failing:
                    log.warning(
                        "database change notifications lost (%s); reconnecting, "
                        "streams fall back to polling meanwhile",
                        err,
                    )
                failing = True
            assert self._listening is not None
            self._listening.clear()
            self.backend_pid = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Deliver notifications; every ``check_seconds`` without one, prove the connection
        alive with ``SELECT 1`` (raises when it is not)."""
        while True:
            async for note in conn.notifies(timeout=self._check_seconds):
                self._call(_user_id(note.payload))
            await asyncio.wait_for(conn.execute("SELECT 1"), CONNECT_TIMEOUT_SECONDS)

    def _call(self, user_id: int | None) -> None:
        try:
            self._on_user(user_id)
        except Exception:
            log.exception("change notification handler failed")


def _user_id(payload: str) -> int | None:
    try:
        return int(payload)
    except ValueError:
        return None
