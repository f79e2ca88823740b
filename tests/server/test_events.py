"""``GET /events``: the change counter pushed over server-sent events, on a real uvicorn server
in a thread (streaming through the in-process test client would buffer the endless body).

Covered: the first event at once; an event within a second of a change made through this
server, through the in-process app (the same feed, poked from another thread) and through a
second app on the same database (a replica: only the poller can see it); nothing for another
user's change; 401 for a bad or revoked token; the heartbeat; the watcher dropped when the
client goes away; streams ended by server shutdown; one query per tick for every stream.

PostgreSQL (migration 11, :mod:`photoark.server.store.notify`): the triggers notify once per
commit and never on a rollback; ``ChangeFeed.notify`` pokes only for users watched here; the
listener wakes a 30 s-polling feed within 200 ms and reconnects after its backend is
terminated; two apps polling every 30 s: a change or a revocation through one reaches the
other's stream within 200 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Collection, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, insert, select, update

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError, AuthFailed, ServerUnreachable
from photoark.client.transport import RetryPolicy
from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.server.services.events import ChangeFeed, start_change_listener
from photoark.server.store import AccountStore, create_db_engine, migrate
from photoark.server.store.migrations import CHANGES_CHANNEL
from photoark.server.store.notify import PgChangeListener
from photoark.server.store.schema import tokens, users
from photoark.server.store.versions import next_version
from tests.builders import serving_app

from .conftest import Account, Api, AppFactory, b64

HEARTBEAT = 0.5
WITHIN = 1.0  # the latency the tests demand (the design aims at <= 0.3 s)
CONNECTED = 10.0  # waiting for a stream's opening event, where connecting is not what is timed


@dataclass
class Served:
    api: Api
    url: str
    clients: list[ApiClient] = field(default_factory=list)  # closed when the test ends

    def client(self, token: str) -> ApiClient:
        client = ApiClient(self.url, token, retry=RetryPolicy(attempts=1))
        self.clients.append(client)
        return client


@contextlib.contextmanager
def serve(api: Api) -> Iterator[str]:
    """Run ``api.app`` (lifespan and all) on a real uvicorn server in a thread; its URL."""
    with serving_app(api.app) as url:
        yield url


@pytest.fixture
def served(make_api: AppFactory) -> Iterator[Served]:
    api = make_api(events_heartbeat_seconds=HEARTBEAT)
    with serve(api) as url:
        served = Served(api, url)
        yield served
    for client in served.clients:  # after the server: the listeners' streams have ended
        client.close()


class Listener:
    """``ApiClient.events()`` read in a thread: each version with the time it arrived."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.received: queue.Queue[tuple[float, int] | BaseException | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for version in self.client.events():
                self.received.put((time.monotonic(), version))
            self.received.put(None)  # the server ended the stream
        except BaseException as err:
            self.received.put(err)

    def next(self, timeout: float = WITHIN) -> tuple[float, int]:
        item = self.received.get(timeout=timeout)
        assert isinstance(item, tuple), f"expected an event, got {item!r}"
        return item

    def first(self) -> int:
        """The version the stream opens with (a set-up step: connecting under a loaded CI may
        take more than :data:`WITHIN`, which times changes, not connections)."""
        return self.next(CONNECTED)[1]

    def quiet(self, seconds: float) -> bool:
        """True if nothing arrived for ``seconds``."""
        try:
            item = self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected {item!r}")


def create_album(http: httpx.Client | Api, account: Account, url: str = "") -> int:
    """``POST /collections`` through a real HTTP client or an in-process :class:`Api`."""
    key = new_key()
    body = {
        "encrypted_key": b64(wrap_key(account.keys.master_key, key)),
        "encrypted_name": b64(seal(key, b"album")),
    }
    if isinstance(http, Api):
        response = http.http.post("/collections", json=body, headers=account.headers)
    else:
        response = http.post(f"{url}/collections", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["version"])


def second_device(api: Api, account: Account) -> Account:
    """Another token of the same user (a second device)."""
    response = api.login(account.email, account.keys.login_key)
    assert response.status_code == 200, response.text
    return Account(account.email, response.json()["token"], account.user_id, account.keys)


