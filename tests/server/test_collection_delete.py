"""Album delete: the album and its live entries become tombstones with new versions (the album's
last), files stay, usage keeps its files and bytes; idempotent; 404 for unknown and other users'
albums; nothing can be put in a deleted album, not even by a concurrent add."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from photoark.client.errors import ApiError
from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.server.store.schema import collection_files, collections

from .conftest import Account, Album, Api, b64
from .diffs import api_client, diff_all, latest_version


def delete(api: Api, account: Account, album_id: int) -> int:
    return api.http.delete(f"/collections/{album_id}", headers=account.headers).status_code


def test_delete_tombstones_the_album_and_its_entries(api: Api, alice: Account) -> None:
    album, other = api.album(alice, "doomed"), api.album(alice, "other")
    records = [api.new_file(alice, album, size=3000, thumb_size=500)[0] for _ in range(3)]
    kept, _ = api.new_file(alice, other, size=2000, thumb_size=0)
    assert api.add_to_album(alice, other, records[0]["id"]).status_code == 201
    # one entry removed by hand and one trashed already: tombstones, left as they are
    removed = api.http.delete(
        f"/collections/{album.id}/files/{records[1]['id']}", headers=alice.headers
    )
    assert removed.status_code == 204
    trashed = api.http.post(
        "/files/trash", json={"file_ids": [records[2]["id"]]}, headers=alice.headers
    )
    assert trashed.status_code == 200, trashed.text
    before_items = {
        (i["kind"], i.get("collection_id"), i.get("file_id")): i for i in diff_all(api, alice)
    }
    usage = api.usage(alice)
    before = latest_version(api, alice)

    assert delete(api, alice, album.id) == 204

    changes = diff_all(api, alice, before)
    assert [(c["kind"], c["version"]) for c in changes] == [
        ("entry", before + 1),  # the one live entry, then the album
        ("collection", before + 2),
    ]
    entry, collection = changes
    assert (entry["collection_id"], entry["file_id"]) == (album.id, records[0]["id"])
    assert entry["is_deleted"] and entry["file"] is None
    assert collection["id"] == album.id and collection["is_deleted"]
    # the earlier tombstones kept their versions (and the trash still knows its own)
    for file_id in (records[1]["id"], records[2]["id"]):
        old = before_items[("entry", album.id, file_id)]
        assert old["is_deleted"]
        assert all(c.get("file_id") != file_id for c in changes)
    with api.app.state.engine.connect() as conn:
        marks = dict(
            conn.execute(
                select(collection_files.c.file_id, collection_files.c.trashed).where(
                    collection_files.c.collection_id == album.id
                )
            ).all()
        )
    assert marks == {records[0]["id"]: False, records[1]["id"]: False, records[2]["id"]: True}
    # the album is gone from the list; its files are not: not trashed, still in other albums
    listed = api.http.get("/collections", headers=alice.headers).json()
    assert [c["id"] for c in listed] == [other.id]
    for record in records[:2]:
        got = api.http.get(f"/files/{record['id']}", headers=alice.headers).json()
        assert got["is_trashed"] is False
    final = {  # each entry shows once, at its newest version
        (e["collection_id"], e["file_id"]): e["is_deleted"]
        for e in diff_all(api, alice)
        if e["kind"] == "entry"
    }
    live = {key for key, gone in final.items() if not gone}
    assert live == {(other.id, kept["id"]), (other.id, records[0]["id"])}
    # usage: the same files and bytes (only the sum over album entries drops)
    after = api.usage(alice)
    for key in ("files", "stored_bytes", "trash_bytes", "quota_bytes"):
        assert after[key] == usage[key], key
    assert after["logical_bytes"] == usage["logical_bytes"] - 3500


def test_an_empty_album_takes_one_version(api: Api, alice: Account) -> None:
    album = api.album(alice)
    before = latest_version(api, alice)
    assert delete(api, alice, album.id) == 204
    changes = diff_all(api, alice, before)
    assert [(c["kind"], c["id"], c["version"], c["is_deleted"]) for c in changes] == [
        ("collection", album.id, before + 1, True)
    ]


def test_delete_again_is_a_no_op(api: Api, alice: Account) -> None:
    album = api.album(alice)
    api.new_file(alice, album, size=1000, thumb_size=0)
    assert delete(api, alice, album.id) == 204
    version = latest_version(api, alice)
    assert delete(api, alice, album.id) == 204
    assert latest_version(api, alice) == version


def test_unknown_and_other_users_albums_are_404(api: Api, alice: Account, bob: Account) -> None:
    bobs = api.album(bob)
    record, _ = api.new_file(bob, bobs, size=1000, thumb_size=0)
    version = latest_version(api, bob)
    for album_id in (bobs.id, 987654321):
        response = api.http.delete(f"/collections/{album_id}", headers=alice.headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert latest_version(api, bob) == version
    assert [c["id"] for c in api.http.get("/collections", headers=bob.headers).json()] == [bobs.id]
    assert api.http.delete("/collections/1").status_code == 401
    assert api.http.delete("/collections/-1", headers=alice.headers).status_code == 400
    # bob deleting his own album while alice's is untouched
    alices = api.album(alice)
    assert delete(api, bob, bobs.id) == 204
    assert [c["id"] for c in api.http.get("/collections", headers=alice.headers).json()] == [
        alices.id
    ]
    assert api.http.get(f"/files/{record['id']}", headers=bob.headers).status_code == 200


def _refused(response: Any) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


def test_nothing_goes_into_a_deleted_album(api: Api, alice: Account) -> None:
    album, other = api.album(alice), api.album(alice)
    record, _ = api.new_file(alice, other, size=1000, thumb_size=0)
    committed_upload = api.upload(alice, os.urandom(1500))
    assert api.commit(alice, other, committed_upload).status_code == 201
    fresh_upload = api.upload(alice, os.urandom(1500))
    in_album, _ = api.new_file(alice, album, size=1000, thumb_size=0)
    bundled = uuid.uuid4().hex
    assert api.bundle(alice, other, [os.urandom(800)], upload_ids=[bundled]).status_code == 201
    assert delete(api, alice, album.id) == 204
    version = latest_version(api, alice)

    _refused(api.add_to_album(alice, album, record["id"]))
    _refused(api.add_to_album(alice, album, in_album["id"]))  # was there: not revived
    batch = {
        "items": [{"file_id": record["id"], "encrypted_key": b64(wrap_key(album.key, new_key()))}]
    }
    _refused(
        api.http.post(f"/collections/{album.id}/files/batch", json=batch, headers=alice.headers)
    )
    _refused(api.commit(alice, album, fresh_upload))  # a new commit
    _refused(api.commit(alice, album, committed_upload))  # a recommit of a committed upload
    _refused(api.bundle(alice, album, [os.urandom(800)]))
    _refused(api.bundle(alice, album, [os.urandom(800)], upload_ids=[bundled]))  # a resend
    _refused(
        api.http.patch(
            f"/collections/{album.id}",
            json={"encrypted_name": b64(seal(album.key, b"back?"))},
            headers=alice.headers,
        )
    )
    _refused(
        api.http.delete(f"/collections/{album.id}/files/{in_album['id']}", headers=alice.headers)
    )
    assert latest_version(api, alice) == version
    # the refused commit left its upload usable: committed into a live album, it works
    assert api.commit(alice, other, fresh_upload).status_code == 201
    with api.app.state.engine.connect() as conn:
        live = conn.execute(
            select(collection_files.c.file_id).where(
                collection_files.c.collection_id == album.id,
                collection_files.c.is_deleted.is_(False),
            )
        ).all()
    assert live == []


def test_a_restore_does_not_bring_a_file_back_into_a_deleted_album(
    api: Api, alice: Account
) -> None:
    album = api.album(alice)
    record, _ = api.new_file(alice, album, size=1000, thumb_size=0)
    ids = {"file_ids": [record["id"]]}
    assert api.http.post("/files/trash", json=ids, headers=alice.headers).status_code == 200
    assert delete(api, alice, album.id) == 204
    restored = api.http.post("/trash/restore", json=ids, headers=alice.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()[0]["collection_ids"] == []


def test_concurrent_adds_never_leave_a_live_entry_in_a_deleted_album(
    api: Api, alice: Account
) -> None:
    source = api.album(alice)
    records = [api.new_file(alice, source, size=500, thumb_size=0)[0] for _ in range(24)]
    target = api.album(alice)

    def job(index: int) -> int:
        if index == 8:
            return delete(api, alice, target.id)
        return api.add_to_album(alice, target, records[index]["id"]).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(job, range(len(records))))
    assert statuses[8] == 204
    assert set(statuses) <= {201, 204, 404}
    with api.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(collection_files.c.is_deleted).where(
                collection_files.c.collection_id == target.id
            )
        ).all()
        deleted = conn.execute(
            select(collections.c.is_deleted).where(collections.c.id == target.id)
        ).scalar_one()
    assert deleted and all(row.is_deleted for row in rows)
    assert len(rows) == statuses.count(201)
    # and the diff agrees: every entry of the album ends as a tombstone, the album last
    changes = [
        c
        for c in diff_all(api, alice, 0, limit=5)
        if c.get("collection_id") == target.id or c.get("id") == target.id
    ]
    assert changes[-1]["kind"] == "collection" and changes[-1]["is_deleted"]
    assert all(c["is_deleted"] for c in changes if c["kind"] == "entry")


def test_client_delete_collection(api: Api, alice: Account, bob: Account) -> None:
    album: Album = api.album(alice)
    client, transport = api_client(api, alice)
    client.delete_collection(album.id)
    client.delete_collection(album.id)  # idempotent
    assert transport.requests == [("DELETE", f"/collections/{album.id}")] * 2
    assert client.collections() == []
    bobs = api.album(bob)
    try:
        client.delete_collection(bobs.id)
    except ApiError as err:
        assert (err.status, err.code) == (404, "not_found")
    else:
        raise AssertionError("another user's album was deleted")
