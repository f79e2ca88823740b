"""``POST /files/trash``: files leave their albums (tombstones in diff sync, marked for a later
restore), stay readable and counted (as trash), cannot be put back in an album, all or none,
idempotent; the migration that adds the mark; the client's ``trash_files``."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
from sqlalchemy import inspect, select, text

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError
from photoark.client.transport import RetryPolicy
from photoark.crypto.boxes import new_key, wrap_key
from photoark.protocol.models import MAX_BUNDLE_FILES
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import collection_files, schema_version

from .conftest import Account, Api, AppFactory, b64


def trash(api: Api, account: Account, file_ids: list[int]) -> httpx.Response:
    return api.http.post("/files/trash", json={"file_ids": file_ids}, headers=account.headers)


def diff(api: Api, account: Account, since: int = 0) -> dict[str, Any]:
    response = api.http.get("/diff", params={"since": since}, headers=account.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def marks(api: Api, file_id: int) -> dict[int, tuple[bool, bool]]:
    """album id → (is_deleted, trashed) of the file's entries, straight from the database."""
    with api.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(collection_files).where(collection_files.c.file_id == file_id)
        ).all()
    return {int(r.collection_id): (bool(r.is_deleted), bool(r.trashed)) for r in rows}


def test_trash_tombstones_every_entry_and_keeps_the_file(api: Api, alice: Account) -> None:
    a, b, c = api.album(alice, "a"), api.album(alice, "b"), api.album(alice, "c")
    record, content = api.new_file(alice, a)
    other, _ = api.new_file(alice, a)
    file_id = record["id"]
    for album in (b, c):
        assert api.add_to_album(alice, album, file_id).status_code == 201
    removed = api.http.delete(f"/collections/{c.id}/files/{file_id}", headers=alice.headers)
    assert removed.status_code == 204  # removed by hand before: a restore must not revive it
    before = diff(api, alice)["latest_version"]

    response = trash(api, alice, [file_id])
    assert response.status_code == 200, response.text
    (answer,) = response.json()
    assert answer["id"] == file_id and answer["is_trashed"] is True
    assert answer["content_size"] == record["content_size"]

    changes = diff(api, alice, before)
    assert changes["collections"] == []
    tombstones = changes["entries"]
    assert {(e["collection_id"], e["file_id"]) for e in tombstones} == {
        (a.id, file_id),
        (b.id, file_id),
    }
    assert all(e["is_deleted"] and e["file"] is None for e in tombstones)
    assert sorted(e["version"] for e in tombstones) == [before + 1, before + 2]
    assert changes["latest_version"] == before + 2
    assert marks(api, file_id) == {a.id: (True, True), b.id: (True, True), c.id: (True, False)}
    assert marks(api, other["id"]) == {a.id: (False, False)}  # the other file is untouched

    got = api.http.get(f"/files/{file_id}", headers=alice.headers)
    assert got.status_code == 200 and got.json()["is_trashed"] is True
    download = api.http.get(f"/files/{file_id}/content", headers=alice.headers)
    assert download.status_code == 200 and download.content == content
    assert (
        api.http.get(f"/files/{other['id']}", headers=alice.headers).json()["is_trashed"] is False
    )


def test_trash_is_idempotent(api: Api, alice: Account) -> None:
    album = api.album(alice)
    first, _ = api.new_file(alice, album, size=3000, thumb_size=0)
    second, _ = api.new_file(alice, album, size=3000, thumb_size=0)
    once = trash(api, alice, [first["id"]])
    assert once.status_code == 200
    version = diff(api, alice)["latest_version"]
    again = trash(api, alice, [first["id"]])
    assert again.status_code == 200 and again.json() == once.json()
    assert diff(api, alice)["latest_version"] == version  # no new version, no new tombstone
    mixed = trash(api, alice, [second["id"], first["id"]])  # one new, one already there
    assert mixed.status_code == 200
    assert [(r["id"], r["is_trashed"]) for r in mixed.json()] == [
        (second["id"], True),
        (first["id"], True),
    ]
    assert diff(api, alice)["latest_version"] == version + 1  # only the new file's entry


