"""Inline thumbnails in the commit (``FileCommit.thumbnail``): storage, usage, quota, retries."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from photoark.protocol.models import MAX_THUMBNAIL_BYTES, MIN_PART_SIZE

from .conftest import Account, Api, AppFactory

pytestmark = pytest.mark.local_blobs  # inline thumbnails: bytes in the commit (409 on S3)

PART = MIN_PART_SIZE


def object_count(api: Api) -> int:
    """Objects in the local blob store (content and thumbnails alike)."""
    return len(list((api.app.state.settings.data_dir / "blobs").glob("*/*")))


def test_inline_thumbnail_is_stored_and_counted(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART + 5))
    thumb = os.urandom(20_000)
    response = api.commit(alice, album, content, inline_thumbnail=thumb)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["content_size"] == PART + 5 and record["thumbnail_size"] == len(thumb)
    download = api.http.get(f"/files/{record['id']}/thumbnail", headers=alice.headers)
    assert download.status_code == 200 and download.content == thumb
    ranged = api.http.get(
        f"/files/{record['id']}/thumbnail", headers={**alice.headers, "Range": "bytes=10-19"}
    )
    assert ranged.status_code == 206 and ranged.content == thumb[10:20]
    usage = api.usage(alice)
    assert usage["files"] == 1 and usage["stored_bytes"] == PART + 5 + len(thumb)
    assert object_count(api) == 2
    entry = api.http.get("/diff", headers=alice.headers).json()["entries"][0]
    assert entry["file"]["thumbnail_size"] == len(thumb)


def test_retried_inline_commit_stores_one_thumbnail(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    thumb = os.urandom(3000)
    first = api.commit(alice, album, content, inline_thumbnail=thumb)
    second = api.commit(alice, album, content, inline_thumbnail=os.urandom(4000))
    assert first.status_code == 201 and second.status_code == 201
    assert first.json() == second.json()
    assert object_count(api) == 2
    file_id = first.json()["id"]
    assert api.http.get(f"/files/{file_id}/thumbnail", headers=alice.headers).content == thumb
    assert api.usage(alice)["stored_bytes"] == PART + len(thumb)


def test_commit_losing_the_race_drops_its_thumbnail(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that saw the upload open, but another commit closed it first, keeps nothing."""
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    stale = api.services.upload_store.get(alice.user_id, content.upload_id)
    first = api.commit(alice, album, content, inline_thumbnail=b"t" * 100)
    monkeypatch.setattr(api.services.uploads, "live", lambda _user, _upload: stale)
    second = api.commit(alice, album, content, inline_thumbnail=b"u" * 200)
    assert second.status_code == 201 and second.json() == first.json()
    assert object_count(api) == 2
    assert api.usage(alice)["stored_bytes"] == PART + 100


def test_concurrent_inline_commits_make_one_file_and_thumbnail(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(
                lambda n: api.commit(alice, album, content, inline_thumbnail=bytes([n]) * 500),
                range(4),
            )
        )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert api.usage(alice)["files"] == 1
    assert object_count(api) == 2


def test_thumbnail_inline_and_as_upload_is_bad_request(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    thumb = api.upload(alice, os.urandom(900))
    response = api.commit(alice, album, content, thumb, inline_thumbnail=b"x" * 900)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    assert api.usage(alice)["files"] == 0
    assert object_count(api) == 0
    session = api.http.get(f"/uploads/{content.upload_id}", headers=alice.headers).json()
    assert session["state"] == "open"


def test_inline_thumbnail_size_limits(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    for bad in (b"", b"x" * (MAX_THUMBNAIL_BYTES + 1)):
        response = api.commit(alice, album, content, inline_thumbnail=bad)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "bad_request"
    largest = os.urandom(MAX_THUMBNAIL_BYTES)  # ~683 KiB of base64: under the body limit
    response = api.commit(alice, album, content, inline_thumbnail=largest)
    assert response.status_code == 201, response.text
    assert response.json()["thumbnail_size"] == MAX_THUMBNAIL_BYTES


def test_inline_thumbnail_counts_against_the_quota(make_api: AppFactory) -> None:
    api = make_api(default_quota=PART + 100)
    alice = api.signup()
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    response = api.commit(alice, album, content, inline_thumbnail=b"x" * 101)
    assert response.status_code == 413
    problem = response.json()
    assert problem["code"] == "quota_exceeded"
    assert problem["details"] == {
        "quota_bytes": PART + 100,
        "used_bytes": PART,
        "requested_bytes": 101,
    }
    assert object_count(api) == 1  # the completed content; the refused thumbnail is gone
    session = api.http.get(f"/uploads/{content.upload_id}", headers=alice.headers).json()
    assert session["state"] == "open"
    response = api.commit(alice, album, content, inline_thumbnail=b"x" * 100)
    assert response.status_code == 201, response.text
    assert api.usage(alice)["stored_bytes"] == PART + 100
    assert object_count(api) == 2


def test_inline_commit_of_someone_elses_upload_stores_nothing(
    api: Api, alice: Account, bob: Account
) -> None:
    album = api.album(bob)
    content = api.upload(alice, os.urandom(PART))
    response = api.commit(bob, album, content, inline_thumbnail=b"x" * 100)
    assert response.status_code == 404
    assert object_count(api) == 0
