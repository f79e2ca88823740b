"""Tokens: sessions listed and revoked, idle expiry, the last use written at most once an hour,
dead tokens pruned at login, migration 8, and event streams ended by a revocation.

The streams run on a real uvicorn server in a thread (``serve`` from ``test_events``): a
logout, a revoked session, a revoke-all, and a revocation through another replica of the
same database each end the token's open stream within a second, and only that token's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterator, Mapping

import httpx
import pytest
from sqlalchemy import insert, inspect, select, text, update

from photoark.server.services.accounts import TOUCH_EVERY, hash_token
from photoark.server.services.events import ChangeFeed
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import schema_version, tokens

from .conftest import Account, Api, AppFactory
from .test_events import WITHIN, Listener, Served, second_device, serve

DAY = 86400.0


def last_used(api: Api, account: Account) -> float:
    with api.app.state.engine.connect() as conn:
        value = conn.execute(
            select(tokens.c.last_used_at).where(tokens.c.token_hash == hash_token(account.token))
        ).scalar_one()
    return float(value)


def set_last_used(api: Api, account: Account, when: float) -> None:
    with api.app.state.engine.begin() as conn:
        conn.execute(
            update(tokens)
            .where(tokens.c.token_hash == hash_token(account.token))
            .values(last_used_at=when)
        )


def sessions(api: Api, account: Account) -> httpx.Response:
    return api.http.get("/auth/sessions", headers=account.headers)


def test_sessions_list_the_accounts_logins_without_tokens(api: Api) -> None:
    alice = api.signup()
    phone, laptop = second_device(api, alice), second_device(api, alice)
    api.signup()  # someone else's logins are not listed
    response = sessions(api, phone)
    assert response.status_code == 200, response.text
    body = response.json()
    listed = body["sessions"]
    assert len(listed) == 3
    assert [s["current"] for s in listed] == [False, True, False]
    assert body["token_idle_days"] == 90
    for item in listed:
        assert item["created_at"] <= item["last_used_at"] <= time.time()
        assert item["expires_at"] == pytest.approx(item["last_used_at"] + 90 * DAY)
    for secret in (alice.token, phone.token, laptop.token):
        assert secret not in response.text
        assert hash_token(secret) not in response.text


def test_revoke_a_session(api: Api) -> None:
    alice = api.signup()
    phone = second_device(api, alice)
    bob = api.signup()
    phone_id = next(s["id"] for s in sessions(api, phone).json()["sessions"] if s["current"])
    bob_id = sessions(api, bob).json()["sessions"][0]["id"]
    # another user's session, or none: 404, and nothing revoked
    for unknown in (bob_id, 10**9):
        response = api.http.delete(f"/auth/sessions/{unknown}", headers=alice.headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert sessions(api, bob).status_code == 200
    response = api.http.delete(f"/auth/sessions/{phone_id}", headers=alice.headers)
    assert response.status_code == 204
    assert sessions(api, phone).status_code == 401
    assert [s["id"] for s in sessions(api, alice).json()["sessions"]] != [phone_id]
    assert len(sessions(api, alice).json()["sessions"]) == 1
    # idempotent
    assert api.http.delete(f"/auth/sessions/{phone_id}", headers=alice.headers).status_code == 204
    # out of range ids are a 400, not a database error
    assert api.http.delete(f"/auth/sessions/{2**63}", headers=alice.headers).status_code == 400


def test_a_token_unused_too_long_is_refused(make_api: AppFactory) -> None:
    api = make_api(token_idle_days=30)
    alice = api.signup()
    phone = second_device(api, alice)
    set_last_used(api, alice, time.time() - 31 * DAY)
    response = api.http.get("/usage", headers=alice.headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["details"]["reason"] == "token_expired"
    assert "30 days" in response.json()["message"]
    assert api.http.get("/usage", headers=phone.headers).status_code == 200
    listed = sessions(api, phone).json()["sessions"]
    assert len(listed) == 1 and listed[0]["current"]  # the expired one is not listed
    set_last_used(api, phone, time.time() - 29 * DAY)  # within the limit: still fine
    assert api.http.get("/usage", headers=phone.headers).status_code == 200


def test_with_zero_idle_days_tokens_never_expire(make_api: AppFactory) -> None:
    api = make_api(token_idle_days=0)
    alice = api.signup()
    set_last_used(api, alice, time.time() - 3650 * DAY)
    assert api.http.get("/usage", headers=alice.headers).status_code == 200
    body = sessions(api, alice).json()
    assert body["token_idle_days"] == 0 and body["sessions"][0]["expires_at"] is None


def test_the_last_use_is_written_at_most_once_an_hour(api: Api) -> None:
    alice = api.signup()
    recent = time.time() - TOUCH_EVERY / 2
    set_last_used(api, alice, recent)
    for _ in range(3):
        assert api.http.get("/usage", headers=alice.headers).status_code == 200
    assert last_used(api, alice) == recent
    set_last_used(api, alice, time.time() - TOUCH_EVERY - 1)
    before = time.time()
    assert api.http.get("/usage", headers=alice.headers).status_code == 200
    assert before <= last_used(api, alice) <= time.time()


def test_a_login_prunes_the_accounts_dead_tokens(make_api: AppFactory) -> None:
    api = make_api(token_idle_days=30)
    alice = api.signup()
    bob = api.signup()
    old = second_device(api, alice)
    for _ in range(5):
        device = second_device(api, alice)
        assert api.http.post("/auth/logout", headers=device.headers).status_code == 204
    set_last_used(api, old, time.time() - 31 * DAY)
    set_last_used(api, bob, time.time() - 31 * DAY)  # another user's: not this login's business
    second_device(api, alice)
    with api.app.state.engine.connect() as conn:
        rows = conn.execute(select(tokens.c.user_id, tokens.c.revoked_at)).all()
    assert sorted(r.user_id for r in rows) == sorted([alice.user_id] * 2 + [bob.user_id])
    assert all(r.revoked_at is None for r in rows)


def test_migration_8_starts_old_tokens_clocks_at_the_upgrade(
    database_url: str, make_api: AppFactory
) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:  # back to the shape version 7 left, with a token in it
            conn.execute(text("ALTER TABLE tokens DROP COLUMN last_used_at"))
            conn.execute(schema_version.delete().where(schema_version.c.version >= 8))
            conn.execute(
                text(
                    "INSERT INTO users (email, kek_salt, ops_limit, mem_limit, master_key_wrapped,"
                    " master_key_wrapped_recovery, recovery_key_wrapped, login_hash, quota_bytes,"
                    " version, created_at) VALUES ('old@b.c', :b, 1, 1, :b, :b, :b, 'x', 1, 0, 0)"
                ),
                {"b": b"k"},
            )
            user_id = conn.execute(text("SELECT id FROM users")).scalar_one()
            conn.execute(
                text("INSERT INTO tokens (token_hash, user_id, created_at) VALUES (:h, :u, 1000)"),
                {"h": hash_token("old-token"), "u": user_id},
            )
        with engine.connect() as conn:
            assert "last_used_at" not in {c["name"] for c in inspect(conn).get_columns("tokens")}
        upgraded = time.time()
        assert migrate(engine) == MIGRATIONS[-1][0] >= 8
        assert migrate(engine) == MIGRATIONS[-1][0]  # idempotent
        with engine.connect() as conn:
            assert "last_used_at" in {c["name"] for c in inspect(conn).get_columns("tokens")}
            assert conn.execute(select(tokens.c.last_used_at)).scalar_one() >= upgraded
    finally:
        engine.dispose()
    # a token made years before the upgrade still works afterwards
    api = make_api(token_idle_days=30)
    headers = {"Authorization": "Bearer old-token"}
    assert api.http.get("/usage", headers=headers).status_code == 200
    with api.app.state.engine.begin() as conn:
        conn.execute(insert(tokens).values(token_hash="h" * 64, user_id=user_id, created_at=5))
    assert len(api.http.get("/auth/sessions", headers=headers).json()["sessions"]) == 1


# -- event streams end with their token -------------------------------------------------------


@pytest.fixture
def served(make_api: AppFactory) -> Iterator[Served]:
    api = make_api(events_heartbeat_seconds=30)  # no heartbeat ends a wait here
    with serve(api) as url:
        served = Served(api, url)
        yield served
    for client in served.clients:
        client.close()


def ended_within(listener: Listener, seconds: float) -> float:
    """Seconds until the listener's stream ended cleanly (fails if it did not)."""
    started = time.monotonic()
    item = listener.received.get(timeout=seconds)
    assert item is None, f"expected the stream to end, got {item!r}"
    return time.monotonic() - started


