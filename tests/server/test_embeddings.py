"""File embeddings (similar-photo search): put and query, replacing, all or none, isolation,
validation, the trash (kept while trashed, gone when deleted for good), the migration, and the
client's methods."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, inspect, select

from photoark.client.errors import ApiError
from photoark.protocol.models import (
    MAX_BUNDLE_FILES,
    MAX_EMBEDDING_BYTES,
    MAX_EMBEDDING_QUERY,
    EmbeddingItem,
)
from photoark.server.services.trash import DAY_SECONDS, TrashService
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import file_embeddings, schema_version
from photoark.server.store.trash import TrashStore

from .conftest import Account, Api, b64
from .diffs import api_client

MODEL = "efficientnet-lite0-r4-v1"


def new_files(api: Api, account: Account, count: int) -> list[int]:
    album = api.album(account)
    return [api.new_file(account, album, size=1000, thumb_size=0)[0]["id"] for _ in range(count)]


def put(api: Api, account: Account, items: list[tuple[int, bytes]], model: str = MODEL) -> Any:
    body = {"model": model, "items": [{"file_id": i, "data": b64(d)} for i, d in items]}
    return api.http.put("/embeddings", json=body, headers=account.headers)


def put_ok(api: Api, account: Account, items: list[tuple[int, bytes]], model: str = MODEL) -> None:
    response = put(api, account, items, model)
    assert response.status_code == 204, response.text
    assert response.content == b""


def query(
    api: Api, account: Account, file_ids: list[int], model: str = MODEL
) -> list[tuple[int, bytes]]:
    response = api.http.post(
        "/embeddings/query", json={"model": model, "file_ids": file_ids}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return [
        (int(item["file_id"]), EmbeddingItem.model_validate(item).data)
        for item in response.json()["items"]
    ]


def stored(api: Api) -> list[tuple[int, str, int, bytes]]:
    """Every row of the table, straight from the database: (file, model, owner, data)."""
    with api.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(file_embeddings).order_by(file_embeddings.c.file_id, file_embeddings.c.model)
        ).all()
    return [(int(r.file_id), str(r.model), int(r.owner_id), bytes(r.data)) for r in rows]


def test_put_then_query_round_trip(api: Api, alice: Account) -> None:
    a, b, c = new_files(api, alice, 3)
    data = {i: os.urandom(2600) for i in (a, b, c)}
    put_ok(api, alice, [(c, data[c]), (a, data[a])])  # any order
    put_ok(api, alice, [(b, b"other model")], model="clip-vit-b32.v2")
    # by file id, only those stored, bytes as they were sent
    assert query(api, alice, [c, b, a]) == [(a, data[a]), (c, data[c])]
    assert query(api, alice, [c]) == [(c, data[c])]
    assert query(api, alice, [b]) == []
    assert query(api, alice, [a, b, c], model="clip-vit-b32.v2") == [(b, b"other model")]
    assert query(api, alice, [a], model="never-stored") == []
    assert query(api, alice, [a, a, c]) == [(a, data[a]), (c, data[c])]  # each once
    assert query(api, alice, [987654321]) == []
    assert stored(api) == [
        (a, MODEL, alice.user_id, data[a]),
        (b, "clip-vit-b32.v2", alice.user_id, b"other model"),
        (c, MODEL, alice.user_id, data[c]),
    ]


def test_a_second_put_replaces(api: Api, alice: Account) -> None:
    a, b = new_files(api, alice, 2)
    put_ok(api, alice, [(a, b"first"), (b, b"kept")])
    with api.app.state.engine.connect() as conn:
        first = conn.execute(
            select(file_embeddings.c.updated_at).where(file_embeddings.c.file_id == a)
        ).scalar_one()
    put_ok(api, alice, [(a, b"second")])
    put_ok(api, alice, [(a, b"second")])  # a retry is harmless
    assert query(api, alice, [a, b]) == [(a, b"second"), (b, b"kept")]
    assert len(stored(api)) == 2
    with api.app.state.engine.connect() as conn:
        updated = conn.execute(
            select(file_embeddings.c.updated_at).where(file_embeddings.c.file_id == a)
        ).scalar_one()
    assert first <= updated <= time.time()


def test_a_file_not_the_callers_refuses_all(api: Api, alice: Account, bob: Account) -> None:
    (mine,) = new_files(api, alice, 1)
    (theirs,) = new_files(api, bob, 1)
    for ids in ([mine, theirs], [theirs, mine], [mine, 987654321, theirs]):
        response = put(api, alice, [(i, b"x") for i in ids])
        assert response.status_code == 404, response.text
        problem = response.json()
        assert problem["code"] == "not_found"
        assert problem["details"]["file_ids"] == [i for i in ids if i != mine]
    assert stored(api) == []  # all or none
    put_ok(api, bob, [(theirs, b"bob's")])
    assert query(api, alice, [theirs]) == []  # another user's: simply absent
    assert query(api, alice, [mine, theirs]) == []
    assert query(api, bob, [mine, theirs]) == [(theirs, b"bob's")]


def test_a_file_twice_is_400(api: Api, alice: Account) -> None:
    a, b = new_files(api, alice, 2)
    response = put(api, alice, [(a, b"1"), (b, b"2"), (a, b"3")])
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    # a duplicate is refused before the ownership check
    assert put(api, alice, [(987654321, b"1"), (987654321, b"2")]).status_code == 400
    assert stored(api) == []


BAD_MODELS: list[Any] = [
    "",
    "Upper",
    "-leading-dash",
    ".leading-dot",
    "has space",
    "a/b",
    "a_b",
    "a" * 65,
    "model\n",
    None,
    12,
]


def test_bad_requests_are_400_and_store_nothing(api: Api, alice: Account) -> None:
    (a,) = new_files(api, alice, 1)
    item = {"file_id": a, "data": b64(b"x")}
    bodies: list[Any] = [{"model": m, "items": [item]} for m in BAD_MODELS]
    bodies += [
        {"model": MODEL, "items": [{"file_id": a, "data": b64(b"x" * (MAX_EMBEDDING_BYTES + 1))}]},
        {"model": MODEL, "items": [{"file_id": a, "data": ""}]},
        {"model": MODEL, "items": [{"file_id": a, "data": "not base64!"}]},
        {"model": MODEL, "items": [{"file_id": a}]},
        {"model": MODEL, "items": []},
        {
            "model": MODEL,
            "items": [{"file_id": i, "data": b64(b"x")} for i in range(MAX_BUNDLE_FILES + 1)],
        },
        {"model": MODEL, "items": [{**item, "other": 1}]},
        {"items": [item]},
        {"model": MODEL},
    ]
    for body in bodies:
        response = api.http.put("/embeddings", json=body, headers=alice.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "bad_request"
    assert stored(api) == []
    # the largest embedding and the longest model name are fine
    put_ok(api, alice, [(a, b"y" * MAX_EMBEDDING_BYTES)], model="m" * 64)
    assert query(api, alice, [a], model="m" * 64) == [(a, b"y" * MAX_EMBEDDING_BYTES)]


def test_bad_queries_are_400(api: Api, alice: Account) -> None:
    bodies: list[Any] = [{"model": m, "file_ids": [1]} for m in BAD_MODELS]
    bodies += [
        {"model": MODEL, "file_ids": []},
        {"model": MODEL, "file_ids": list(range(1, MAX_EMBEDDING_QUERY + 2))},
        {"model": MODEL, "file_ids": ["x"]},
        {"model": MODEL},
    ]
    for body in bodies:
        response = api.http.post("/embeddings/query", json=body, headers=alice.headers)
        assert response.status_code == 400, (body, response.text)
    assert query(api, alice, list(range(1, MAX_EMBEDDING_QUERY + 1))) == []  # the largest query


def test_embeddings_need_authentication(api: Api) -> None:
    body = {"model": MODEL, "items": [{"file_id": 1, "data": b64(b"x")}]}
    assert api.http.put("/embeddings", json=body).status_code == 401
    query_body = {"model": MODEL, "file_ids": [1]}
    assert api.http.post("/embeddings/query", json=query_body).status_code == 401


def trash(api: Api, account: Account, path: str, file_ids: list[int] | None = None) -> Any:
    body = None if file_ids is None else {"file_ids": file_ids}
    response = api.http.post(path, json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_trashed_file_keeps_its_embedding(api: Api, alice: Account) -> None:
    a, b = new_files(api, alice, 2)
    put_ok(api, alice, [(a, b"before")])
    trash(api, alice, "/files/trash", [a, b])
    assert query(api, alice, [a, b]) == [(a, b"before")]
    put_ok(api, alice, [(b, b"while trashed")])  # accepted in the trash
    assert query(api, alice, [a, b]) == [(a, b"before"), (b, b"while trashed")]
    trash(api, alice, "/trash/restore", [a])
    assert query(api, alice, [a, b]) == [(a, b"before"), (b, b"while trashed")]


def test_deleting_for_good_deletes_embeddings(api: Api, alice: Account, bob: Account) -> None:
    doomed, emptied, kept = new_files(api, alice, 3)
    (theirs,) = new_files(api, bob, 1)
    put_ok(api, alice, [(doomed, b"d"), (emptied, b"e"), (kept, b"k")])
    put_ok(api, alice, [(doomed, b"d2")], model="other")
    put_ok(api, bob, [(theirs, b"t")])
    trash(api, bob, "/files/trash", [theirs])

    trash(api, alice, "/files/trash", [doomed])
    assert trash(api, alice, "/trash/delete", [doomed])["deleted"] == 1
    assert [row[0] for row in stored(api)] == [emptied, kept, theirs]
    assert query(api, alice, [doomed], model="other") == []
    refused = put(api, alice, [(kept, b"k2"), (doomed, b"d3")])  # deleted for good: 404
    assert refused.status_code == 404
    assert refused.json()["details"]["file_ids"] == [doomed]
    assert query(api, alice, [kept]) == [(kept, b"k")]  # all or none

    trash(api, alice, "/files/trash", [emptied])
    assert trash(api, alice, "/trash/empty")["deleted"] == 1
    assert stored(api) == [(kept, MODEL, alice.user_id, b"k"), (theirs, MODEL, bob.user_id, b"t")]
    assert query(api, alice, [doomed, emptied, kept]) == [(kept, b"k")]


def test_the_expiry_sweep_deletes_embeddings(api: Api, alice: Account) -> None:
    old, fresh = new_files(api, alice, 2)
    put_ok(api, alice, [(old, b"o"), (fresh, b"f")])
    trash(api, alice, "/files/trash", [old])
    later = time.time() + 2 * DAY_SECONDS
    sweeper = TrashService(
        TrashStore(api.app.state.engine), api.blobs, trash_days=1, clock=lambda: later
    )
    assert sweeper.sweep_expired() == 1
    assert stored(api) == [(fresh, MODEL, alice.user_id, b"f")]


def test_client_put_and_query(api: Api, alice: Account, bob: Account) -> None:
    a, b, c = new_files(api, alice, 3)
    (theirs,) = new_files(api, bob, 1)
    client, transport = api_client(api, alice)
    client.put_embeddings(
        MODEL, [EmbeddingItem(file_id=c, data=b"c"), EmbeddingItem(file_id=a, data=b"a")]
    )
    assert transport.requests == [("PUT", "/embeddings")]
    found = client.query_embeddings(MODEL, [c, theirs, b, a])
    assert [(i.file_id, i.data) for i in found] == [(a, b"a"), (c, b"c")]
    assert transport.requests[-1] == ("POST", "/embeddings/query")
    assert client.query_embeddings("other", [a]) == []
    with pytest.raises(ApiError) as err:
        client.put_embeddings(MODEL, [EmbeddingItem(file_id=theirs, data=b"x")])
    assert (err.value.status, err.value.code) == (404, "not_found")
    assert err.value.details == {"file_ids": [theirs]}
    sent = len(transport.requests)
    with pytest.raises(ValidationError):  # refused before sending
        client.put_embeddings("Bad Model", [EmbeddingItem(file_id=a, data=b"x")])
    with pytest.raises(ValidationError):
        client.query_embeddings(MODEL, [])
    assert len(transport.requests) == sent


def test_migration_adds_file_embeddings_to_an_old_database(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as conn:  # a database that versions 1 to 5 made
            schema_version.create(conn)
            for version, migration in MIGRATIONS[:5]:
                migration(conn)
                conn.execute(insert(schema_version).values(version=version, applied_at=0.0))
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        assert "deletion_marks" in tables and "file_embeddings" not in tables
        assert migrate(engine) == MIGRATIONS[-1][0] >= 6
        with engine.connect() as conn:
            inspector = inspect(conn)
            columns = {c["name"] for c in inspector.get_columns("file_embeddings")}
            primary = inspector.get_pk_constraint("file_embeddings")["constrained_columns"]
            foreign = {
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys("file_embeddings")
            }
        assert columns == {"file_id", "model", "owner_id", "data", "updated_at"}
        assert primary == ["file_id", "model"]
        assert foreign == {(("file_id",), "files"), (("owner_id",), "users")}
    finally:
        engine.dispose()
