"""Engine creation for the two supported databases.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` (every commit is
fsynced, so an acknowledged commit survives power loss, which ``NORMAL`` does not promise in WAL
mode), foreign keys on and a busy timeout. A write transaction (``engine.begin()``) starts with
``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of failing on a lock
upgrade; a read-only one (:func:`read_transaction`) starts with a deferred ``BEGIN``: it takes
no write lock, reads one WAL snapshot, and never waits for writers nor makes them wait. PostgreSQL
goes through psycopg 3: a ``postgresql://`` URL is rewritten to ``postgresql+psycopg://``; there
both kinds are ordinary ``READ COMMITTED`` transactions, as before.

Rule: only statements that do not write may run in a :func:`read_transaction` (on SQLite a write
there would upgrade the lock late and may fail with ``database is locked``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["create_db_engine", "normalize_url", "read_transaction"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "photoark_read_only"  # execution option: the transaction only reads


@contextlib.contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for reads only: on SQLite a deferred ``BEGIN`` (no write lock)."""
    with engine.connect() as conn:
        conn.execution_options(**{_READ_ONLY: True})
        with conn.begin():
            yield conn


def normalize_url(url: str) -> str:
    """Pin PostgreSQL URLs to the psycopg 3 driver; leave others as they are."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql[+psycopg]://...``)."""
    sa_url = make_url(normalize_url(url))
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite_engine(sa_url.database)
    if sa_url.get_backend_name() == "postgresql":
        return create_engine(sa_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def _sqlite_engine(database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise ValueError("SQLite needs a file path (WAL mode does not work in memory)")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{database}",
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
