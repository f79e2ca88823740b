"""Login throttling (per account and per client address) and the password-hash worker pool.

Covered: wrong logins in a row get 429 with ``Retry-After``, refused before any hashing; the
owner logs in from another address meanwhile, and from an address that logged in before even
while the account waits; the account's delay is capped short; a success clears the account's
failures; failures are forgotten with time; right logins are never throttled; the tables stay
bounded; a login that gets no hash worker in time is a 503 ``busy`` with ``Retry-After``; the
pool never runs more hashes than its size, serves waiters in order, and loses no slot to a
timeout or a cancellation.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Iterator
from typing import Any

import nacl.pwhash
import pytest
from fastapi.testclient import TestClient
from httpx import Client, Response

from photoark.server.errors import Busy
from photoark.server.services.throttle import (
    ACCOUNT,
    ADDRESS,
    BackoffPolicy,
    LoginThrottle,
    WorkerSlots,
    address_key,
)

from .conftest import Account, Api, AppFactory, b64

WRONG = b"\x01" * 32


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def from_address(api: Api, address: str) -> Client:
    """A client of the in-process app whose requests come from ``address``."""
    client: Client = TestClient(api.app, client=(address, 40000))
    return client


def login(http: Client, email: str, key: bytes) -> Response:
    return http.post("/auth/login", json={"email": email, "login_key": b64(key)})


@pytest.fixture
def clock(api: Api) -> FakeClock:
    """The app's throttle on a clock the test moves."""
    fake = FakeClock()
    api.services.accounts.throttle = LoginThrottle(clock=fake)
    return fake


def test_wrong_logins_in_a_row_are_rate_limited_with_retry_after(api: Api, alice: Account) -> None:
    attacker = from_address(api, "203.0.113.7")
    answers = [login(attacker, alice.email, WRONG) for _ in range(30)]
    codes = [a.status_code for a in answers]
    assert codes[: ADDRESS.free] == [401] * ADDRESS.free
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 20, codes
    for answer in limited:
        assert answer.json()["code"] == "rate_limited"
        assert 1 <= int(answer.headers["retry-after"]) <= ADDRESS.cap
        assert answer.json()["details"]["retry_after"] == int(answer.headers["retry-after"])
    # the right key from that address waits too (the address is what is limited)
    assert login(attacker, alice.email, alice.keys.login_key).status_code == 429


def test_a_refused_login_costs_no_hash(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = from_address(api, "203.0.113.8")
    for _ in range(ADDRESS.free + 1):
        login(attacker, alice.email, WRONG)
    verified: list[bytes] = []
    real_verify = nacl.pwhash.verify

    def counting_verify(hashed: bytes, key: bytes) -> bool:
        verified.append(key)
        return bool(real_verify(hashed, key))

    monkeypatch.setattr(nacl.pwhash, "verify", counting_verify)
    assert login(attacker, alice.email, WRONG).status_code == 429
    assert verified == []


def test_the_owner_logs_in_from_another_address_meanwhile(api: Api, alice: Account) -> None:
    attacker = from_address(api, "203.0.113.9")
    codes = [login(attacker, alice.email, WRONG).status_code for _ in range(30)]
    assert 429 in codes
    owner = from_address(api, "198.51.100.20")
    response = login(owner, alice.email, alice.keys.login_key)
    assert response.status_code == 200, response.text


def test_many_addresses_make_the_account_wait_but_briefly(
    api: Api, alice: Account, clock: FakeClock
) -> None:
    phone = from_address(api, "198.51.100.1")  # the owner's device logged in before
    assert login(phone, alice.email, alice.keys.login_key).status_code == 200
    answers = []
    for n in range(ACCOUNT.free + 12):  # a botnet: every guess from a fresh address
        answers.append(login(from_address(api, f"192.0.2.{n + 1}"), alice.email, WRONG))
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert max(int(a.headers["retry-after"]) for a in limited) <= ACCOUNT.cap <= 60
    # a new address waits for the account, never longer than the cap
    laptop = from_address(api, "198.51.100.2")
    refused = login(laptop, alice.email, alice.keys.login_key)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) <= ACCOUNT.cap
    # the device that logged in before is not held back by the account's delay
    assert login(phone, alice.email, alice.keys.login_key).status_code == 200
    # success cleared the account's failures: the new address gets in too
    assert login(laptop, alice.email, alice.keys.login_key).status_code == 200


def test_the_account_delay_ends_after_the_cap(api: Api, alice: Account, clock: FakeClock) -> None:
    for n in range(ACCOUNT.free + 20):
        login(from_address(api, f"192.0.2.{n + 1}"), alice.email, WRONG)
    owner = from_address(api, "198.51.100.3")
    assert login(owner, alice.email, alice.keys.login_key).status_code == 429
    clock.now += ACCOUNT.cap + 0.01
    assert login(owner, alice.email, alice.keys.login_key).status_code == 200


def test_failures_are_forgotten_with_time(api: Api, alice: Account, clock: FakeClock) -> None:
    attacker = from_address(api, "203.0.113.10")
    for _ in range(ADDRESS.free + 3):
        login(attacker, alice.email, WRONG)
    assert login(attacker, alice.email, WRONG).status_code == 429
    clock.now += ADDRESS.forget_after + 1
    codes = [login(attacker, alice.email, WRONG).status_code for _ in range(ADDRESS.free)]
    assert codes == [401] * ADDRESS.free  # a fresh start, not the old delay doubled