def test_logout_ends_the_tokens_event_stream_within_a_second(served: Served) -> None:
    api = served.api
    alice = api.signup()
    phone = second_device(api, alice)
    mine, other = Listener(served.client(alice.token)), Listener(served.client(phone.token))
    assert mine.first() == other.first() == 0
    with httpx.Client() as http:
        response = http.post(f"{served.url}/auth/logout", headers=alice.headers)
        assert response.status_code == 204
    assert ended_within(mine, WITHIN) < WITHIN
    assert other.quiet(0.5)  # the other device's stream goes on, and still hears changes
    api.album(phone)
    assert other.next()[1] == 1
    assert served.api.services.events.watched == {alice.user_id}


def test_a_revoked_session_ends_its_streams(served: Served) -> None:
    api = served.api
    alice = api.signup()
    phone = second_device(api, alice)
    streams = [Listener(served.client(phone.token)) for _ in range(2)]
    for stream in streams:
        assert stream.first() == 0
    phone_id = next(s["id"] for s in sessions(api, phone).json()["sessions"] if s["current"])
    with httpx.Client() as http:
        response = http.delete(f"{served.url}/auth/sessions/{phone_id}", headers=alice.headers)
        assert response.status_code == 204
    for stream in streams:
        assert ended_within(stream, WITHIN) < WITHIN


