"""Replicas sharing one database: job leases (one holder at a time, handed over after expiry or
release), the background jobs that run only on the holder, and the server secret created once
when replicas start together on a fresh database. Both databases."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import cast

import pytest
from sqlalchemy import Engine, func, select

from photoark.server.services.gc import SWEEPER_LEASE, TRASH_LEASE, run_sweeper, run_trash_expiry
from photoark.server.services.sweeper import Sweeper
from photoark.server.services.trash import TrashService
from photoark.server.store import AccountStore, create_db_engine, migrate
from photoark.server.store.leases import LeaseStore, new_holder_id
from photoark.server.store.schema import server_secrets


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


def test_one_holder_until_expiry_then_handed_over(engine: Engine) -> None:
    clock = Clock()
    leases = LeaseStore(engine, clock)
    assert leases.acquire("sweeper", "a", ttl=10)
    assert not leases.acquire("sweeper", "b", ttl=10)
    clock.now += 9
    assert leases.acquire("sweeper", "a", ttl=10)  # renewed: now runs until +19
    clock.now += 9.5
    assert not leases.acquire("sweeper", "b", ttl=10)  # the renewal counts, not the first take
    assert leases.acquire("trash", "b", ttl=10)  # another job's lease is another row
    clock.now += 1  # a's lease ran out and a did not renew it
    assert leases.acquire("sweeper", "b", ttl=10)
    assert not leases.acquire("sweeper", "a", ttl=10)
    current = leases.current("sweeper")
    assert current is not None and current.holder == "b"
    assert current.expires_at == pytest.approx(clock.now + 10)


def test_release_hands_over_at_once_and_only_by_the_holder(engine: Engine) -> None:
    leases = LeaseStore(engine, Clock())
    assert leases.acquire("trash", "a", ttl=3600)
    leases.release("trash", "b")  # not b's: nothing happens
    assert not leases.acquire("trash", "b", ttl=3600)
    leases.release("trash", "a")
    leases.release("trash", "a")  # idempotent
    assert leases.current("trash") is None
    assert leases.acquire("trash", "b", ttl=3600)


def race_for_lease(engine: Engine, ttl: float, contenders: int = 16) -> list[str]:
    """``contenders`` threads (each a replica) acquire the lease ``sweeper`` at once: the
    holders that got it."""
    winners: list[str] = []
    barrier = threading.Barrier(contenders)

    def race(holder: str) -> None:
        leases = LeaseStore(engine)
        barrier.wait()
        if leases.acquire("sweeper", holder, ttl=ttl):
            winners.append(holder)

    threads = [threading.Thread(target=race, args=(f"r{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_racing_holders_get_one_lease(engine: Engine) -> None:
    """Replicas race for a fresh lease, then for the expired one: exactly one wins each
    time."""
    first = race_for_lease(engine, ttl=0.5)
    assert len(first) == 1, first
    threading.Event().wait(0.6)  # round one's lease expires: all race for an expired row
    second = race_for_lease(engine, ttl=60)
    assert len(second) == 1, second


def test_holder_ids_differ() -> None:
    ids = {new_holder_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) <= 64 for i in ids)


class CountingJob:
    def __init__(self) -> None:
        self.runs = 0

    def sweep(self) -> int:
        self.runs += 1
        return 0

    def sweep_expired(self) -> int:
        self.runs += 1
        return 0


@pytest.mark.parametrize("job", [SWEEPER_LEASE, TRASH_LEASE])
def test_only_the_lease_holder_runs_the_rounds(engine: Engine, job: str) -> None:
    """Two replicas' job loops on one database: one runs every round, the other none; when
    the holder stops, its lease is released and the other runs the next round. The clock is
    frozen, so the lease never expires by itself: only the release hands it over."""
    leases = LeaseStore(engine, Clock())
    first, second = CountingJob(), CountingJob()

    def loop(counter: CountingJob, holder: str) -> asyncio.Task[None]:
        if job == SWEEPER_LEASE:
            return asyncio.create_task(
                run_sweeper(cast(Sweeper, counter), 0.02, leases, holder=holder)
            )
        return asyncio.create_task(
            run_trash_expiry(cast(TrashService, counter), 0.02, leases, holder=holder)
        )

    async def wait_for(condition: str, check: object) -> None:
        for _ in range(500):
            if callable(check) and check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(condition)

    async def scenario() -> None:
        a = loop(first, "replica-a")
        await wait_for("a runs", lambda: first.runs >= 1)
        b = loop(second, "replica-b")
        await wait_for("a runs more rounds", lambda: first.runs >= 6)
        assert second.runs == 0
        lease = leases.current(job)
        assert lease is not None and lease.holder == "replica-a"
        a.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await a
        stopped_at = first.runs
        await wait_for("b takes over", lambda: second.runs >= 3)
        assert first.runs == stopped_at
        b.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await b
        assert leases.current(job) is None  # b released it on the way out

    asyncio.run(scenario())


def test_without_a_lease_store_every_round_runs() -> None:
    counter = CountingJob()

    async def scenario() -> None:
        task = asyncio.create_task(run_sweeper(cast(Sweeper, counter), 0.01))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert counter.runs >= 3


def race_for_secret(engines: list[Engine], name: str) -> list[bytes | BaseException]:
    """Each engine (a replica starting) asks for the secret ``name`` at once, each offering
    its own value: what each got."""
    barrier = threading.Barrier(len(engines))
    got: list[bytes | BaseException] = []

    def start(engine: Engine, value: bytes) -> None:
        store = AccountStore(engine)
        barrier.wait()
        try:
            got.append(store.secret(name, lambda: value))
        except BaseException as err:  # the race lost as an error: the bug
            got.append(err)

    threads = [
        threading.Thread(target=start, args=(engine, bytes([i]) * 32))
        for i, engine in enumerate(engines)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_secret_created_once_by_racing_replicas(database_url: str) -> None:
    """Replicas starting at once on a fresh database each ask for the server secret: no
    primary-key violation, and every one gets the same value."""
    engines = [create_db_engine(database_url) for _ in range(8)]
    try:
        migrate(engines[0])
        for attempt in range(5):  # several fresh names: several races
            name = f"race-{attempt}"
            got = race_for_secret(engines, name)
            assert all(isinstance(value, bytes) for value in got), got
            assert len(set(got)) == 1, got
            with engines[0].connect() as conn:
                count = conn.execute(
                    select(func.count())
                    .select_from(server_secrets)
                    .where(server_secrets.c.name == name)
                ).scalar_one()
            assert count == 1
            assert AccountStore(engines[0]).secret(name, lambda: b"other") == got[0]
    finally:
        for engine in engines:
            engine.dispose()
