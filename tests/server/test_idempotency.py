"""Idempotency keys of ``POST /collections`` and ``POST /uploads``: a repeat of a request with the
same key (a retry after a lost answer) answers the first result and creates nothing; keys are
per user; a key reused with another body is a 409; requests without a key create each time; a
database made before the keys is migrated; concurrent repeats leave one row."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.protocol.models import MIN_PART_SIZE
from photoark.server.store import collections as collection_store
from photoark.server.store import create_db_engine, migrate
from photoark.server.store import uploads as upload_store
from photoark.server.store.idempotency import create_once
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import collections, schema_version, uploads

from .conftest import Account, Api, AppFactory, Uploaded, b64

PART = MIN_PART_SIZE
KEY = "k" * 16  # the shortest key
COLLECTIONS_KEY_INDEX = "ix_collections_owner_idempotency"
UPLOADS_KEY_INDEX = "ix_uploads_owner_idempotency"


def album_body(account: Account, key: str | None, name: str = "album") -> dict[str, Any]:
    album_key = new_key()
    body: dict[str, Any] = {
        "encrypted_key": b64(wrap_key(account.keys.master_key, album_key)),
        "encrypted_name": b64(seal(album_key, name.encode())),
    }
    if key is not None:
        body["idempotency_key"] = key
    return body


def create_album(api: Api, account: Account, body: dict[str, Any]) -> Any:
    return api.http.post("/collections", json=body, headers=account.headers)


def open_upload(
    api: Api, account: Account, key: str | None, size: int = PART, part_size: int | None = None
) -> Any:
    """``POST /uploads``; parts of ``api.part_size`` (S3's minimum there) unless given."""
    body: dict[str, Any] = {"size": size, "part_size": part_size or api.part_size}
    if key is not None:
        body["idempotency_key"] = key
    return api.http.post("/uploads", json=body, headers=account.headers)


def count(api: Api, table: Any, account: Account) -> int:
    with api.app.state.engine.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.owner_id == account.user_id)
        return int(conn.execute(query).scalar_one())


def latest_version(api: Api, account: Account) -> int:
    diff = api.http.get("/diff", params={"since": 0}, headers=account.headers)
    assert diff.status_code == 200, diff.text
    return int(diff.json()["latest_version"])


# -- albums -------------------------------------------------------------------------------------


def test_album_key_twice_gives_the_same_album_once(api: Api, alice: Account) -> None:
    body = album_body(alice, str(uuid.uuid4()))  # a UUID is a valid key
    first = create_album(api, alice, body)
    assert first.status_code == 201, first.text
    version = latest_version(api, alice)
    again = create_album(api, alice, body)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert count(api, collections, alice) == 1
    assert latest_version(api, alice) == version  # the repeat changed nothing
    listed = api.http.get("/collections", headers=alice.headers).json()
    assert [c["id"] for c in listed] == [first.json()["id"]]


