"""``POST /files/bundle`` (small files in one request) and ``POST /files/thumbnails``."""

from __future__ import annotations

import os
import uuid
from typing import Any

import blake3
import pytest

from photoark.protocol.frames import encode_frames
from photoark.protocol.models import Bundle

from .conftest import Account, Api, AppFactory


def object_count(api: Api) -> int:
    return sum(1 for _ in api.blobs.list_objects())


def content_of(api: Api, account: Account, file_id: int, kind: str = "content") -> bytes:
    response = api.http.get(f"/files/{file_id}/{kind}", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.content


def test_bundle_commits_every_file(api: Api, alice: Account) -> None:
    album = api.album(alice)
    contents = [os.urandom(n) for n in (1, 70_000, 300_000)]
    response = api.bundle(alice, album, contents)
    assert response.status_code == 201, response.text
    files = response.json()["files"]
    assert [f["content_size"] for f in files] == [len(c) for c in contents]
    assert all(f["thumbnail_size"] == 0 for f in files)
    for record, data in zip(files, contents, strict=True):
        assert content_of(api, alice, record["id"]) == data
    assert api.usage(alice)["stored_bytes"] == sum(map(len, contents))
    diff = api.http.get("/diff", headers=alice.headers).json()
    entries = diff["entries"]
    assert sorted(e["file_id"] for e in entries) == sorted(f["id"] for f in files)
    versions = [e["version"] for e in entries] + [c["version"] for c in diff["collections"]]
    assert len(set(versions)) == len(versions) and max(versions) == diff["latest_version"]
    assert object_count(api) == 3


def test_resent_bundle_returns_the_same_files_and_stores_nothing(api: Api, alice: Account) -> None:
    album = api.album(alice)
    contents = [os.urandom(5000), os.urandom(6000)]
    ids = [uuid.uuid4().hex for _ in contents]
    first = api.bundle(alice, album, contents, upload_ids=ids)
    again = api.bundle(alice, album, contents, upload_ids=ids)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert object_count(api) == 2
    assert api.usage(alice)["stored_bytes"] == 11000
    status = api.http.get(f"/uploads/{ids[0]}", headers=alice.headers).json()
    assert status["state"] == "committed"
    # a resend into another album puts the same files there too
    other = api.album(alice, "other")
    into_other = api.bundle(alice, other, contents, upload_ids=ids)
    assert [f["id"] for f in into_other.json()["files"]] == [f["id"] for f in first.json()["files"]]
    assert object_count(api) == 2


@pytest.mark.local_blobs
def test_bad_checksum_stores_nothing(api: Api, alice: Account) -> None:
    album = api.album(alice)
    contents = [os.urandom(100), os.urandom(200)]
    sums = [blake3.blake3(contents[0]).hexdigest(), "0" * 64]
    response = api.bundle(alice, album, contents, checksums=sums)
    assert response.status_code == 400 and response.json()["code"] == "checksum_mismatch"
    assert object_count(api) == 0 and api.usage(alice)["files"] == 0


def test_quota_refuses_the_whole_bundle(make_api: AppFactory) -> None:
    api = make_api(default_quota=10_000)
    alice = api.signup()
    album = api.album(alice)
    response = api.bundle(alice, album, [os.urandom(6000), os.urandom(6000)])
    assert response.json()["code"] == "quota_exceeded", response.text
    assert object_count(api) == 0 and api.usage(alice)["files"] == 0


def test_repeated_upload_id_and_foreign_album_are_refused(
    api: Api, alice: Account, bob: Account
) -> None:
    album = api.album(alice)
    same = uuid.uuid4().hex
    twice = api.bundle(alice, album, [b"a", b"b"], upload_ids=[same, same])
    assert twice.status_code == 400
    bobs = api.album(bob)
    foreign = api.bundle(alice, bobs, [b"x"])
    assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"
    # S3: a staged object stays (unreferenced by any file) until its session expires
    assert object_count(api) == (1 if api.direct else 0)


def test_another_users_upload_id_is_not_found(api: Api, alice: Account, bob: Account) -> None:
    bobs_id = uuid.uuid4().hex
    assert api.bundle(bob, api.album(bob), [b"bob"], upload_ids=[bobs_id]).status_code == 201
    response = api.bundle(alice, api.album(alice), [b"alice"], upload_ids=[bobs_id])
    assert response.status_code == 404  # as any other user's upload: existence not told
    assert api.usage(alice)["files"] == 0 and api.usage(bob)["files"] == 1


@pytest.mark.local_blobs
def test_malformed_frames_are_bad_requests(api: Api, alice: Account) -> None:
    album = api.album(alice)
    header = Bundle.model_validate(
        {
            "items": [
                {
                    "upload_id": uuid.uuid4().hex,
                    "collection_id": album.id,
                    "size": 10,
                    "blake3": blake3.blake3(b"0123456789").hexdigest(),
                    "encrypted_key": "AAAA",
                    "encrypted_metadata": "AAAA",
                }
            ]
        }
    )
    frames = encode_frames(header, [b"0123456789"])
    for body in (
        b"".join(frames)[:-1],  # short
        b"".join(frames) + b"!",  # trailing
        b"\xff\xff\xff\xff",  # header length beyond the body
        b"\x00\x00\x00\x02{}",  # header without items
    ):
        response = api.http.post("/files/bundle", content=body, headers=alice.headers)
        assert response.status_code == 400, (body[:8], response.text)
    assert object_count(api) == 0


def test_thumbnails_attach_replace_and_sync(api: Api, alice: Account, bob: Account) -> None:
    album = api.album(alice)
    files = api.bundle(alice, album, [os.urandom(1000), os.urandom(2000)]).json()["files"]
    before = api.http.get("/diff", headers=alice.headers).json()["latest_version"]
    thumbs = [(files[0]["id"], os.urandom(300)), (files[1]["id"], os.urandom(400))]
    response = api.thumbnails(alice, thumbs)
    assert response.status_code == 200, response.text
    assert [f["thumbnail_size"] for f in response.json()["files"]] == [300, 400]
    for file_id, data in thumbs:
        assert content_of(api, alice, file_id, "thumbnail") == data
    assert api.usage(alice)["stored_bytes"] == 3000 + 700
    changed = api.http.get(f"/diff?since={before}", headers=alice.headers).json()["entries"]
    assert {e["file_id"]: e["file"]["thumbnail_size"] for e in changed} == {
        files[0]["id"]: 300,
        files[1]["id"]: 400,
    }
    # replacing drops the old object
    objects = object_count(api)
    newer = os.urandom(500)
    assert api.thumbnails(alice, [(files[0]["id"], newer)]).status_code == 200
    assert content_of(api, alice, files[0]["id"], "thumbnail") == newer
    assert object_count(api) == objects
    assert api.usage(alice)["stored_bytes"] == 3000 + 900
    # another user's file is not found, as a missing one
    theirs = api.thumbnails(bob, [(files[0]["id"], b"x")])
    missing = api.thumbnails(bob, [(987_654, b"x")])
    assert theirs.status_code == 404 and theirs.json() == missing.json()
    assert content_of(api, alice, files[0]["id"], "thumbnail") == newer
    # S3: Bob's two staged objects stay (unreferenced) until their sessions expire
    assert object_count(api) == objects + (2 if api.direct else 0)


def test_thumbnails_respect_the_quota(make_api: AppFactory) -> None:
    api = make_api(default_quota=5000)
    alice = api.signup()
    album = api.album(alice)
    files = api.bundle(alice, album, [os.urandom(4000)]).json()["files"]
    response = api.thumbnails(alice, [(files[0]["id"], os.urandom(2000))])
    assert response.json()["code"] == "quota_exceeded"
    assert api.usage(alice)["stored_bytes"] == 4000
    assert object_count(api) == 1


def test_batch_add_to_collection_and_logical_bytes(api: Api, alice: Account, bob: Account) -> None:
    album, other = api.album(alice), api.album(alice, "other")
    files = api.bundle(alice, album, [os.urandom(1000), os.urandom(2000)]).json()["files"]
    items = [{"file_id": f["id"], "encrypted_key": "AAAA"} for f in files]
    response = api.http.post(
        f"/collections/{other.id}/files/batch", json={"items": items}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert [e["file_id"] for e in response.json()] == [f["id"] for f in files]
    usage = api.usage(alice)
    assert usage["stored_bytes"] == 3000 and usage["logical_bytes"] == 6000
    # again: idempotent, nothing new
    again = api.http.post(
        f"/collections/{other.id}/files/batch", json={"items": items}, headers=alice.headers
    )
    assert again.status_code == 201 and again.json() == response.json()
    # a removed entry is revived with a new version, the other one is left as it was
    removed = api.http.delete(
        f"/collections/{other.id}/files/{files[0]['id']}", headers=alice.headers
    )
    assert removed.status_code == 204
    revived = api.http.post(
        f"/collections/{other.id}/files/batch", json={"items": items}, headers=alice.headers
    ).json()
    versions = [e["version"] for e in response.json()]
    assert revived[0]["version"] > max(versions) and not revived[0]["is_deleted"]
    assert revived[1] == response.json()[1]
    latest = api.http.get("/diff", headers=alice.headers).json()
    all_versions = [e["version"] for e in latest["entries"]] + [
        c["version"] for c in latest["collections"]
    ]
    assert len(all_versions) == len(set(all_versions))  # every change has its own version
    # one foreign file refuses the whole batch, exactly as a missing one would
    bobs = api.bundle(bob, api.album(bob), [b"bob's"]).json()["files"][0]["id"]
    third = api.album(alice, "third")

    def add(file_ids: list[int]) -> Any:
        body = {"items": [{"file_id": i, "encrypted_key": "AAAA"} for i in file_ids]}
        return api.http.post(
            f"/collections/{third.id}/files/batch", json=body, headers=alice.headers
        )

    theirs, missing = add([files[0]["id"], bobs]), add([files[0]["id"], 987_654])
    assert theirs.status_code == 404 and theirs.json() == missing.json()
    assert api.usage(alice)["logical_bytes"] == 6000
    assert add([files[0]["id"], files[0]["id"]]).status_code == 400


def test_a_thumbnail_bumps_every_album_entry_of_its_file(api: Api, alice: Account) -> None:
    first, second = api.album(alice, "one"), api.album(alice, "two")
    [record] = api.bundle(alice, first, [os.urandom(500)]).json()["files"]
    body = {"items": [{"file_id": record["id"], "encrypted_key": "AAAA"}]}
    added = api.http.post(f"/collections/{second.id}/files/batch", json=body, headers=alice.headers)
    assert added.status_code == 201
    before = api.http.get("/diff", headers=alice.headers).json()["latest_version"]
    assert api.thumbnails(alice, [(record["id"], os.urandom(64))]).status_code == 200
    changed = api.http.get(f"/diff?since={before}", headers=alice.headers).json()
    assert sorted(e["collection_id"] for e in changed["entries"]) == sorted([first.id, second.id])
    versions = [e["version"] for e in changed["entries"]]
    assert len(set(versions)) == 2 and changed["latest_version"] == max(versions)
    assert all(e["file"]["thumbnail_size"] == 64 for e in changed["entries"])
