"""The rest of the trash: ``GET /trash`` (paging, the entries that let a client decrypt),
``POST /trash/restore`` (exactly the trashed entries, not into deleted albums),
``POST /trash/delete`` and ``/trash/empty`` (blobs gone after the commit, usage, 409 for live
files, idempotent), expiry (the sweep and the lifespan's job), ``POST /files/verify``, the
client's methods and the server's options."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError
from photoark.client.transport import RetryPolicy
from photoark.crypto.boxes import open_json, unwrap_key
from photoark.protocol.models import MAX_TRASH_PAGE
from photoark.server import __main__ as server_main
from photoark.server.config import ServerSettings
from photoark.server.services import trash as trash_service
from photoark.server.services.trash import DAY_SECONDS, TrashService
from photoark.server.store.schema import collections, files, uploads
from photoark.server.store.trash import TrashStore

from .conftest import Account, Album, Api, AppFactory
from .test_trash import ViaTestClient, diff, marks, trash


def post(
    api: Api, account: Account, path: str, file_ids: list[int] | None = None
) -> httpx.Response:
    body = None if file_ids is None else {"file_ids": file_ids}
    return api.http.post(path, json=body, headers=account.headers)


def trash_page(api: Api, account: Account, **params: Any) -> dict[str, Any]:
    response = api.http.get("/trash", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def objects(api: Api, file_id: int) -> list[str]:
    """The blob keys of a file (content, and thumbnail if any), from the database."""
    with api.app.state.engine.connect() as conn:
        row = conn.execute(select(files).where(files.c.id == file_id)).one()
    return [k for k in (row.content_object, row.thumbnail_object) if k is not None]


def delete_album(api: Api, album: Album) -> None:
    """There is no endpoint for it yet: as a later one would leave it."""
    with api.app.state.engine.begin() as conn:
        conn.execute(
            update(collections).where(collections.c.id == album.id).values(is_deleted=True)
        )


def api_bytes(value: str) -> bytes:
    return base64.b64decode(value)


def size_of(record: dict[str, Any]) -> int:
    return int(record["content_size"]) + int(record["thumbnail_size"])


# -- GET /trash -----------------------------------------------------------------------------------


def test_trash_lists_trashed_files_by_id_with_their_keys(
    api: Api, alice: Account, bob: Account
) -> None:
    a, b, c = api.album(alice, "a"), api.album(alice, "b"), api.album(alice, "c")
    records = [api.new_file(alice, a, size=2000, thumb_size=100)[0] for _ in range(5)]
    ids = [r["id"] for r in records]
    assert api.add_to_album(alice, b, ids[1]).status_code == 201
    assert api.add_to_album(alice, c, ids[1]).status_code == 201
    api.http.delete(f"/collections/{c.id}/files/{ids[1]}", headers=alice.headers)  # by hand
    theirs, _ = api.new_file(bob, api.album(bob), size=1000, thumb_size=0)
    assert trash(api, bob, [theirs["id"]]).status_code == 200
    before = time.time()
    assert trash(api, alice, [ids[3], ids[1], ids[0], ids[4]]).status_code == 200
    after = time.time()

    first = trash_page(api, alice, limit=3)
    assert first["has_more"] is True
    assert [i["file"]["id"] for i in first["items"]] == [ids[0], ids[1], ids[3]]
    rest = trash_page(api, alice, after=ids[3], limit=3)
    assert rest["has_more"] is False
    assert [i["file"]["id"] for i in rest["items"]] == [ids[4]]
    assert trash_page(api, alice, after=ids[4])["items"] == []
    assert [i["file"]["id"] for i in trash_page(api, bob)["items"]] == [theirs["id"]]

    albums = {a.id: a, b.id: b, c.id: c}
    for item in first["items"] + rest["items"]:
        assert item["file"]["is_trashed"] is True
        assert before <= item["trashed_at"] <= after
        assert item["expires_at"] == pytest.approx(item["trashed_at"] + 30 * DAY_SECONDS)
        for entry in item["entries"]:  # each unwraps with its album's key
            album = albums[entry["collection_id"]]
            file_key = unwrap_key(album.key, api_bytes(entry["encrypted_key"]))
            if album is a:  # the album of the commit (an add by reference wraps a random key)
                metadata = open_json(file_key, api_bytes(item["file"]["encrypted_metadata"]))
                assert metadata == {"name": "IMG_0001.JPG"}
    entries = {i["file"]["id"]: [e["collection_id"] for e in i["entries"]] for i in first["items"]}
    assert entries == {ids[0]: [a.id], ids[1]: [a.id, b.id], ids[3]: [a.id]}  # not c: by hand

    for params in ({"limit": 0}, {"limit": MAX_TRASH_PAGE + 1}, {"after": -1}):
        response = api.http.get("/trash", params=params, headers=alice.headers)
        assert response.status_code == 400 and response.json()["code"] == "bad_request"
    assert api.http.get("/trash").status_code == 401


def test_trash_lists_a_file_whose_albums_are_gone(api: Api, alice: Account) -> None:
    album, other = api.album(alice), api.album(alice, "other")
    record, _ = api.new_file(alice, album, size=1000, thumb_size=0)
    orphan, _ = api.new_file(alice, other, size=1000, thumb_size=0)
    api.http.delete(f"/collections/{other.id}/files/{orphan['id']}", headers=alice.headers)
    assert trash(api, alice, [record["id"], orphan["id"]]).status_code == 200
    delete_album(api, album)
    items = {i["file"]["id"]: i for i in trash_page(api, alice)["items"]}
    assert [e["collection_id"] for e in items[record["id"]]["entries"]] == [album.id]
    assert items[orphan["id"]]["entries"] == []  # trashed while in no album


# -- POST /trash/restore --------------------------------------------------------------------------


def test_restore_revives_exactly_the_entries_the_trash_removed(
    api: Api, alice: Account, bob: Account
) -> None:
    a, b, c = api.album(alice, "a"), api.album(alice, "b"), api.album(alice, "c")
    record, content = api.new_file(alice, a)
    other, _ = api.new_file(alice, b, size=3000, thumb_size=0)
    file_id = record["id"]
    for album in (b, c):
        assert api.add_to_album(alice, album, file_id).status_code == 201
    api.http.delete(f"/collections/{c.id}/files/{file_id}", headers=alice.headers)
    usage = api.usage(alice)
    assert trash(api, alice, [file_id, other["id"]]).status_code == 200
    before = diff(api, alice)["latest_version"]

    response = post(api, alice, "/trash/restore", [file_id])
    assert response.status_code == 200, response.text
    (restored,) = response.json()
    assert restored["collection_ids"] == [a.id, b.id]
    assert restored["file"]["id"] == file_id and restored["file"]["is_trashed"] is False
    assert marks(api, file_id) == {a.id: (False, False), b.id: (False, False), c.id: (True, False)}
    changes = diff(api, alice, before)
    revived = {(e["collection_id"], e["is_deleted"], e["version"]) for e in changes["entries"]}
    assert revived == {(a.id, False, before + 1), (b.id, False, before + 2)}
    assert all(e["file"]["is_trashed"] is False for e in changes["entries"])
    assert [i["file"]["id"] for i in trash_page(api, alice)["items"]] == [other["id"]]
    assert api.http.get(f"/files/{file_id}", headers=alice.headers).json()["is_trashed"] is False
    assert api.http.get(f"/files/{file_id}/content", headers=alice.headers).content == content
    assert api.add_to_album(alice, c, file_id).status_code == 201  # usable again
    after = api.usage(alice)
    assert after["stored_bytes"] == usage["stored_bytes"] - 3000
    assert after["trash_bytes"] == 3000

    # not in the trash (a retry after a lost answer): 409, naming the files; nothing changes
    version = diff(api, alice)["latest_version"]
    again = post(api, alice, "/trash/restore", [other["id"], file_id])
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "conflict"
    assert again.json()["details"] == {"reason": "not_in_trash", "file_ids": [file_id]}
    theirs, _ = api.new_file(bob, api.album(bob), size=1000, thumb_size=0)
    assert trash(api, bob, [theirs["id"]]).status_code == 200
    for ids in ([other["id"], theirs["id"]], [other["id"], 987654321]):
        refused = post(api, alice, "/trash/restore", ids)
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
        assert refused.json()["details"] == {"file_ids": [ids[1]]}
    duplicate = post(api, alice, "/trash/restore", [other["id"], other["id"]])
    assert duplicate.status_code == 400
    assert post(api, alice, "/trash/restore", []).status_code == 400
    assert diff(api, alice)["latest_version"] == version
    assert [i["file"]["id"] for i in trash_page(api, alice)["items"]] == [other["id"]]


def test_a_second_trash_after_a_restore_marks_afresh(api: Api, alice: Account) -> None:
    """Restore clears the marks it revives: an entry removed by hand after a restore is not
    brought back by the next restore."""
    a, b = api.album(alice, "a"), api.album(alice, "b")
    record, _ = api.new_file(alice, a, size=1000, thumb_size=0)
    assert api.add_to_album(alice, b, record["id"]).status_code == 201
    assert trash(api, alice, [record["id"]]).status_code == 200
    assert post(api, alice, "/trash/restore", [record["id"]]).status_code == 200
    api.http.delete(f"/collections/{b.id}/files/{record['id']}", headers=alice.headers)
    assert trash(api, alice, [record["id"]]).status_code == 200
    (item,) = trash_page(api, alice)["items"]
    assert [e["collection_id"] for e in item["entries"]] == [a.id]
    (restored,) = post(api, alice, "/trash/restore", [record["id"]]).json()
    assert restored["collection_ids"] == [a.id]
    assert marks(api, record["id"]) == {a.id: (False, False), b.id: (True, False)}


def test_restore_skips_deleted_albums(api: Api, alice: Account) -> None:
    kept, gone = api.album(alice, "kept"), api.album(alice, "gone")
    both, _ = api.new_file(alice, kept, size=1000, thumb_size=0)
    assert api.add_to_album(alice, gone, both["id"]).status_code == 201
    only, _ = api.new_file(alice, gone, size=1000, thumb_size=0)
    assert trash(api, alice, [both["id"], only["id"]]).status_code == 200
    delete_album(api, gone)
    response = post(api, alice, "/trash/restore", [only["id"], both["id"]])
    assert response.status_code == 200, response.text
    assert [(r["file"]["id"], r["collection_ids"]) for r in response.json()] == [
        (only["id"], []),
        (both["id"], [kept.id]),
    ]
    # no trash mark is left behind (a later trash marks afresh)
    assert marks(api, both["id"]) == {kept.id: (False, False), gone.id: (True, False)}
    assert marks(api, only["id"]) == {gone.id: (True, False)}
    usage = api.usage(alice)
    assert (usage["files"], usage["trash_bytes"], usage["stored_bytes"]) == (2, 0, 2000)
    assert usage["logical_bytes"] == 1000  # the homeless file is in no album


# -- POST /trash/delete and /trash/empty ----------------------------------------------------------


def test_delete_for_good(api: Api, alice: Account, bob: Account) -> None:
    album, extra = api.album(alice), api.album(alice, "extra")
    doomed, _ = api.new_file(alice, album, size=5000, thumb_size=300)
    assert api.add_to_album(alice, extra, doomed["id"]).status_code == 201
    live, _ = api.new_file(alice, album, size=4000, thumb_size=0)
    content_upload = _upload_of(api, doomed["id"])
    keys = objects(api, doomed["id"])
    assert len(keys) == 2 and all(api.blobs.object_size(k) is not None for k in keys)
    assert trash(api, alice, [doomed["id"]]).status_code == 200
    tombstones = diff(api, alice)["entries"]

    refused = post(api, alice, "/trash/delete", [doomed["id"], live["id"]])
    assert refused.status_code == 409
    assert refused.json()["details"] == {"reason": "not_in_trash", "file_ids": [live["id"]]}
    theirs, _ = api.new_file(bob, api.album(bob), size=1000, thumb_size=0)
    assert trash(api, bob, [theirs["id"]]).status_code == 200
    assert post(api, alice, "/trash/delete", [doomed["id"], theirs["id"]]).status_code == 404
    assert all(api.blobs.object_size(k) is not None for k in keys)  # all or none

    response = post(api, alice, "/trash/delete", [doomed["id"]])
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 1, "bytes": 5300}
    assert all(api.blobs.object_size(k) is None for k in keys)
    usage = api.usage(alice)
    assert (usage["files"], usage["stored_bytes"], usage["trash_bytes"]) == (1, 4000, 0)
    assert usage["logical_bytes"] == 4000
    assert api.http.get(f"/files/{doomed['id']}", headers=alice.headers).status_code == 404
    assert api.http.get(f"/files/{doomed['id']}/content", headers=alice.headers).status_code == 404
    assert trash_page(api, alice)["items"] == []
    # its upload is forgotten: a client resuming it sends the file afresh
    gone = api.http.get(f"/uploads/{content_upload}", headers=alice.headers)
    assert gone.status_code == 404
    # diff sync still carries the tombstones (a device synced before the trash learns of it)
    assert diff(api, alice)["entries"] == tombstones
    assert marks(api, doomed["id"]) == {album.id: (True, False), extra.id: (True, False)}
    # a retry after a lost answer succeeds and deletes nothing more
    assert post(api, alice, "/trash/delete", [doomed["id"]]).json() == {"deleted": 0, "bytes": 0}
    assert post(api, alice, "/trash/restore", [doomed["id"]]).status_code == 404
    assert trash(api, alice, [doomed["id"]]).status_code == 404
    assert api.add_to_album(alice, album, doomed["id"]).status_code == 404
    assert api.http.get(f"/files/{theirs['id']}", headers=bob.headers).status_code == 200


def _upload_of(api: Api, file_id: int) -> str:
    with api.app.state.engine.connect() as conn:
        return str(
            conn.execute(
                select(uploads.c.id).where(uploads.c.file_id == file_id).order_by(uploads.c.size)
            )
            .scalars()
            .all()[-1]
        )


def test_empty_trash_in_batches(
    api: Api, alice: Account, bob: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trash_service, "DELETE_BATCH", 2)
    album = api.album(alice)
    records = [api.new_file(alice, album, size=1000 + i, thumb_size=10)[0] for i in range(5)]
    kept = records.pop()
    theirs, _ = api.new_file(bob, api.album(bob), size=1000, thumb_size=0)
    assert trash(api, bob, [theirs["id"]]).status_code == 200
    assert trash(api, alice, [r["id"] for r in records]).status_code == 200
    keys = [k for r in records for k in objects(api, r["id"])]
    response = post(api, alice, "/trash/empty")
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 4, "bytes": sum(size_of(r) for r in records)}
    assert all(api.blobs.object_size(k) is None for k in keys)
    assert trash_page(api, alice)["items"] == []
    usage = api.usage(alice)
    assert (usage["files"], usage["stored_bytes"], usage["trash_bytes"]) == (1, size_of(kept), 0)
    assert post(api, alice, "/trash/empty").json() == {"deleted": 0, "bytes": 0}
    assert len(trash_page(api, bob)["items"]) == 1  # another user's trash is untouched


# -- expiry ---------------------------------------------------------------------------------------


def test_sweep_deletes_expired_trash_of_every_user(
    api: Api, alice: Account, bob: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trash_service, "DELETE_BATCH", 2)
    old = [api.new_file(alice, api.album(alice), size=1000, thumb_size=0)[0] for _ in range(3)]
    old.append(api.new_file(bob, api.album(bob), size=1000, thumb_size=20)[0])
    assert trash(api, alice, [r["id"] for r in old[:3]]).status_code == 200
    assert trash(api, bob, [old[3]["id"]]).status_code == 200
    trashed_by = time.time()
    keys = [k for r in old for k in objects(api, r["id"])]
    now = [trashed_by + 2 * DAY_SECONDS]  # the sweeper's clock
    sweeper = TrashService(
        TrashStore(api.app.state.engine), api.blobs, trash_days=3, clock=lambda: now[0]
    )
    assert sweeper.sweep_expired() == 0
    # one trashed later: within its three days when the others are past theirs
    fresh, _ = api.new_file(alice, api.album(alice), size=1000, thumb_size=0)
    assert trash(api, alice, [fresh["id"]]).status_code == 200
    with api.app.state.engine.begin() as conn:
        conn.execute(
            update(files).where(files.c.id == fresh["id"]).values(trashed_at=trashed_by + 10)
        )
    now[0] = trashed_by + 3 * DAY_SECONDS + 1
    assert sweeper.sweep_expired() == 4  # two batches of two and a short one
    assert all(api.blobs.object_size(k) is None for k in keys)
    assert [i["file"]["id"] for i in trash_page(api, alice)["items"]] == [fresh["id"]]
    assert trash_page(api, bob)["items"] == []
    assert api.usage(alice)["trash_bytes"] == 1000 and api.usage(bob)["trash_bytes"] == 0
    assert sweeper.sweep_expired() == 0


def test_expiry_job_runs_in_the_lifespan(make_api: AppFactory) -> None:
    api = make_api(trash_days=0.00002, trash_sweep_seconds=0.2)  # 1.7 s
    with TestClient(api.app) as client:  # runs the lifespan, hence the job
        api.http = client
        alice = api.signup()
        album = api.album(alice)
        record, _ = api.new_file(alice, album, size=1000, thumb_size=0)
        keys = objects(api, record["id"])
        assert trash(api, alice, [record["id"]]).status_code == 200
        item = trash_page(api, alice)["items"][0]
        assert item["expires_at"] == pytest.approx(item["trashed_at"] + 0.00002 * DAY_SECONDS)
        deadline = time.monotonic() + 15
        while trash_page(api, alice)["items"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert trash_page(api, alice)["items"] == []
        assert time.time() >= item["expires_at"]
        assert api.blobs.object_size(keys[0]) is None
        assert api.usage(alice)["trash_bytes"] == 0


# -- POST /files/verify ---------------------------------------------------------------------------


def test_verify_reports_the_blob_stores_sizes(api: Api, alice: Account, bob: Account) -> None:
    album = api.album(alice)
    multipart, _ = api.new_file(alice, album, size=150_000, thumb_size=100)  # three parts
    bundled = api.bundle(alice, album, [os.urandom(777)]).json()["files"][0]  # one file
    missing, _ = api.new_file(alice, album, size=2000, thumb_size=0)
    trashed, _ = api.new_file(alice, album, size=3000, thumb_size=0)
    api.blobs.delete(objects(api, missing["id"])[0])
    assert trash(api, alice, [trashed["id"]]).status_code == 200
    ids = [trashed["id"], multipart["id"], missing["id"], bundled["id"]]
    response = post(api, alice, "/files/verify", ids)
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": trashed["id"], "content_size": 3000, "object_size": 3000, "trashed": True},
        {"id": multipart["id"], "content_size": 150_000, "object_size": 150_000, "trashed": False},
        {"id": missing["id"], "content_size": 2000, "object_size": None, "trashed": False},
        {"id": bundled["id"], "content_size": 777, "object_size": 777, "trashed": False},
    ]
    theirs, _ = api.new_file(bob, api.album(bob), size=1000, thumb_size=0)
    refused = post(api, alice, "/files/verify", [multipart["id"], theirs["id"]])
    assert refused.status_code == 404 and refused.json()["details"] == {"file_ids": [theirs["id"]]}
    assert post(api, alice, "/files/verify", [bundled["id"], bundled["id"]]).status_code == 400
    assert post(api, alice, "/files/verify", list(range(1, 258))).status_code == 400


@pytest.mark.local_blobs
def test_verify_measures_the_stored_parts(api: Api, alice: Account) -> None:
    """The local store measures part files, not the manifest's record of them."""
    data_dir: Path = api.app.state.settings.data_dir
    record, _ = api.new_file(alice, api.album(alice), size=150_000, thumb_size=0)
    key = objects(api, record["id"])[0]
    parts = sorted((data_dir / "blobs" / key[:2] / key).glob("*.part"))
    assert len(parts) == 3
    with open(parts[1], "r+b") as fh:
        fh.truncate(100)
    (verified,) = post(api, alice, "/files/verify", [record["id"]]).json()
    assert verified["object_size"] == 150_000 - 65536 + 100
    parts[2].unlink()
    (verified,) = post(api, alice, "/files/verify", [record["id"]]).json()
    assert verified["object_size"] is None