def test_unknown_emails_are_throttled_like_wrong_passwords(api: Api) -> None:
    attacker = from_address(api, "203.0.113.11")
    codes = [login(attacker, f"ghost{n}@example.org", WRONG).status_code for n in range(12)]
    assert codes[: ADDRESS.free] == [401] * ADDRESS.free and 429 in codes


def test_right_logins_are_never_throttled(api: Api, alice: Account) -> None:
    for _ in range(40):
        response = api.login(alice.email, alice.keys.login_key)
        assert response.status_code == 200, response.text


def test_a_mistyped_password_then_the_right_one_from_one_address(api: Api, alice: Account) -> None:
    device = from_address(api, "198.51.100.4")
    for _ in range(3):
        assert login(device, alice.email, WRONG).status_code == 401
    assert login(device, alice.email, alice.keys.login_key).status_code == 200


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = BackoffPolicy(free=2, base=1.0, cap=10.0, forget_after=60.0)
    assert [policy.delay(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 10, 10]
    assert policy.delay(10**6) == 10


def test_throttle_tables_stay_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, max_entries=100)
    for n in range(1000):
        throttle.failed(f"user{n}@example.org", f"10.0.{n // 250}.{n % 250}")
        throttle.succeeded(f"user{n}@example.org", f"10.1.{n // 250}.{n % 250}")
    assert all(size <= 100 for size in throttle.sizes)
    clock.now += max(ADDRESS.forget_after, ACCOUNT.forget_after) + 1
    throttle.failed("last@example.org", "10.9.9.9")  # each failure sweeps the forgotten ones
    addresses, accounts, _ = throttle.sizes
    assert addresses == accounts == 1


def test_addresses_are_counted_by_host_and_ipv6_by_64() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("testclient") == "testclient"


# -- the hash worker pool -------------------------------------------------------------------


@pytest.fixture
def one_worker(make_api: AppFactory) -> Api:
    return make_api(login_hash_workers=1, login_wait_seconds=0.3)


@pytest.fixture
def held_slot(one_worker: Api) -> Iterator[threading.Event]:
    """The pool's only slot taken by a job that ends when the event is set."""
    release = threading.Event()
    slots = one_worker.services.accounts.hash_slots
    holder = threading.Thread(
        target=lambda: asyncio.run(slots.run(lambda: release.wait(10), 10)), daemon=True
    )
    holder.start()
    deadline = time.monotonic() + 5
    while slots.busy < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield release
    finally:
        release.set()
        holder.join(10)


def test_a_login_without_a_worker_in_time_is_busy(
    one_worker: Api, held_slot: threading.Event
) -> None:
    started = time.monotonic()
    response = one_worker.login("nobody@example.org", WRONG)
    waited = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "busy"
    assert int(response.headers["retry-after"]) >= 1
    assert 0.25 < waited < 2
    held_slot.set()
    deadline = time.monotonic() + 5
    while one_worker.services.accounts.hash_slots.busy:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    account = one_worker.signup()
    assert one_worker.login(account.email, account.keys.login_key).status_code == 200


def test_busy_logins_are_not_counted_as_failures(
    one_worker: Api, held_slot: threading.Event
) -> None:
    for _ in range(ADDRESS.free + 2):
        assert one_worker.login("nobody@example.org", WRONG).status_code == 503
    held_slot.set()
    deadline = time.monotonic() + 5
    while one_worker.services.accounts.hash_slots.busy:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert one_worker.login("nobody@example.org", WRONG).status_code == 401


def test_the_pool_serves_waiters_first_come_first_served() -> None:
    slots = WorkerSlots(1)
    order: list[int] = []

    def job(n: int) -> int:
        order.append(n)
        time.sleep(0.01)
        return n

    async def scenario() -> list[int]:
        return await asyncio.gather(*(slots.run(functools.partial(job, n), 5) for n in range(8)))

    assert asyncio.run(scenario()) == list(range(8))
    assert order == list(range(8))


def test_the_pool_runs_at_most_its_size_and_loses_no_slot() -> None:
    slots = WorkerSlots(2)
    running = 0
    most = 0
    lock = threading.Lock()

    def job(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n

    async def scenario() -> None:
        results = await asyncio.gather(
            *(slots.run(functools.partial(job, n), 5) for n in range(10))
        )
        assert results == list(range(10))
        assert most == 2
        # a waiter that times out gives nothing away
        blocker = threading.Event()
        holders = [asyncio.ensure_future(slots.run(blocker.wait, 5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(Busy):
            await slots.run(lambda: 0, 0.05)
        # a caller cancelled while its job runs: the slot comes back when the job ends
        holders[0].cancel()
        await asyncio.sleep(0.05)
        assert slots.busy == 2
        blocker.set()
        await asyncio.gather(holders[1])
        deadline = time.monotonic() + 2
        while slots.busy:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert await slots.run(lambda: 7, 0.1) == 7

    asyncio.run(scenario())


def test_a_waiter_cancelled_in_the_queue_leaves_it() -> None:
    slots = WorkerSlots(1)

    async def scenario() -> Any:
        release = threading.Event()
        holder = asyncio.ensure_future(slots.run(lambda: release.wait(5), 5))
        await asyncio.sleep(0.02)
        waiter = asyncio.ensure_future(slots.run(lambda: "never", 5))
        await asyncio.sleep(0.02)
        waiter.cancel()
        await asyncio.sleep(0.02)
        release.set()
        await holder
        return await slots.run(lambda: "next", 1)

    assert asyncio.run(scenario()) == "next"
    assert slots.busy == 0
