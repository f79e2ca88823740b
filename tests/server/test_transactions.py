"""Transactions: reads never take SQLite's write lock; a request's token check is one query;
revocation is seen at once, also by another server process sharing the database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from photoark.server.store import create_db_engine, migrate
from photoark.server.store.db import read_transaction

from .conftest import Account, Api, AppFactory


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path}/tx.db")
    migrate(engine)
    yield engine
    engine.dispose()


def statements(engine: Engine) -> list[str]:
    """Every SQL statement the engine sends from now on."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


def test_sqlite_reads_begin_deferred_and_writes_immediate(sqlite_engine: Engine) -> None:
    seen = statements(sqlite_engine)
    with read_transaction(sqlite_engine) as conn:
        conn.execute(text("SELECT 1"))
    with sqlite_engine.begin() as conn:
        conn.execute(text("SELECT 2"))
    with read_transaction(sqlite_engine) as conn:  # a pooled connection keeps no flag
        conn.execute(text("SELECT 3"))
    with sqlite_engine.begin() as conn:
        conn.execute(text("SELECT 4"))
    assert seen == [
        "BEGIN", "SELECT 1", "BEGIN IMMEDIATE", "SELECT 2",
        "BEGIN", "SELECT 3", "BEGIN IMMEDIATE", "SELECT 4",
    ]  # fmt: skip


def test_sqlite_read_transaction_ignores_a_held_write_lock(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    writer = sqlite3.connect(tmp_path / "tx.db", isolation_level=None, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with read_transaction(sqlite_engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
    finally:
        writer.rollback()
        writer.close()


@pytest.mark.local_blobs  # SQLite's locking
def test_read_requests_do_not_wait_for_a_sqlite_writer(api: Api, alice: Account) -> None:
    url = api.app.state.settings.db_url
    assert url.startswith("sqlite:///")
    album = api.album(alice)
    record, _ = api.new_file(alice, album, size=1000, thumb_size=0)
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    paths = ["/collections", "/usage", "/diff", f"/files/{record['id']}"]
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(
                lambda: [api.http.get(p, headers=alice.headers).status_code for p in paths]
            )
            assert future.result(timeout=10) == [200] * len(paths)
    finally:
        writer.rollback()
        writer.close()


def test_authentication_is_one_query(api: Api, alice: Account) -> None:
    seen = statements(api.app.state.engine)
    assert api.http.get("/collections", headers=alice.headers).status_code == 200
    queries = [s for s in seen if not s.startswith("BEGIN")]
    assert len(queries) == 2, queries  # the token, then the collections
    assert "FROM tokens" in queries[0] and "users" not in queries[0]
    assert "BEGIN IMMEDIATE" not in seen


def test_revocation_is_seen_at_once_by_another_server(make_api: AppFactory) -> None:
    """Two apps on one database stand for two server processes: no token is cached."""
    first, second = make_api(), make_api()
    alice = first.signup()
    assert second.http.get("/collections", headers=alice.headers).status_code == 200
    assert first.http.post("/auth/logout", headers=alice.headers).status_code == 204
    assert second.http.get("/collections", headers=alice.headers).status_code == 401
    assert first.http.get("/collections", headers=alice.headers).status_code == 401
