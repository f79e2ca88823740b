"""A token of one user reads, lists, changes and deletes nothing of another user's.

Every endpoint is tried with Alice's token against Bob's resources; each answer must be exactly
the answer for a resource that does not exist (404 not_found, same body), and Bob's state must
be unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from httpx import Response

from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.protocol.models import MIN_PART_SIZE

from .conftest import Account, Album, Api, Uploaded, b64

PART = MIN_PART_SIZE
MISSING_ID = 987_654
MISSING_UPLOAD = "0" * 32


@pytest.fixture
def world(api: Api, alice: Account, bob: Account) -> dict[str, Any]:
    bob_album = api.album(bob, "bob's")
    bob_file, _ = api.new_file(bob, bob_album, size=PART + 3, thumb_size=50)
    bob_open = api.upload(bob, os.urandom(2 * PART), skip=frozenset({1}))
    bob_committed_upload = api.upload(bob, os.urandom(PART))
    assert api.commit(bob, bob_album, bob_committed_upload).status_code == 201
    alice_album = api.album(alice, "alice's")
    alice_file, _ = api.new_file(alice, alice_album, size=1000, thumb_size=0)
    return {
        "bob_album": bob_album,
        "bob_file": bob_file["id"],
        "bob_open": bob_open,
        "bob_committed": bob_committed_upload,
        "alice_album": alice_album,
        "alice_file": alice_file["id"],
        "bob_before": _snapshot(api, bob, bob_open.upload_id),
    }


def _snapshot(api: Api, bob: Account, upload_id: str) -> dict[str, Any]:
    return {
        "collections": api.http.get("/collections", headers=bob.headers).json(),
        "diff": api.http.get("/diff", headers=bob.headers).json(),
        "usage": api.usage(bob),
        "upload": api.http.get(f"/uploads/{upload_id}", headers=bob.headers).json(),
        "put_count": api.services.upload_store.put_count(upload_id, 0),
    }


def _same_as_missing(theirs: Response, missing: Response) -> None:
    assert theirs.status_code == 404, theirs.text
    assert theirs.json()["code"] == "not_found"
    assert theirs.json() == missing.json()


def _commit_body(album_id: int, content: str, thumb: str | None = None) -> dict[str, Any]:
    key = new_key()
    return {
        "collection_id": album_id,
        "content_upload_id": content,
        "thumbnail_upload_id": thumb,
        "encrypted_key": b64(wrap_key(key, new_key())),
        "encrypted_metadata": b64(seal(key, b"{}")),
    }


def test_alice_cannot_touch_bob(
    api: Api, alice: Account, bob: Account, world: dict[str, Any]
) -> None:
    h = alice.headers
    bob_album: Album = world["bob_album"]
    alice_album: Album = world["alice_album"]
    bob_file, alice_file = world["bob_file"], world["alice_file"]
    bob_open: Uploaded = world["bob_open"]
    bob_committed: Uploaded = world["bob_committed"]
    name = {"encrypted_name": b64(b"x" * 40)}
    add = {"encrypted_key": b64(b"k" * 72)}

    def both(method: str, theirs: str, missing: str, **kwargs: Any) -> None:
        _same_as_missing(
            api.http.request(method, theirs, headers=h, **kwargs),
            api.http.request(method, missing, headers=h, **kwargs),
        )

    # collections
    both("PATCH", f"/collections/{bob_album.id}", f"/collections/{MISSING_ID}", json=name)
    both(
        "POST",
        f"/collections/{bob_album.id}/files",
        f"/collections/{MISSING_ID}/files",
        json={"file_id": alice_file, **add},
    )
    _same_as_missing(
        api.http.post(
            f"/collections/{alice_album.id}/files", json={"file_id": bob_file, **add}, headers=h
        ),
        api.http.post(
            f"/collections/{alice_album.id}/files", json={"file_id": MISSING_ID, **add}, headers=h
        ),
    )
    both(
        "DELETE",
        f"/collections/{bob_album.id}/files/{bob_file}",
        f"/collections/{MISSING_ID}/files/{bob_file}",
    )
    # uploads
    up = bob_open.upload_id
    both("GET", f"/uploads/{up}", f"/uploads/{MISSING_UPLOAD}")
    both("DELETE", f"/uploads/{up}", f"/uploads/{MISSING_UPLOAD}")
    if api.direct:  # S3: parts go to presigned URLs, then are confirmed
        done = {"sha256": "0" * 64, "md5": "0" * 32}
        both("POST", f"/uploads/{up}/parts/0", f"/uploads/{MISSING_UPLOAD}/parts/0", json=done)
        both("GET", f"/uploads/{up}/urls", f"/uploads/{MISSING_UPLOAD}/urls")
    else:
        part = bob_open.data[PART:]
        sha = {"X-Content-SHA256": hashlib.sha256(part).hexdigest()}
        _same_as_missing(
            api.http.put(f"/uploads/{up}/parts/1", content=part, headers={**h, **sha}),
            api.http.put(f"/uploads/{MISSING_UPLOAD}/parts/1", content=part, headers={**h, **sha}),
        )
    # commits: Bob's uploads, or into Bob's album
    alice_upload = api.upload(alice, os.urandom(PART))
    missing_commit = api.http.post(
        "/files", json=_commit_body(alice_album.id, MISSING_UPLOAD), headers=h
    )
    for body in (
        _commit_body(alice_album.id, bob_open.upload_id),
        _commit_body(alice_album.id, bob_committed.upload_id),
    ):
        _same_as_missing(api.http.post("/files", json=body, headers=h), missing_commit)
    into_bob = api.http.post(
        "/files", json=_commit_body(bob_album.id, alice_upload.upload_id), headers=h
    )
    into_missing = api.http.post(
        "/files", json=_commit_body(MISSING_ID, alice_upload.upload_id), headers=h
    )
    _same_as_missing(into_bob, into_missing)
    with_bob_thumb = api.http.post(
        "/files",
        json=_commit_body(alice_album.id, alice_upload.upload_id, bob_open.upload_id),
        headers=h,
    )
    with_missing_thumb = api.http.post(
        "/files",
        json=_commit_body(alice_album.id, alice_upload.upload_id, MISSING_UPLOAD),
        headers=h,
    )
    _same_as_missing(with_bob_thumb, with_missing_thumb)
    # files
    for suffix in ("", "/content", "/thumbnail", "/url", "/url?kind=thumbnail")[
        : 5 if api.direct else 3
    ]:
        both("GET", f"/files/{bob_file}{suffix}", f"/files/{MISSING_ID}{suffix}")
    # listings show nothing of Bob's
    assert [c["id"] for c in api.http.get("/collections", headers=h).json()] == [alice_album.id]
    diff = api.http.get("/diff", headers=h).json()
    assert {c["id"] for c in diff["collections"]} == {alice_album.id}
    assert {e["file_id"] for e in diff["entries"]} == {alice_file}
    usage = api.usage(alice)
    assert usage["files"] == 1 and usage["stored_bytes"] == 1000
    # and Bob's world is exactly as it was
    assert _snapshot(api, bob, up) == world["bob_before"]