# -- the client and the server's options ----------------------------------------------------------


def test_client_methods(api: Api, alice: Account) -> None:
    album, other = api.album(alice), api.album(alice, "other")
    records = [api.new_file(alice, album, size=1000, thumb_size=0)[0] for _ in range(4)]
    ids = [r["id"] for r in records]
    client = ApiClient(
        "http://testserver", alice.token, RetryPolicy(attempts=1), ViaTestClient(api)
    )
    assert client.trash_page().items == []
    client.trash_files(ids)
    page = client.trash_page(limit=3)
    assert [i.file.id for i in page.items] == ids[:3] and page.has_more
    page = client.trash_page(after=ids[2])
    assert [i.file.id for i in page.items] == ids[3:] and not page.has_more
    assert [e.collection_id for e in page.items[0].entries] == [album.id]

    restored = client.restore_files([ids[1], ids[0]])
    assert [(r.file.id, r.collection_ids) for r in restored] == [
        (ids[1], [album.id]),
        (ids[0], [album.id]),
    ]
    with pytest.raises(ApiError) as err:
        client.restore_files([ids[0]])
    assert (err.value.status, err.value.code) == (409, "conflict")
    assert err.value.details == {"reason": "not_in_trash", "file_ids": [ids[0]]}

    verified = client.verify_files([ids[0], ids[2]])
    assert [(v.id, v.object_size, v.trashed) for v in verified] == [
        (ids[0], 1000, False),
        (ids[2], 1000, True),
    ]
    deleted = client.delete_forever([ids[2]])
    assert (deleted.deleted, deleted.bytes) == (1, 1000)
    with pytest.raises(ApiError) as err:
        client.delete_forever([ids[0]])
    assert err.value.status == 409
    emptied = client.empty_trash()
    assert (emptied.deleted, emptied.bytes) == (1, 1000)
    assert client.trash_page().items == []
    assert client.usage().files == 2
    assert api.add_to_album(alice, other, ids[0]).status_code == 201


def test_server_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[ServerSettings] = []
    monkeypatch.setattr(server_main, "serve", lambda settings, log_level: seen.append(settings))
    server_main.main(["--data", str(tmp_path), "--trash-days", "0.5"])
    server_main.main(["--data", str(tmp_path), "--trash-sweep-seconds", "0.25"])
    assert (seen[0].trash_days, seen[0].trash_sweep_seconds) == (0.5, 3600)
    assert (seen[1].trash_days, seen[1].trash_sweep_seconds) == (30, 0.25)
    with pytest.raises(ValueError):
        ServerSettings(data_dir=tmp_path, trash_days=-1)