def test_first_event_at_once_then_every_change(served: Served, make_api: AppFactory) -> None:
    api = served.api
    alice = api.signup()
    api.album(alice)  # version 1
    phone = second_device(api, alice)
    started = time.monotonic()
    listener = Listener(served.client(alice.token))
    arrived, version = listener.next()
    assert version == 1
    assert arrived - started < WITHIN

    latencies: dict[str, float] = {}
    with httpx.Client() as http:  # device B changes through this server: the feed is poked
        sent = time.monotonic()
        assert create_album(http, phone, served.url) == 2
        arrived, version = listener.next()
        assert version == 2
        latencies["same server"] = arrived - sent

    album = api.album(phone)  # through the same app in-process: poked from another thread
    assert listener.next()[1] == 3
    content = api.upload(phone, os.urandom(2000))
    sent = time.monotonic()
    assert api.commit(phone, album, content).status_code == 201
    arrived, version = listener.next()
    assert version == 4
    latencies["commit in-process"] = arrived - sent

    replica = make_api()  # another app on the same database: only the poller can tell
    sent = time.monotonic()
    assert create_album(replica, phone) == 5
    arrived, version = listener.next()
    assert version == 5
    latencies["other replica"] = arrived - sent

    assert all(seconds < WITHIN for seconds in latencies.values()), latencies
    print("event latencies:", {k: f"{v * 1000:.0f} ms" for k, v in latencies.items()})


def test_another_users_change_sends_nothing(served: Served) -> None:
    api = served.api
    alice, bob = api.signup(), api.signup()
    listener = Listener(served.client(alice.token))
    assert listener.first() == 0
    api.album(bob)
    api.album(bob)
    assert listener.quiet(4 * served.api.services.events.poll_interval)
    api.album(alice)
    assert listener.next()[1] == 1


def test_bad_or_revoked_token_is_401(served: Served) -> None:
    alice = served.api.signup()
    response = httpx.get(f"{served.url}/events", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    with pytest.raises(AuthFailed) as caught:
        next(served.client("nope").events())
    assert caught.value.status == 401
    served.client(alice.token).logout()
    with pytest.raises(AuthFailed):
        next(served.client(alice.token).events())


def test_wire_format_and_heartbeat(served: Served) -> None:
    alice = served.api.signup()
    lines: list[str] = []
    with httpx.stream("GET", f"{served.url}/events", headers=alice.headers, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        started = time.monotonic()
        for line in response.iter_lines():
            lines.append(line)
            if line == ": ping":
                break
        waited = time.monotonic() - started
    assert lines == ["event: change", 'data: {"version": 0}', "", ": ping"]
    assert HEARTBEAT * 0.8 < waited < HEARTBEAT + WITHIN


def test_the_watcher_goes_when_the_client_does(served: Served) -> None:
    feed = served.api.services.events
    alice = served.api.signup()
    client = served.client(alice.token)
    stream = client.events()
    second = served.client(alice.token).events()
    # typed as an Iterator, but a generator (closing it closes the connection)
    assert isinstance(stream, Generator) and isinstance(second, Generator)
    assert next(stream) == 0
    assert feed.watched == {alice.user_id}
    assert next(second) == 0
    stream.close()  # closes the connection: the server notices without writing
    second.close()
    deadline = time.monotonic() + 2
    while feed.watched and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feed.watched == frozenset()


def test_shutdown_ends_the_streams(make_api: AppFactory) -> None:
    api = make_api(events_heartbeat_seconds=60)  # no heartbeat would end the wait
    alice = api.signup()
    with contextlib.ExitStack() as closing:
        with serve(api) as url:
            client = ApiClient(url, alice.token, retry=RetryPolicy(attempts=1))
            closing.enter_context(client)  # closed after the server stopped
            listener = Listener(client)
            assert listener.first() == 0
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 3
        assert listener.received.get(timeout=1) is None  # the iterator ended cleanly


def test_client_maps_errors_and_parses_events() -> None:
    body = (
        b": hello\r\n\r\nevent: other\ndata: {}\n\n"
        b'event: change\ndata: {"version":\ndata:  7}\n\n'
        b'event:change\ndata:{"version": 8}\n\n'
    )
    answers = {"ok": httpx.Response(200, content=body)}

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.headers["authorization"].split()[-1]]

    retry = RetryPolicy(attempts=2, sleep=lambda _s: None)
    transport = httpx.MockTransport(handler)
    assert list(ApiClient("http://x", "ok", retry, transport).events()) == [7, 8]

    answers["gone"] = httpx.Response(503, json={"code": "internal", "message": "down"})
    with pytest.raises(ServerUnreachable):
        list(ApiClient("http://x", "gone", retry, transport).events())
    answers["bad"] = httpx.Response(200, content=b"event: change\ndata: nope\n\n")
    with pytest.raises(ApiError) as caught:
        list(ApiClient("http://x", "bad", retry, transport).events())
    assert caught.value.code == "bad_response"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ServerUnreachable):
        next(ApiClient("http://x", "ok", retry, httpx.MockTransport(refuse)).events())