def test_album_repeat_answers_the_album_as_it_is_now(api: Api, alice: Account) -> None:
    """A rename since does not make the repeat a conflict (the body is compared with the first
    request, not with the album's current name)."""
    body = album_body(alice, KEY)
    album_id = create_album(api, alice, body).json()["id"]
    new_name = b64(b"renamed" * 5)
    renamed = api.http.patch(
        f"/collections/{album_id}", json={"encrypted_name": new_name}, headers=alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    again = create_album(api, alice, body)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == album_id
    assert again.json()["encrypted_name"] == new_name


def test_album_keys_of_different_users_are_independent(
    api: Api, alice: Account, bob: Account
) -> None:
    mine = create_album(api, alice, album_body(alice, KEY))
    theirs = create_album(api, bob, album_body(bob, KEY))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert count(api, collections, alice) == count(api, collections, bob) == 1
    # and each user's repeat finds their own
    assert create_album(api, bob, album_body(bob, KEY)).status_code == 409
    assert [c["id"] for c in api.http.get("/collections", headers=bob.headers).json()] == [
        theirs.json()["id"]
    ]


def test_album_key_with_another_body_is_a_conflict(api: Api, alice: Account) -> None:
    body = album_body(alice, KEY)
    first = create_album(api, alice, body)
    assert first.status_code == 201
    for other in (
        album_body(alice, KEY, "other"),  # both fields differ
        {**body, "encrypted_name": album_body(alice, None)["encrypted_name"]},  # the name only
        {**body, "encrypted_key": album_body(alice, None)["encrypted_key"]},  # the key only
    ):
        refused = create_album(api, alice, other)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "conflict"
        assert refused.json()["details"] == {"reason": "idempotency_key_reused"}
    assert count(api, collections, alice) == 1


def test_albums_without_a_key_are_created_each_time(api: Api, alice: Account) -> None:
    body = album_body(alice, None)
    first, second = create_album(api, alice, body), create_album(api, alice, body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert count(api, collections, alice) == 2
    with api.app.state.engine.connect() as conn:
        keys = conn.execute(select(collections.c.idempotency_key)).scalars().all()
    assert keys == [None, None]


@pytest.mark.parametrize(
    "key",
    ["k" * 15, "k" * 65, "has space in it!!", "ünïcödé-is-not-ok", ""],
)
def test_malformed_keys_are_refused(api: Api, alice: Account, key: str) -> None:
    response = create_album(api, alice, album_body(alice, key))
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    response = open_upload(api, alice, key)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    assert count(api, collections, alice) == count(api, uploads, alice) == 0


def test_concurrent_album_repeats_make_one_album(api: Api, alice: Account) -> None:
    body = album_body(alice, "c" * 64)  # the longest key
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: create_album(api, alice, body), range(16)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(api, collections, alice) == 1


# -- upload sessions ----------------------------------------------------------------------------


def test_upload_key_twice_gives_the_same_session_once(api: Api, alice: Account) -> None:
    part = api.part_size  # S3: 5 MiB parts
    first = open_upload(api, alice, KEY, size=2 * part)
    assert first.status_code == 201, first.text
    session = first.json()
    assert api.put_part(alice, session["id"], 0, os.urandom(part)).status_code == 200
    again = open_upload(api, alice, KEY, size=2 * part)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == session["id"]
    assert again.json()["expires_at"] == session["expires_at"]
    assert [p["number"] for p in again.json()["parts"]] == [0]  # as it is now
    assert count(api, uploads, alice) == 1


def test_upload_repeat_counts_the_quota_once(make_api: AppFactory) -> None:
    api = make_api(default_quota=2 * PART)
    alice = api.signup()
    session_id = open_upload(api, alice, KEY).json()["id"]
    for _ in range(3):
        assert open_upload(api, alice, KEY).json()["id"] == session_id
    # one PART is held, not four: another session of PART still fits ...
    assert open_upload(api, alice, None).status_code == 201
    # ... and then the quota is full, yet the repeat still answers its session
    full = open_upload(api, alice, None, size=1)
    assert full.status_code == 413
    assert full.json()["details"]["used_bytes"] == 2 * PART
    repeat = open_upload(api, alice, KEY)
    assert repeat.status_code == 201 and repeat.json()["id"] == session_id
    assert count(api, uploads, alice) == 2


def test_upload_keys_of_different_users_are_independent(
    api: Api, alice: Account, bob: Account
) -> None:
    part = api.part_size  # S3: 5 MiB parts
    mine, theirs = open_upload(api, alice, KEY), open_upload(api, bob, KEY, size=part + 1)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert count(api, uploads, alice) == count(api, uploads, bob) == 1
    assert api.http.get(f"/uploads/{theirs.json()['id']}", headers=alice.headers).status_code == 404


def test_upload_key_with_another_body_is_a_conflict(api: Api, alice: Account) -> None:
    part = api.part_size  # S3: 5 MiB parts
    assert open_upload(api, alice, KEY, size=3 * part, part_size=part).status_code == 201
    for size, part_size in ((3 * part + 1, part), (3 * part, 2 * part)):
        refused = open_upload(api, alice, KEY, size=size, part_size=part_size)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "conflict"
        assert refused.json()["details"] == {"reason": "idempotency_key_reused"}
    assert count(api, uploads, alice) == 1


def test_uploads_without_a_key_are_opened_each_time(api: Api, alice: Account) -> None:
    first, second = open_upload(api, alice, None), open_upload(api, alice, None)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert count(api, uploads, alice) == 2


def test_upload_key_of_a_committed_session_answers_it(api: Api, alice: Account) -> None:
    album = api.album(alice)
    data = os.urandom(1000)
    session = open_upload(api, alice, KEY, size=len(data)).json()
    assert api.put_part(alice, session["id"], 0, data).status_code == 200
    assert api.commit(alice, album, Uploaded(session["id"], data)).status_code == 201
    again = open_upload(api, alice, KEY, size=len(data))
    assert again.status_code == 201
    assert again.json()["id"] == session["id"] and again.json()["state"] == "committed"


def test_upload_key_of_an_expired_session_opens_a_new_one(make_api: AppFactory) -> None:
    api = make_api(upload_expiry_seconds=-1)  # every session is born expired
    alice = api.signup()
    expired = open_upload(api, alice, KEY).json()
    api.blobs.put_part(expired["id"], 0, b"leftover")
    fresh = open_upload(api, alice, KEY)
    assert fresh.status_code == 201 and fresh.json()["id"] != expired["id"]
    assert count(api, uploads, alice) == 1  # the expired one was discarded, as GC would
    assert api.blobs.part_sizes(expired["id"]) == {}


def test_upload_key_of_an_aborted_session_opens_a_new_one(api: Api, alice: Account) -> None:
    aborted = open_upload(api, alice, KEY).json()["id"]
    assert api.http.delete(f"/uploads/{aborted}", headers=alice.headers).status_code == 204
    reopened = open_upload(api, alice, KEY)
    assert reopened.status_code == 201 and reopened.json()["id"] != aborted
    assert count(api, uploads, alice) == 1


def test_concurrent_upload_repeats_open_one_session(api: Api, alice: Account) -> None:
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: open_upload(api, alice, KEY), range(16)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(api, uploads, alice) == 1


# -- the race the owner's lock does not cover: the unique index decides ------------------------


def _first_find_misses(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    """Make the store's first key lookup miss, as a request that raced another one would: its
    insert then meets the unique index. Returns the list of lookups made."""
    lookups: list[int] = []

    def racing(
        engine: Any, owner_id: int, key: str | None, find: Callable[..., Any], create: Any
    ) -> Any:
        def late_find(conn: Connection) -> Any:
            lookups.append(1)
            return None if len(lookups) == 1 else find(conn)

        return create_once(engine, owner_id, key, late_find, create)

    monkeypatch.setattr(module, "create_once", racing)
    return lookups


def test_a_lost_album_race_answers_the_winner(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = album_body(alice, KEY)
    first = create_album(api, alice, body).json()
    lookups = _first_find_misses(monkeypatch, collection_store)
    again = create_album(api, alice, body)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first["id"]
    assert len(lookups) == 2  # the miss, then the re-read after the unique index refused
    assert count(api, collections, alice) == 1
    # the re-read still tells another body apart
    lookups.clear()
    refused = create_album(api, alice, album_body(alice, KEY, "other"))
    assert refused.status_code == 409 and len(lookups) == 2


def test_a_lost_upload_race_answers_the_winner(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = open_upload(api, alice, KEY).json()
    lookups = _first_find_misses(monkeypatch, upload_store)
    again = open_upload(api, alice, KEY)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first["id"]
    assert len(lookups) == 2
    assert count(api, uploads, alice) == 1


def test_an_integrity_error_not_about_the_key_is_raised(api: Api, alice: Account) -> None:
    """No row under the key after the failure: it was something else, and is not swallowed."""

    def create(conn: Connection) -> None:
        conn.execute(
            insert(collections).values(
                owner_id=alice.user_id + 1000,  # no such user: a foreign key violation
                encrypted_key=b"k",
                encrypted_name=b"n",
                version=1,
                is_deleted=False,
                idempotency_key=KEY,
            )
        )

    with pytest.raises(IntegrityError):
        create_once(api.app.state.engine, alice.user_id, KEY, lambda conn: None, create)


# -- migration ----------------------------------------------------------------------------------


def test_migration_adds_the_keys_to_an_old_database(
    database_url: str, make_api: AppFactory
) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:  # back to the shape version 6 left, with data in it
            for index in (COLLECTIONS_KEY_INDEX, UPLOADS_KEY_INDEX):
                conn.execute(text(f"DROP INDEX {index}"))
            conn.execute(text("ALTER TABLE collections DROP COLUMN idempotency_key"))
            conn.execute(text("ALTER TABLE collections DROP COLUMN idempotency_digest"))
            conn.execute(text("ALTER TABLE uploads DROP COLUMN idempotency_key"))
            conn.execute(schema_version.delete().where(schema_version.c.version >= 7))
            conn.execute(
                text(
                    "INSERT INTO users (email, kek_salt, ops_limit, mem_limit, master_key_wrapped,"
                    " master_key_wrapped_recovery, recovery_key_wrapped, login_hash, quota_bytes,"
                    " version, created_at) VALUES ('old@b.c', :b, 1, 1, :b, :b, :b, 'x', 1, 1, 0)"
                ),
                {"b": b"k"},
            )
            conn.execute(
                text(
                    "INSERT INTO collections (owner_id, encrypted_key, encrypted_name, version,"
                    " is_deleted) VALUES (1, :b, :b, 1, false)"
                ),
                {"b": b"k"},
            )
            conn.execute(
                text(
                    "INSERT INTO uploads (id, owner_id, size, part_size, part_count, state,"
                    " object_key, created_at, expires_at) VALUES ('u1', 1, 1, 65536, 1, 'open',"
                    " 'o1', 0, 0)"
                )
            )
        with engine.connect() as conn:
            inspector = inspect(conn)
            assert "idempotency_key" not in {c["name"] for c in inspector.get_columns("uploads")}
            assert "idempotency_key" not in {
                c["name"] for c in inspector.get_columns("collections")
            }
        assert migrate(engine) == MIGRATIONS[-1][0] >= 7
        assert migrate(engine) == MIGRATIONS[-1][0]  # idempotent
        with engine.connect() as conn:
            inspector = inspect(conn)
            columns = {c["name"] for c in inspector.get_columns("collections")}
            assert {"idempotency_key", "idempotency_digest"} <= columns
            assert "idempotency_key" in {c["name"] for c in inspector.get_columns("uploads")}
            for table, name in (
                ("collections", COLLECTIONS_KEY_INDEX),
                ("uploads", UPLOADS_KEY_INDEX),
            ):
                found = next(i for i in inspector.get_indexes(table) if i["name"] == name)
                assert found["unique"] and found["column_names"] == ["owner_id", "idempotency_key"]
            # the old rows have no key
            assert conn.execute(select(collections.c.idempotency_key)).scalars().all() == [None]
            assert conn.execute(select(uploads.c.idempotency_key)).scalars().all() == [None]
    finally:
        engine.dispose()
    # and the migrated database works: keys are kept and enforced
    api = make_api()
    alice = api.signup()
    body = album_body(alice, KEY)
    first, again = create_album(api, alice, body), create_album(api, alice, body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert count(api, collections, alice) == 1
    session = open_upload(api, alice, KEY).json()["id"]
    assert open_upload(api, alice, KEY).json()["id"] == session
    assert count(api, uploads, alice) == 1
    with api.app.state.engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(
            insert(uploads).values(
                id="u2",
                owner_id=alice.user_id,
                size=1,
                part_size=PART,
                part_count=1,
                state="open",
                object_key="o2",
                created_at=0,
                expires_at=0,
                idempotency_key=KEY,
            )
        )