def test_revoke_all_ends_every_stream(served: Served) -> None:
    api = served.api
    alice = api.signup()
    phone = second_device(api, alice)
    streams = [Listener(served.client(a.token)) for a in (alice, phone)]
    for stream in streams:
        assert stream.first() == 0
    with httpx.Client() as http:
        response = http.post(f"{served.url}/auth/revoke-all", headers=phone.headers)
        assert response.status_code == 204
    for stream in streams:
        assert ended_within(stream, WITHIN) < WITHIN


def test_a_revocation_through_another_replica_ends_the_stream(
    served: Served, make_api: AppFactory
) -> None:
    api = served.api
    alice = api.signup()
    phone = second_device(api, alice)
    stream = Listener(served.client(phone.token))
    assert stream.first() == 0
    replica = make_api()  # another app on the same database: only the poller can tell
    assert replica.http.post("/auth/logout", headers=phone.headers).status_code == 204
    assert ended_within(stream, WITHIN) < WITHIN


def test_the_feed_ends_only_the_watches_of_revoked_tokens() -> None:
    live = {1, 2}
    reads: list[frozenset[int]] = []

    def versions(user_ids: Collection[int]) -> Mapping[int, int]:
        return dict.fromkeys(user_ids, 0)

    def unrevoked(token_ids: Collection[int]) -> Collection[int]:
        reads.append(frozenset(token_ids))
        return live & set(token_ids)

    async def scenario() -> list[str]:
        feed = ChangeFeed(versions, poll_interval=0.02, heartbeat=10, live_tokens=unrevoked)
        await feed.start()
        ended: list[str] = []

        async def listen(name: str, token_id: int | None) -> None:
            with feed.watch(7, 0, token_id) as watch:
                async for _ in watch.changes():
                    pass
            ended.append(name)

        tasks = {
            name: asyncio.create_task(listen(name, token))
            for name, token in (("one", 1), ("two", 2), ("untracked", None))
        }
        await asyncio.sleep(0.1)
        assert ended == [] and reads and reads[-1] == {1, 2}
        live.discard(1)
        await asyncio.wait_for(tasks["one"], 1)
        await asyncio.sleep(0.1)
        assert ended == ["one"]
        await feed.stop()  # closing ends the rest
        await asyncio.wait_for(asyncio.gather(tasks["two"], tasks["untracked"]), 1)
        return ended

    assert asyncio.run(scenario())[0] == "one"