def test_successful_writes_poke_the_feed_and_the_replicator() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from photoark.server.api.events import PokeAfterWrites

    async def answer(request: Request) -> Response:
        return Response(status_code=int(request.query_params["status"]))

    pokes: list[str] = []
    app = Starlette(routes=[Route("/", answer, methods=["GET", "POST", "PATCH", "DELETE"])])
    wrapped = PokeAfterWrites(app, (lambda: pokes.append("feed"), lambda: pokes.append("copies")))
    with TestClient(wrapped) as client:
        client.get("/?status=200")
        client.post("/?status=409")
        client.delete("/?status=500")
        assert pokes == []  # reads and failed writes move nothing
        client.post("/?status=201")
        assert pokes == ["feed", "copies"]
        client.patch("/?status=200")
        assert pokes == ["feed", "copies"] * 2


def test_the_app_pokes_its_replicator_after_a_commit(make_api: AppFactory) -> None:
    api = make_api()
    replicator = api.app.state.replicator
    loop = asyncio.new_event_loop()
    wake = asyncio.Event()
    replicator._loop, replicator._wake = loop, wake  # as run_replication attaches them
    try:
        alice = api.signup()
        album = api.album(alice)
        loop.run_until_complete(asyncio.sleep(0))  # the pokes of the signup land
        wake.clear()
        api.new_file(alice, album, size=100, thumb_size=0)
        loop.run_until_complete(asyncio.wait_for(wake.wait(), 5))  # the commit's poke
    finally:
        replicator._loop = replicator._wake = None
        loop.close()


def test_one_query_per_tick_whatever_the_streams() -> None:
    """Three streams of two users: each tick reads both counters in ONE query."""
    reads: list[frozenset[int]] = []
    counters = {1: 0, 2: 0}

    def read(user_ids: Collection[int]) -> Mapping[int, int]:
        reads.append(frozenset(user_ids))
        return {u: counters[u] for u in user_ids}

    async def scenario() -> list[int]:
        feed = ChangeFeed(read, poll_interval=0.02, heartbeat=10)
        await feed.start()
        got: list[int] = []

        async def listen(user_id: int, count: int) -> None:
            with feed.watch(user_id, await feed.current(user_id)) as watch:
                async for version in watch.changes():
                    assert version is not None
                    got.append(version)
                    if len(got) >= count:
                        return

        tasks = [asyncio.create_task(listen(u, 1)) for u in (1, 1, 2)]
        await asyncio.sleep(0.1)
        reads.clear()
        await asyncio.sleep(0.1)
        ticks = list(reads)
        counters[1] = 3
        await asyncio.wait_for(asyncio.gather(*tasks[:2]), 1)
        tasks[2].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[2]
        assert feed.watched == frozenset()
        await feed.stop()
        assert ticks and all(t == {1, 2} for t in ticks)  # one read per tick, both users
        return got

    assert asyncio.run(scenario()) == [3, 3]


def test_counters_of_many_users_are_read_in_chunks(api: Api) -> None:
    alice, bob = api.signup(), api.signup()
    api.album(bob)
    many = [*range(10**9, 10**9 + 25_000), alice.user_id, bob.user_id]  # over SQLite's bind cap
    assert AccountStore(api.app.state.engine).versions(many) == {alice.user_id: 0, bob.user_id: 1}


# -- PostgreSQL: NOTIFY from other replicas (migration 11, store/notify.py) ----------------------

NOTIFY_WITHIN = 0.2  # the latency the issue asks for, with the poll set to 30 s


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database in the session's PostgreSQL cluster (skipped without one)."""
    cluster: Any = request.getfixturevalue("pg_cluster")
    dbname = f"t_{uuid.uuid4().hex[:12]}"
    cluster.admin(f"CREATE DATABASE {dbname}")
    url = str(cluster.url(dbname))
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    cluster.admin(f"DROP DATABASE {dbname} WITH (FORCE)")


