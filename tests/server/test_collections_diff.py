"""Albums and diff sync: versions from the per-user counter, exact paging, tombstones."""

from __future__ import annotations

import base64
from typing import Any

from photoark.crypto.boxes import open_box, seal

from .conftest import Account, Api, b64


def _diff_all(api: Api, account: Account, since: int, limit: int) -> list[dict[str, Any]]:
    """Page through the diff; every item with its kind, checking paging invariants."""
    items: list[dict[str, Any]] = []
    while True:
        page = api.http.get(
            "/diff", params={"since": since, "limit": limit}, headers=account.headers
        ).json()
        batch = [{"kind": "collection", **c} for c in page["collections"]]
        batch += [{"kind": "entry", **e} for e in page["entries"]]
        assert len(batch) <= limit
        assert all(since < item["version"] <= page["latest_version"] for item in batch)
        items += sorted(batch, key=lambda item: item["version"])
        since = page["latest_version"]
        if not page["has_more"]:
            return items


def test_create_rename_list(api: Api, alice: Account) -> None:
    album = api.album(alice, "Holidays")
    listed = api.http.get("/collections", headers=alice.headers).json()
    assert [c["id"] for c in listed] == [album.id]
    assert open_box(album.key, base64.b64decode(listed[0]["encrypted_name"])) == b"Holidays"
    new_name = seal(album.key, b"Holidays 2024")
    response = api.http.patch(
        f"/collections/{album.id}", json={"encrypted_name": b64(new_name)}, headers=alice.headers
    )
    assert response.status_code == 200
    renamed = response.json()
    assert renamed["encrypted_name"] == b64(new_name)
    assert renamed["version"] > listed[0]["version"]
    missing = api.http.patch(
        "/collections/424242", json={"encrypted_name": b64(new_name)}, headers=alice.headers
    )
    assert missing.status_code == 404


def test_diff_paging_is_exact(api: Api, alice: Account) -> None:
    albums = [api.album(alice, f"album {i}") for i in range(3)]
    files = [api.new_file(alice, albums[i % 3], size=2000, thumb_size=0)[0] for i in range(5)]
    for record in files:
        api.add_to_album(alice, albums[0], record["id"])
    api.http.patch(
        f"/collections/{albums[1].id}",
        json={"encrypted_name": b64(seal(albums[1].key, b"renamed"))},
        headers=alice.headers,
    )
    api.http.delete(f"/collections/{albums[2].id}/files/{files[2]['id']}", headers=alice.headers)

    full = api.http.get("/diff", params={"since": 0}, headers=alice.headers).json()
    assert not full["has_more"]
    latest = full["latest_version"]
    for limit in (1, 2, 3, 7):
        items = _diff_all(api, alice, 0, limit)
        versions = [item["version"] for item in items]
        assert versions == sorted(set(versions))  # each change once, oldest first
        assert versions[-1] == latest
        by_key = {(i["kind"], i.get("id"), i.get("collection_id"), i.get("file_id")) for i in items}
        assert len(by_key) == len(items)
    # 3 collections, 5 entries + up to 4 extra in album 0 (two files were already there)
    entries = [i for i in _diff_all(api, alice, 0, 4) if i["kind"] == "entry"]
    assert len(entries) == 5 + 3
    tombstones = [e for e in entries if e["is_deleted"]]
    assert len(tombstones) == 1 and tombstones[0]["file"] is None
    live = [e for e in entries if not e["is_deleted"]]
    assert all(e["file"]["id"] == e["file_id"] for e in live)
    # nothing new after the latest version
    empty = api.http.get("/diff", params={"since": latest}, headers=alice.headers).json()
    assert empty == {
        "collections": [],
        "entries": [],
        "marks": [],
        "latest_version": latest,
        "has_more": False,
    }


def test_diff_since_middle(api: Api, alice: Account) -> None:
    album = api.album(alice)
    mark = api.http.get("/diff", headers=alice.headers).json()["latest_version"]
    record, _ = api.new_file(alice, album, thumb_size=0)
    page = api.http.get("/diff", params={"since": mark}, headers=alice.headers).json()
    assert page["collections"] == []
    assert [e["file_id"] for e in page["entries"]] == [record["id"]]


def test_diff_rejects_bad_limits(api: Api, alice: Account) -> None:
    for params in ({"limit": 0}, {"since": -1}, {"limit": "many"}):
        response = api.http.get("/diff", params=params, headers=alice.headers)
        assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_add_file_twice_to_many_albums_keeps_one_copy(api: Api, alice: Account) -> None:
    albums = [api.album(alice) for _ in range(4)]
    record, data = api.new_file(alice, albums[0], size=5000, thumb_size=0)
    for album in albums[1:]:
        assert api.add_to_album(alice, album, record["id"]).status_code == 201
    assert api.usage(alice)["stored_bytes"] == len(data)
