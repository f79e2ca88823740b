"""Replication's queue (``object_copies``, :class:`CopyStore`) and migrations 10 and 11, on both
databases: enqueue inside the caller's transaction and idempotent; concurrent claims never
share a row (PostgreSQL: ``SKIP LOCKED`` claims do not wait for each other); an expired lease
is reclaimed; failures back off, and only the holder's failure counts; done, drop, backfill and
lag. Migrations: a fresh database and one upgraded from version 9 end with the same shape."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, insert, inspect, select, text

from photoark.server.store import create_db_engine, migrate
from photoark.server.store.copies import (
    COPYING,
    DONE,
    CopyStore,
    backoff_seconds,
)
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import (
    files,
    object_copies,
    schema_version,
    upload_parts,
    uploads,
    users,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def keys(n: int, prefix: str = "a") -> list[str]:
    return [f"{prefix}{i:031x}" for i in range(n)]


def states(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(object_copies.c.object_key, object_copies.c.store, object_copies.c.state)
        )
        return {(row.object_key, row.store): row.state for row in rows}


# -- enqueue ------------------------------------------------------------------------------------


def test_enqueue_is_part_of_the_callers_transaction_and_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        assert CopyStore.enqueue(conn, {"k1" * 16: 10, "k2" * 16: None}, ["dr", "eu"]) == 4
    with pytest.raises(RuntimeError), engine.begin() as conn:
        CopyStore.enqueue(conn, ["k3" * 16], ["dr"])
        raise RuntimeError("the commit failed")
    assert set(states(engine)) == {(k * 16, s) for k in ("k1", "k2") for s in ("dr", "eu")}
    with engine.begin() as conn:  # again, and one new store: only the new rows
        assert CopyStore.enqueue(conn, ["k1" * 16, "k2" * 16], ["dr", "us"]) == 2
        assert CopyStore.enqueue(conn, [], ["dr"]) == 0
        assert CopyStore.enqueue(conn, ["k4" * 16], []) == 0
    assert len(states(engine)) == 6
    with engine.connect() as conn:
        size = conn.execute(
            select(object_copies.c.size).where(
                object_copies.c.object_key == "k1" * 16, object_copies.c.store == "dr"
            )
        ).scalar_one()
    assert size == 10


def test_enqueue_many_rows_in_chunks(engine: Engine) -> None:
    with engine.begin() as conn:
        assert CopyStore.enqueue(conn, keys(1200), ["dr"]) == 1200
    assert CopyStore(engine).lag("dr").pending == 1200


# -- claims -------------------------------------------------------------------------------------


def test_claim_lease_done_and_lag(engine: Engine) -> None:
    clock = Clock()
    copies = CopyStore(engine, clock)
    with engine.begin() as conn:
        CopyStore.enqueue(conn, {k: 100 for k in keys(5)}, ["dr"], now=clock.now)
    clock.now += 30
    lag = copies.lag("dr")
    assert (lag.pending, lag.failing, lag.done) == (5, 0, 0)
    assert lag.oldest_pending_seconds == pytest.approx(30)
    assert copies.lag("other").pending == 0
    assert copies.lag("other").oldest_pending_seconds == 0

    claimed = copies.claim("dr", "w1", 3, lease_seconds=60)
    assert [row.object_key for row in claimed] == keys(5)[:3]
    assert all(row.attempts == 1 and row.size == 100 for row in claimed)
    assert all(row.lease_until == clock.now + 60 and row.worker == "w1" for row in claimed)
    rest = copies.claim("dr", "w2", 10)
    assert [row.object_key for row in rest] == keys(5)[3:]
    assert copies.claim("dr", "w3", 10) == []  # all held
    assert copies.claim("other", "w3", 10) == []

    assert copies.done(claimed[0].id, size=100)
    assert copies.done(claimed[0].id)  # idempotent
    lag = copies.lag("dr")
    assert (lag.pending, lag.done) == (4, 1)
    assert states(engine)[(keys(5)[0], "dr")] == DONE
    assert copies.claim("dr", "w3", 10) == []  # a done row is never claimed again


def test_an_expired_lease_is_reclaimed(engine: Engine) -> None:
    clock = Clock()
    copies = CopyStore(engine, clock)
    with engine.begin() as conn:
        CopyStore.enqueue(conn, keys(2), ["dr"], now=clock.now)
    first = copies.claim("dr", "dead-worker", 2, lease_seconds=300)
    clock.now += 299
    assert copies.claim("dr", "w2", 2) == []
    assert copies.renew([first[0].id], "dead-worker", lease_seconds=300) == {first[0].id}
    clock.now += 2  # the second row's lease ran out; the first was renewed
    again = copies.claim("dr", "w2", 2)
    assert [row.id for row in again] == [first[1].id]
    assert again[0].attempts == 2 and again[0].worker == "w2"
    # the dead worker's late failure no longer counts: w2 holds the row
    assert copies.failed(first[1].id, "dead-worker", "late") is None
    assert states(engine)[(first[1].object_key, "dr")] == COPYING
    assert copies.renew([first[1].id], "dead-worker") == set()
    # ... but its verified copy does (a copy is a copy)
    assert copies.done(first[1].id)


def test_failures_back_off_then_recover(engine: Engine) -> None:
    clock = Clock()
    copies = CopyStore(engine, clock)
    with engine.begin() as conn:
        CopyStore.enqueue(conn, keys(1), ["dr"], now=clock.now)
    for attempt in range(1, 5):
        (row,) = copies.claim("dr", "w", 1)
        assert row.attempts == attempt
        due = copies.failed(row.id, "w", "connection refused " * 100)
        assert due == clock.now + backoff_seconds(attempt) == clock.now + 5 * 2**attempt
        lag = copies.lag("dr")
        assert (lag.pending, lag.failing) == (1, 1)
        clock.now = due - 0.5
        assert copies.claim("dr", "w", 1) == []  # not due yet
        clock.now = due
    with engine.connect() as conn:
        error = conn.execute(select(object_copies.c.last_error)).scalar_one()
    assert error.startswith("connection refused") and len(error) == 512
    (row,) = copies.claim("dr", "w", 1)
    assert copies.done(row.id)
    lag = copies.lag("dr")
    assert (lag.pending, lag.failing, lag.done) == (0, 0, 1)
    assert backoff_seconds(0) == 5 and backoff_seconds(9) == 2560
    assert backoff_seconds(10) == backoff_seconds(1000) == 3600


def test_concurrent_claims_never_share_a_row(engine: Engine) -> None:
    """Eight workers, each on its own connection, claim in small batches until nothing is
    left: every row is handed out exactly once."""
    total = 400
    with engine.begin() as conn:
        CopyStore.enqueue(conn, keys(total), ["dr"])
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(worker: str) -> None:
        copies = CopyStore(engine)
        mine = claimed.setdefault(worker, [])
        barrier.wait()
        try:
            while batch := copies.claim("dr", worker, 7):
                mine.extend(row.id for row in batch)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = [row_id for ids in claimed.values() for row_id in ids]
    assert len(every) == total and len(set(every)) == total
    assert sum(1 for ids in claimed.values() if ids) > 1  # they did run side by side
    with engine.connect() as conn:
        rows = conn.execute(select(object_copies.c.worker, object_copies.c.id)).all()
    owner = {row_id: worker for worker, ids in claimed.items() for row_id in ids}
    assert all(owner[row.id] == row.worker for row in rows)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database in the session's PostgreSQL cluster (skipped without one)."""
    cluster: Any = request.getfixturevalue("pg_cluster")
    dbname = f"t_{uuid.uuid4().hex[:12]}"
    cluster.admin(f"CREATE DATABASE {dbname}")
    yield str(cluster.url(dbname))
    cluster.admin(f"DROP DATABASE {dbname} WITH (FORCE)")