def add_user(engine: Engine, email: str) -> tuple[int, int]:
    """A bare account row and one token of it: (user id, token id)."""
    now = time.time()
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(users)
            .values(
                email=email,
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
        token_id = conn.execute(
            insert(tokens)
            .values(token_hash=uuid.uuid4().hex, user_id=user_id, created_at=now)
            .returning(tokens.c.id)
        ).scalar_one()
    return int(user_id), int(token_id)


def bump(engine: Engine, user_id: int) -> float:
    """Move the user's counter in its own transaction; when the commit began (monotonic)."""
    with engine.begin() as conn:
        next_version(conn, user_id)
        started = time.monotonic()
    return started


def test_notify_pokes_only_for_users_watched_here() -> None:
    reads: list[frozenset[int]] = []

    def read(user_ids: Collection[int]) -> Mapping[int, int]:
        reads.append(frozenset(user_ids))
        return {u: 1 for u in user_ids}

    async def scenario() -> None:
        feed = ChangeFeed(read, poll_interval=30, heartbeat=30)
        await feed.start()
        await asyncio.sleep(0.05)  # the poller's first wait began
        with feed.watch(1, 0) as watch:
            feed.notify(2)  # nobody here watches user 2
            await asyncio.sleep(0.2)
            assert reads == []
            feed.notify(1)
            changes = watch.changes()
            assert await asyncio.wait_for(anext(changes), 1) == 1
            assert reads == [frozenset({1})]
            feed.notify(None)  # anyone's: a tick
            await asyncio.sleep(0.2)
            assert reads == [frozenset({1})] * 2
            assert isinstance(changes, AsyncGenerator)
            await changes.aclose()
        feed.notify(None)  # nobody watches: nothing to read
        await asyncio.sleep(0.1)
        assert len(reads) == 2
        await feed.stop()

    asyncio.run(scenario())


@pytest.mark.postgres
def test_triggers_notify_once_per_commit_and_never_on_rollback(pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    listen = psycopg.connect(pg_url, autocommit=True)
    try:
        (alice, alice_token), (bob, _) = add_user(engine, "a@x.org"), add_user(engine, "b@x.org")
        listen.execute(f"LISTEN {CHANGES_CHANNEL}")

        def heard() -> list[str]:
            return [note.payload for note in listen.notifies(timeout=0.3)]

        with engine.begin() as conn:  # three moves of alice and one of bob: one each
            for _ in range(3):
                next_version(conn, alice)
            next_version(conn, bob)
        assert sorted(heard()) == sorted([str(alice), str(bob)])
        with pytest.raises(RuntimeError), engine.begin() as conn:
            next_version(conn, alice)
            raise RuntimeError("rolled back")
        assert heard() == []
        with engine.begin() as conn:  # no move of the counter: nothing
            conn.execute(update(users).where(users.c.id == alice).values(version=users.c.version))
            conn.execute(update(users).where(users.c.id == alice).values(quota_bytes=2))
        assert heard() == []
        accounts = AccountStore(engine)
        accounts.revoke_all(alice)
        assert heard() == [str(alice)]
        with engine.begin() as conn:  # a revoked token's time changed again: not a revocation
            conn.execute(update(tokens).where(tokens.c.id == alice_token).values(revoked_at=1.0))
        assert heard() == []
        accounts.add_token(bob, "h" * 64, time.time(), idle_cutoff=0)  # deletes nothing of bob's
        assert heard() == []
        accounts.add_token(alice, "i" * 64, time.time(), idle_cutoff=0)  # deletes the revoked one
        assert heard() == [str(alice)]
    finally:
        listen.close()
        engine.dispose()


@pytest.mark.postgres
def test_listener_wakes_the_feed_within_200_ms(pg_url: str) -> None:
    """A feed polling every 30 s, and a change committed on another connection (as by another
    replica): the watch moves through NOTIFY alone, 20 times; then a revocation ends a watch."""
    engine = create_db_engine(pg_url)
    accounts = AccountStore(engine)
    alice, token = add_user(engine, "a@x.org")

    async def scenario() -> list[float]:
        feed = ChangeFeed(
            accounts.versions, poll_interval=30, heartbeat=30, live_tokens=accounts.unrevoked
        )
        await feed.start()
        latencies = []
        async with start_change_listener(pg_url, feed) as listener:
            assert listener is not None and await listener.wait_listening(10)
            await asyncio.sleep(0.1)  # the connect's notify(None) tick is over
            with feed.watch(alice, await feed.current(alice), token) as watch:
                changes = watch.changes()
                for expected in range(1, 21):
                    await asyncio.sleep(0.05)  # past the feed's min_gap: not one burst
                    sent = await asyncio.to_thread(bump, engine, alice)
                    assert await asyncio.wait_for(anext(changes), 5) == expected
                    latencies.append(time.monotonic() - sent)
                await asyncio.sleep(0.05)
                revoked = await asyncio.to_thread(_revoke, accounts, alice)
                with pytest.raises(StopAsyncIteration):
                    await asyncio.wait_for(anext(changes), 5)
                latencies.append(time.monotonic() - revoked)
                assert watch.revoked
        await feed.stop()
        return latencies

    try:
        latencies = asyncio.run(scenario())
    finally:
        engine.dispose()
    changes, revocation = sorted(latencies[:-1]), latencies[-1]
    print(
        f"NOTIFY -> watch: p50 {changes[len(changes) // 2] * 1000:.1f} ms, "
        f"max {changes[-1] * 1000:.1f} ms; revocation {revocation * 1000:.1f} ms"
    )
    assert max(changes) < NOTIFY_WITHIN and revocation < NOTIFY_WITHIN, latencies


def _revoke(accounts: AccountStore, user_id: int) -> float:
    started = time.monotonic()
    accounts.revoke_all(user_id)
    return started


@pytest.mark.postgres
def test_listener_reconnects_after_its_backend_is_terminated(pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    alice, _ = add_user(engine, "a@x.org")
    heard: list[int | None] = []
    got = asyncio.Event()

    def on_user(user_id: int | None) -> None:
        heard.append(user_id)
        got.set()

    async def next_heard(expected: int | None) -> None:
        while expected not in heard:
            got.clear()
            await asyncio.wait_for(got.wait(), 5)

    async def scenario() -> None:
        listener = PgChangeListener(pg_url, on_user, backoff_first=0.05)
        await listener.start()
        assert await listener.wait_listening(10)
        await next_heard(None)  # after connecting: "anything may have changed"
        heard.clear()
        await asyncio.to_thread(bump, engine, alice)
        await next_heard(alice)
        pid = listener.backend_pid
        with engine.begin() as conn:
            assert conn.execute(select(func.pg_terminate_backend(pid))).scalar_one()
        heard.clear()
        await next_heard(None)  # reconnected, and said so
        assert listener.connections == 2 and listener.backend_pid not in (None, pid)
        heard.clear()
        await asyncio.to_thread(bump, engine, alice)
        await next_heard(alice)
        await listener.stop()
        await listener.stop()  # idempotent
        assert not listener.listening

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


def test_no_listener_on_sqlite(tmp_path: Path) -> None:
    async def scenario() -> None:
        feed = ChangeFeed(lambda ids: {}, poll_interval=30)
        async with start_change_listener(f"sqlite:///{tmp_path}/x.db", feed) as listener:
            assert listener is None

    asyncio.run(scenario())


@pytest.mark.pg_s3_only  # NOTIFY is PostgreSQL's; SQLite has one process and its poll
def test_another_replicas_changes_arrive_by_notify(make_api: AppFactory, database_url: str) -> None:
    """Two apps on one PostgreSQL, both polling only every 30 s: a change through app B reaches
    a stream on app A within 200 ms (20 times), and a revocation through B ends A's stream
    within 200 ms. Only NOTIFY can be that fast."""
    assert database_url.startswith("postgresql")
    a = make_api(events_poll_seconds=30, events_heartbeat_seconds=30)
    b = make_api(events_poll_seconds=30)
    alice = a.signup()
    phone = second_device(a, alice)
    with serve(a) as url:
        served = Served(a, url)
        try:
            listener = Listener(served.client(alice.token))
            assert listener.first() == 0
            # A's listener connects in the background: wait for the first change to arrive
            assert create_album(b, alice) == 1
            assert listener.next(timeout=10)[1] == 1
            latencies = []
            for expected in range(2, 22):
                time.sleep(0.05)  # past the feed's min_gap: changes one by one, not a burst
                sent = time.monotonic()
                assert create_album(b, phone) == expected
                arrived, version = listener.next(timeout=5)
                assert version == expected
                latencies.append(arrived - sent)
            ended = Listener(served.client(phone.token))
            assert ended.next()[1] == 21
            sent = time.monotonic()
            assert b.http.post("/auth/logout", headers=phone.headers).status_code == 204
            assert ended.received.get(timeout=5) is None  # the server ended the stream
            revocation = time.monotonic() - sent
            assert listener.quiet(0.1)  # alice's own stream goes on
        finally:
            for client in served.clients:
                client.close()
    ordered = sorted(latencies)
    print(
        f"replica B -> stream on A: p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms; revocation {revocation * 1000:.1f} ms"
    )
    assert ordered[-1] < NOTIFY_WITHIN and revocation < NOTIFY_WITHIN, (latencies, revocation)
