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

A full disk is :class:`~photoark.server.errors.StorageFull` (507 ``storage_full``), like a
blob store's: a ``handle_error`` hook on the engine turns SQLite's ``SQLITE_FULL`` ("database or
disk is full", told by the driver's error code) and PostgreSQL's SQLSTATE ``53100``
(``disk_full``) into it, wherever the statement ran (a query, ``BEGIN``, ``COMMIT``), raised
``from`` the driver's error. The transaction is rolled back as for any error, and the
connection goes back to the pool usable: the next request works once there is room again.

The SQLite file is the server's alone: created 0600 in a 0700 directory (its ``-wal`` and
``-shm`` files take the database file's mode), and an existing one is made 0600 at start.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from photoark.server.errors import StorageFull

__all__ = ["create_db_engine", "is_disk_full", "normalize_url", "read_transaction"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "photoark_read_only"  # execution option: the transaction only reads
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full


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
        engine = _sqlite_engine(sa_url.database)
    elif sa_url.get_backend_name() == "postgresql":
        engine = create_engine(sa_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    else:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    event.listen(engine, "handle_error", _disk_full)
    return engine


def is_disk_full(err: BaseException | None) -> bool:
    """Whether a driver error says the database's disk is full (by code, never by message)."""
    if isinstance(err, sqlite3.Error):
        code = getattr(err, "sqlite_errorcode", None)
        return code is not None and code & 0xFF == sqlite3.SQLITE_FULL  # extended codes too
    return getattr(err, "sqlstate", None) == _PG_DISK_FULL  # psycopg's errors carry it


def _disk_full(context: ExceptionContext) -> None:
    """``handle_error`` hook: a full disk becomes :class:`StorageFull` (other errors pass)."""
    if is_disk_full(context.original_exception):
        raise StorageFull("the server's database storage is full") from context.original_exception


def _sqlite_engine(database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise ValueError("SQLite needs a file path (WAL mode does not work in memory)")
    _private_database_file(Path(database))
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


def _private_database_file(path: Path) -> None:
    """Create the database file 0600 (SQLite gives its ``-wal``/``-shm`` files the same mode)
    before SQLite opens it, in a directory made 0700 if new; an existing file, or a journal
    left by an earlier version, is made 0600 (unless another user owns it: its owner decides)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # an empty file is an empty database
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(path.parent / name, 0o600)