@pytest.mark.postgres
def test_claims_skip_rows_locked_by_another_claim(pg_url: str) -> None:
    """PostgreSQL: while one claim's transaction holds rows, another claim takes the others
    at once (``SKIP LOCKED``), neither waiting nor taking the held ones. (A claim that waited
    would fail on the 2 s lock timeout instead of hanging the test.)"""
    engine = create_db_engine(pg_url + "?options=-c%20lock_timeout%3D2000")
    try:
        migrate(engine)
        with engine.begin() as conn:
            CopyStore.enqueue(conn, keys(6), ["dr"])
        with engine.connect() as holder, holder.begin():
            held = set(
                holder.execute(
                    select(object_copies.c.id)
                    .order_by(object_copies.c.id)
                    .limit(3)
                    .with_for_update()
                ).scalars()
            )
            started = time.monotonic()
            got = CopyStore(engine).claim("dr", "w2", 10)
            assert time.monotonic() - started < 1
            assert len(got) == 3
            assert {row.id for row in got}.isdisjoint(held)
    finally:
        engine.dispose()


# -- upkeep -------------------------------------------------------------------------------------


def test_drop_by_key_and_store(engine: Engine) -> None:
    copies = CopyStore(engine)
    ks = keys(3)
    with engine.begin() as conn:
        CopyStore.enqueue(conn, ks, ["dr", "eu"])
    (row,) = copies.claim("dr", "w", 1)
    assert copies.keys_of("dr", [*ks, "zz" * 16]) == set(ks)
    assert copies.stores() == ["dr", "eu"]
    assert copies.drop([ks[0]]) == 2
    assert copies.drop([ks[1]], store="eu") == 1
    assert copies.drop([ks[0]]) == 0  # idempotent
    assert set(states(engine)) == {(ks[1], "dr"), (ks[2], "dr"), (ks[2], "eu")}
    assert not copies.done(row.id)  # its row was dropped while it copied
    assert copies.failed(row.id, "w", "gone") is None