def test_unknown_or_another_users_file_refuses_all(api: Api, alice: Account, bob: Account) -> None:
    album = api.album(alice)
    mine, _ = api.new_file(alice, album, size=3000, thumb_size=0)
    theirs, _ = api.new_file(bob, api.album(bob), size=3000, thumb_size=0)
    version = diff(api, alice)["latest_version"]
    for ids in ([mine["id"], theirs["id"]], [mine["id"], 987654321], [theirs["id"]]):
        response = trash(api, alice, ids)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert diff(api, alice)["latest_version"] == version
    assert api.http.get(f"/files/{mine['id']}", headers=alice.headers).json()["is_trashed"] is False
    assert marks(api, mine["id"]) == {album.id: (False, False)}
    assert api.http.get(f"/files/{theirs['id']}", headers=bob.headers).json()["is_trashed"] is False

    bad_bodies: list[dict[str, list[int]]] = [
        {"file_ids": [mine["id"], mine["id"]]},
        {"file_ids": []},
        {"file_ids": list(range(1, MAX_BUNDLE_FILES + 2))},
        {"file_ids": [-1]},
    ]
    for body in bad_bodies:
        response = api.http.post("/files/trash", json=body, headers=alice.headers)
        assert response.status_code == 400, body
        assert response.json()["code"] == "bad_request"
    assert api.http.post("/files/trash", json={"file_ids": [mine["id"]]}).status_code == 401


def test_usage_moves_from_stored_to_trash(make_api: AppFactory) -> None:
    size, thumb = 40_000, 2_000
    api = make_api(default_quota=2 * (size + thumb) + 1000)
    alice = api.signup()
    album, extra = api.album(alice), api.album(alice, "extra")
    record, _ = api.new_file(alice, album, size=size, thumb_size=thumb)
    assert api.add_to_album(alice, extra, record["id"]).status_code == 201
    kept, _ = api.new_file(alice, album, size=size, thumb_size=thumb)
    before = api.usage(alice)
    assert trash(api, alice, [record["id"]]).status_code == 200
    after = api.usage(alice)
    assert after["stored_bytes"] == before["stored_bytes"] - (size + thumb)
    assert after["trash_bytes"] == before["trash_bytes"] + (size + thumb)
    assert after["files"] == before["files"] - 1
    assert after["logical_bytes"] == before["logical_bytes"] - 2 * (size + thumb)  # 2 albums
    # the trash still counts against the quota: a file as large does not fit
    refused = api.open_upload(alice, size)
    assert refused.status_code == 413 and refused.json()["code"] == "quota_exceeded"
    assert refused.json()["details"]["used_bytes"] == 2 * (size + thumb)
    assert kept["is_trashed"] is False


def test_a_trashed_file_cannot_go_back_in_an_album(api: Api, alice: Account) -> None:
    album, other = api.album(alice), api.album(alice, "other")
    content = api.upload(alice, os.urandom(5000))
    committed = api.commit(alice, album, content)
    assert committed.status_code == 201
    gone = committed.json()
    live, _ = api.new_file(alice, album, size=3000, thumb_size=0)
    assert trash(api, alice, [gone["id"]]).status_code == 200
    version = diff(api, alice)["latest_version"]

    single = api.add_to_album(alice, other, gone["id"])
    assert single.status_code == 404 and single.json()["code"] == "not_found"
    batch = api.http.post(
        f"/collections/{other.id}/files/batch",
        json={
            "items": [
                {"file_id": i, "encrypted_key": b64(wrap_key(other.key, new_key()))}
                for i in (live["id"], gone["id"])
            ]
        },
        headers=alice.headers,
    )
    assert batch.status_code == 404 and batch.json()["code"] == "not_found"
    assert other.id not in marks(api, live["id"])  # all or none: the live file was not added

    # a retried commit of its upload answers the file, in the trash, and adds no entry
    again = api.commit(alice, other, content)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == gone["id"] and again.json()["is_trashed"] is True
    assert diff(api, alice)["latest_version"] == version
    assert marks(api, gone["id"]) == {album.id: (True, True)}


