"""Commit, add to album by reference, usage accounting, and ranged downloads."""

from __future__ import annotations

import os

import pytest

from photoark.protocol.models import MIN_PART_SIZE

from .conftest import Account, Api

PART = MIN_PART_SIZE


def test_commit_and_download(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(2 * PART + 7))
    thumb = api.upload(alice, os.urandom(900))
    response = api.commit(alice, album, content, thumb)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["content_size"] == 2 * PART + 7 and record["thumbnail_size"] == 900
    assert api.http.get(f"/files/{record['id']}", headers=alice.headers).json() == record
    full = api.http.get(f"/files/{record['id']}/content", headers=alice.headers)
    assert full.status_code == 200 and full.content == content.data
    assert full.headers["accept-ranges"] == "bytes"
    thumbnail = api.http.get(f"/files/{record['id']}/thumbnail", headers=alice.headers)
    assert thumbnail.content == thumb.data
    for upload in (content, thumb):
        session = api.http.get(f"/uploads/{upload.upload_id}", headers=alice.headers).json()
        assert session["state"] == "committed"


def test_commit_is_idempotent(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    first = api.commit(alice, album, content)
    second = api.commit(alice, album, content)
    assert first.status_code == 201 and second.status_code == 201
    assert first.json() == second.json()
    assert api.usage(alice)["files"] == 1
    entries = api.http.get("/diff", headers=alice.headers).json()["entries"]
    assert len(entries) == 1


@pytest.mark.local_blobs
def test_incomplete_commit(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(3 * PART), skip=frozenset({1}))
    response = api.commit(alice, album, content)
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "upload_incomplete"
    assert problem["details"]["missing_parts"] == [1]
    assert api.usage(alice)["files"] == 0
    # finish it and the commit goes through
    api.put_part(alice, content.upload_id, 1, content.data[PART : 2 * PART])
    assert api.commit(alice, album, content).status_code == 201


def test_commit_into_missing_album(api: Api, alice: Account) -> None:
    content = api.upload(alice, os.urandom(PART))
    from .conftest import Album

    response = api.commit(alice, Album(999_999, os.urandom(32)), content)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    session = api.http.get(f"/uploads/{content.upload_id}", headers=alice.headers).json()
    assert session["state"] == "open"


def test_add_to_album_is_by_reference(api: Api, alice: Account) -> None:
    first, second = api.album(alice, "one"), api.album(alice, "two")
    record, _ = api.new_file(alice, first, size=PART, thumb_size=100)
    before = api.usage(alice)
    assert before == {
        "files": 1,
        "stored_bytes": PART + 100,
        "trash_bytes": 0,
        "quota_bytes": 10 * 2**30,
        "logical_bytes": PART + 100,
    }
    response = api.add_to_album(alice, second, record["id"])
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["collection_id"] == second.id and entry["file"]["id"] == record["id"]
    again = api.add_to_album(alice, second, record["id"])
    assert again.status_code == 201 and again.json() == entry  # idempotent, same version
    assert api.usage(alice) == {**before, "logical_bytes": 2 * (PART + 100)}


def test_usage_counts_each_file_once(api: Api, alice: Account) -> None:
    albums = [api.album(alice, f"a{i}") for i in range(3)]
    sizes = []
    for album in albums[:2]:
        record, _ = api.new_file(alice, album, size=PART + 1, thumb_size=10)
        sizes.append(record["content_size"] + record["thumbnail_size"])
        for other in albums:
            api.add_to_album(alice, other, record["id"])
    usage = api.usage(alice)
    assert usage["files"] == 2 and usage["stored_bytes"] == sum(sizes)


def test_remove_from_album_and_revive(api: Api, alice: Account) -> None:
    album = api.album(alice)
    record, _ = api.new_file(alice, album, thumb_size=0)
    url = f"/collections/{album.id}/files/{record['id']}"
    assert api.http.delete(url, headers=alice.headers).status_code == 204
    assert api.http.delete(url, headers=alice.headers).status_code == 204
    diff = api.http.get("/diff", headers=alice.headers).json()
    tombstone = diff["entries"][-1]
    assert tombstone["is_deleted"] and tombstone["file"] is None
    revived = api.add_to_album(alice, album, record["id"]).json()
    assert not revived["is_deleted"] and revived["version"] > tombstone["version"]


def test_range_downloads(api: Api, alice: Account) -> None:
    album = api.album(alice)
    record, data = api.new_file(alice, album, size=PART * 2 + 5, thumb_size=0)
    url = f"/files/{record['id']}/content"
    size = len(data)
    cases = {
        "bytes=0-99": (0, 99),
        f"bytes={PART - 10}-{PART + 10}": (PART - 10, PART + 10),
        "bytes=100-": (100, size - 1),
        "bytes=-50": (size - 50, size - 1),
    }
    for header, (start, end) in cases.items():
        response = api.http.get(url, headers={**alice.headers, "Range": header})
        assert response.status_code == 206, header
        assert response.content == data[start : end + 1]
        assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert response.headers["accept-ranges"] == "bytes"
    for header in (f"bytes={size}-", "bytes=-0"):
        response = api.http.get(url, headers={**alice.headers, "Range": header})
        assert response.status_code == 416
        assert response.json()["code"] == "range_not_satisfiable"
        assert response.headers["content-range"] == f"bytes */{size}"
    missing_thumb = api.http.get(f"/files/{record['id']}/thumbnail", headers=alice.headers)
    assert missing_thumb.status_code == 404


def test_recommit_into_another_album_adds_the_file_there(api: Api, alice: Account) -> None:
    first_album, second_album = api.album(alice, "first"), api.album(alice, "second")
    content = api.upload(alice, os.urandom(PART))
    first = api.commit(alice, first_album, content)
    second = api.commit(alice, second_album, content)
    assert first.status_code == 201 and second.status_code == 201, second.text
    assert first.json() == second.json()
    file_id = first.json()["id"]
    entries = api.http.get("/diff", headers=alice.headers).json()["entries"]
    assert {(e["collection_id"], e["file_id"], e["is_deleted"]) for e in entries} == {
        (first_album.id, file_id, False),
        (second_album.id, file_id, False),
    }
    assert api.usage(alice)["files"] == 1


def test_recommit_revives_a_removed_entry(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    file_id = api.commit(alice, album, content).json()["id"]
    removed = api.http.delete(f"/collections/{album.id}/files/{file_id}", headers=alice.headers)
    assert removed.status_code == 204
    again = api.commit(alice, album, content)
    assert again.status_code == 201 and again.json()["id"] == file_id
    entries = api.http.get("/diff", headers=alice.headers).json()["entries"]
    assert [(e["file_id"], e["is_deleted"]) for e in entries] == [(file_id, False)]


def test_recommit_into_someone_elses_album_is_not_found(
    api: Api, alice: Account, bob: Account
) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    assert api.commit(alice, album, content).status_code == 201
    response = api.commit(alice, api.album(bob), content)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.http.get("/diff", headers=bob.headers).json()["entries"] == []