def test_backfill_walks_live_files_in_batches(engine: Engine) -> None:
    now = time.time()
    with engine.begin() as conn:
        user = conn.execute(
            insert(users)
            .values(
                email="a@example.org",
                kek_salt=b"s",
                ops_limit=1,
                mem_limit=1,
                master_key_wrapped=b"m",
                master_key_wrapped_recovery=b"m",
                recovery_key_wrapped=b"r",
                login_hash="h",
                quota_bytes=1,
                version=0,
                created_at=now,
            )
            .returning(users.c.id)
        ).scalar_one()
        for i in range(5):
            conn.execute(
                insert(files).values(
                    owner_id=user,
                    content_object=f"c{i:031x}",
                    content_size=100 + i,
                    thumbnail_object=None if i == 1 else f"t{i:031x}",
                    thumbnail_size=0 if i == 1 else 10,
                    encrypted_metadata=b"x",
                    created_at=now,
                    is_deleted=i == 3,  # deleted for good: nothing to copy
                )
            )
    copies = CopyStore(engine)
    cursor: int | None = 0
    batches = 0
    while cursor is not None:
        cursor = copies.backfill(["dr"], after_file_id=cursor, batch=2)
        batches += 1
    assert batches == 3  # 2 + 2 live files, then none
    expected = {f"c{i:031x}" for i in (0, 1, 2, 4)} | {f"t{i:031x}" for i in (0, 2, 4)}
    assert {key for key, _store in states(engine)} == expected
    assert copies.backfill(["dr"]) is not None  # again: nothing new (idempotent)
    assert len(states(engine)) == len(expected)
    with engine.connect() as conn:
        sizes = dict(conn.execute(select(object_copies.c.object_key, object_copies.c.size)).all())
    assert sizes[f"c{4:031x}"] == 104 and sizes[f"t{0:031x}"] == 10


# -- migrations 10 and 11 -----------------------------------------------------------------------