def test_a_resent_bundle_of_a_trashed_file_adds_no_entry(api: Api, alice: Account) -> None:
    album = api.album(alice)
    upload_ids = [uuid.uuid4().hex, uuid.uuid4().hex]
    contents = [os.urandom(1000), os.urandom(1200)]
    first = api.bundle(alice, album, contents, upload_ids)
    assert first.status_code == 201, first.text
    files = first.json()["files"]
    assert trash(api, alice, [files[0]["id"]]).status_code == 200
    version = diff(api, alice)["latest_version"]
    again = api.bundle(alice, album, contents, upload_ids)
    assert again.status_code == 201, again.text
    assert [(f["id"], f["is_trashed"]) for f in again.json()["files"]] == [
        (files[0]["id"], True),
        (files[1]["id"], False),
    ]
    assert diff(api, alice)["latest_version"] == version
    # thumbnails may still be attached to a trashed file (a backup sends them after)
    assert api.thumbnails(alice, [(files[0]["id"], os.urandom(300))]).status_code == 200


def test_readding_after_a_manual_removal_clears_the_mark(api: Api, alice: Account) -> None:
    """A revived entry never keeps a trash mark (it is set again by the next trash)."""
    album = api.album(alice)
    record, _ = api.new_file(alice, album, size=2000, thumb_size=0)
    api.http.delete(f"/collections/{album.id}/files/{record['id']}", headers=alice.headers)
    with api.app.state.engine.begin() as conn:  # a stale mark, as a restore bug could leave
        conn.execute(collection_files.update().values(trashed=True))
    assert api.add_to_album(alice, album, record["id"]).status_code == 201
    assert marks(api, record["id"]) == {album.id: (False, False)}


def test_migration_adds_the_trash_mark_to_an_old_database(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:  # back to the shape version 2 left
            conn.execute(text("DROP INDEX ix_collection_files_file"))
            conn.execute(text("DROP INDEX ix_files_trashed_at"))
            conn.execute(text("ALTER TABLE collection_files DROP COLUMN trashed"))
            conn.execute(schema_version.delete().where(schema_version.c.version >= 3))
            conn.execute(
                text(
                    "INSERT INTO users (email, kek_salt, ops_limit, mem_limit, master_key_wrapped,"
                    " master_key_wrapped_recovery, recovery_key_wrapped, login_hash, quota_bytes,"
                    " version, created_at) VALUES ('a@b.c', :b, 1, 1, :b, :b, :b, 'x', 1, 1, 0)"
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
                    "INSERT INTO files (owner_id, content_object, content_size, thumbnail_size,"
                    " encrypted_metadata, created_at, is_deleted) VALUES (1, 'o', 1, 0, :b, 0,"
                    " false)"
                ),
                {"b": b"m"},
            )
            conn.execute(
                text(
                    "INSERT INTO collection_files (collection_id, file_id, owner_id,"
                    " encrypted_key, version, is_deleted) VALUES (1, 1, 1, :b, 1, false)"
                ),
                {"b": b"k"},
            )
        with engine.connect() as conn:
            assert "trashed" not in {
                c["name"] for c in inspect(conn).get_columns("collection_files")
            }
        assert migrate(engine) == MIGRATIONS[-1][0] >= 5
        with engine.connect() as conn:
            assert conn.execute(select(collection_files.c.trashed)).scalars().all() == [False]
            indexes = {i["name"] for i in inspect(conn).get_indexes("collection_files")}
            file_indexes = {i["name"] for i in inspect(conn).get_indexes("files")}
        assert "ix_collection_files_file" in indexes
        assert "ix_files_trashed_at" in file_indexes
    finally:
        engine.dispose()


class ViaTestClient(httpx.BaseTransport):
    """An httpx transport that hands each request to the in-process app's test client."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.api.http.request(
            request.method,
            request.url.raw_path.decode("ascii"),
            content=request.read(),
            headers=request.headers,
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


def test_client_trash_files(api: Api, alice: Account) -> None:
    album = api.album(alice)
    records = [api.new_file(alice, album, size=2000, thumb_size=0)[0] for _ in range(3)]
    ids = [r["id"] for r in reversed(records)]
    client = ApiClient(
        "http://testserver", alice.token, RetryPolicy(attempts=1), ViaTestClient(api)
    )
    trashed = client.trash_files(ids)
    assert [r.id for r in trashed] == ids and all(r.is_trashed for r in trashed)
    assert client.trash_files(ids[:1])[0].is_trashed
    assert client.file(ids[0]).is_trashed
    try:
        client.trash_files([987654321])
    except ApiError as err:
        assert (err.status, err.code) == (404, "not_found")
    else:
        raise AssertionError("an unknown file was trashed")
    client.remove_from_collection(album.id, ids[0])  # a tombstone already: a no-op (204)