def shape(engine: Engine) -> dict[str, object]:
    """What migrations 10 and 11 made: the new columns, tables, indexes and triggers."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        found: dict[str, object] = {
            "uploads": {c["name"] for c in inspector.get_columns("uploads")},
            "upload_parts": {c["name"] for c in inspector.get_columns("upload_parts")},
            "object_copies": {c["name"] for c in inspector.get_columns("object_copies")},
            "job_leases": {c["name"] for c in inspector.get_columns("job_leases")},
            "copy_indexes": {i["name"] for i in inspector.get_indexes("object_copies")},
            "copy_unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints("object_copies")
            ),
        }
        if conn.dialect.name == "postgresql":
            found["triggers"] = set(
                conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
            )
        return found


def downgrade_to_9(engine: Engine) -> None:
    """Make a migrated database look like one of version 9 (before migrations 10 and 11)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for trigger, table in (
                ("users_version_notify", "users"),
                ("tokens_revoked_notify", "tokens"),
                ("tokens_deleted_notify", "tokens"),
            ):
                conn.execute(text(f"DROP TRIGGER {trigger} ON {table}"))
            conn.execute(text("DROP FUNCTION photoark_notify_user()"))
            conn.execute(text("DROP FUNCTION photoark_notify_token_user()"))
        conn.execute(text("DROP TABLE object_copies"))
        conn.execute(text("DROP TABLE job_leases"))
        conn.execute(text("ALTER TABLE uploads DROP COLUMN store_upload_id"))
        conn.execute(text("ALTER TABLE upload_parts DROP COLUMN etag"))
        conn.execute(schema_version.delete().where(schema_version.c.version >= 10))


def test_migrations_10_and_11_fresh_and_from_version_9(database_url: str) -> None:
    fresh = create_db_engine(database_url)
    try:
        assert migrate(fresh) == MIGRATIONS[-1][0] == 11
        expected = shape(fresh)
        assert {"store_upload_id"} <= expected["uploads"]  # type: ignore[operator]
        assert {"etag"} <= expected["upload_parts"]  # type: ignore[operator]
        assert expected["object_copies"] == {c.name for c in object_copies.columns}
        assert expected["job_leases"] == {"name", "holder", "expires_at"}
        assert "ix_object_copies_claim" in expected["copy_indexes"]  # type: ignore[operator]
        assert expected["copy_unique"] == [("object_key", "store")]
        if fresh.dialect.name == "postgresql":
            assert expected["triggers"] == {
                "users_version_notify",
                "tokens_revoked_notify",
                "tokens_deleted_notify",
            }

        downgrade_to_9(fresh)
        now = time.time()
        with fresh.begin() as conn:  # rows of a version-9 server survive the upgrade
            user = conn.execute(
                insert(users)
                .values(
                    email="b@example.org",
                    kek_salt=b"s",
                    ops_limit=1,
                    mem_limit=1,
                    master_key_wrapped=b"m",
                    master_key_wrapped_recovery=b"m",
                    recovery_key_wrapped=b"r",
                    login_hash="h",
                    quota_bytes=1,
                    version=0,
                    created_at=now,
                )
                .returning(users.c.id)
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO uploads (id, owner_id, size, part_size, part_count, state, "
                    "object_key, created_at, expires_at) "
                    "VALUES ('u1', :owner, 5, 5, 1, 'open', 'o1', 0, 0)"
                ),
                {"owner": user},
            )
            conn.execute(
                text(
                    "INSERT INTO upload_parts (upload_id, number, size, sha256, put_count) "
                    "VALUES ('u1', 0, 5, 'ab', 1)"
                )
            )
        assert "store_upload_id" not in shape_columns(fresh, "uploads")
        assert migrate(fresh) == 11
        assert migrate(fresh) == 11  # idempotent
        assert shape(fresh) == expected
        with fresh.connect() as conn:
            upload = conn.execute(select(uploads)).one()
            part = conn.execute(select(upload_parts)).one()
            versions = list(conn.execute(select(schema_version.c.version)).scalars())
        assert upload.id == "u1" and upload.store_upload_id is None
        assert part.sha256 == "ab" and part.etag is None
        assert versions == [v for v, _ in MIGRATIONS]
    finally:
        fresh.dispose()


def shape_columns(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}
