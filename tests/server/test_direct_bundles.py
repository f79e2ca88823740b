"""Small files and thumbnails by direct transfer (S3): staging single-part sessions, presigned
PUTs with ``If-None-Match: *``, commits checked with HEAD (size and MD5)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest

from photoark.crypto.boxes import new_key, seal_json, wrap_key
from photoark.protocol.models import MAX_THUMBNAIL_BYTES
from photoark.server.blobs import BlobStoreError, ReplicatedStore, parse_store_url
from photoark.server.blobs.base import ObjectInfo
from photoark.server.services.transfers import DirectTransfers
from photoark.server.store.uploads import UploadRow, UploadStore

from .conftest import S3, Account, Album, Api, AppFactory, b64, md5_b64

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return S3


def stage(api: Api, account: Account, items: list[dict[str, Any]]) -> Any:
    return api.http.post("/uploads/direct", json={"items": items}, headers=account.headers)


def item(data: bytes, upload_id: str | None = None) -> dict[str, Any]:
    return {"size": len(data), "md5": md5_b64(data), **({"id": upload_id} if upload_id else {})}


def bundle_item(
    album: Album, upload_id: str, data: bytes, md5: str | None = None
) -> dict[str, Any]:
    key = new_key()
    return {
        "upload_id": upload_id,
        "collection_id": album.id,
        "size": len(data),
        "md5": md5 or md5_b64(data),
        "encrypted_key": b64(wrap_key(album.key, key)),
        "encrypted_metadata": b64(seal_json(key, {"name": "a.jpg"})),
    }


def items_of(album: Album, ids: list[str], contents: Any) -> list[dict[str, Any]]:
    return [bundle_item(album, i, d) for i, d in zip(ids, contents, strict=True)]


def commit(api: Api, account: Account, items: list[dict[str, Any]]) -> Any:
    return api.http.post("/files/bundle/direct", json={"items": items}, headers=account.headers)


def put(api: Api, entry: dict[str, Any], data: bytes) -> int:
    return api.put_to_store(entry["put"]["url"], data, entry["put"]["headers"]).status_code


def test_stage_put_commit(api: Api, alice: Account) -> None:
    album = api.album(alice)
    contents = [os.urandom(n) for n in (1, 70_000, 300_000)]
    ids = [uuid.uuid4().hex for _ in contents]
    staged = stage(api, alice, [item(d, i) for d, i in zip(contents, ids, strict=True)])
    assert staged.status_code == 201, staged.text
    entries = staged.json()
    assert [e["id"] for e in entries] == ids and {e["state"] for e in entries} == {"open"}
    assert all(e["put"]["headers"]["If-None-Match"] == "*" for e in entries)
    for entry, data in zip(entries, contents, strict=True):
        assert put(api, entry, data) == 200
        assert put(api, entry, data) == 412  # the object is there: a URL cannot overwrite it
    response = commit(api, alice, items_of(album, ids, contents))
    assert response.status_code == 201, response.text
    files = response.json()["files"]
    assert [f["content_size"] for f in files] == [len(c) for c in contents]
    for record, data in zip(files, contents, strict=True):
        got = api.http.get(f"/files/{record['id']}/content", headers=alice.headers)
        assert got.status_code == 200 and got.content == data
    assert api.usage(alice)["stored_bytes"] == sum(map(len, contents))
    # the client's id is never the object key
    keys = {
        row.object_key for row in api.services.upload_store.get_many(alice.user_id, ids).values()
    }
    assert not keys & set(ids)


def test_staging_is_idempotent_and_admits_the_quota_once(make_api: AppFactory) -> None:
    api = make_api(default_quota=10_000)
    alice = api.signup()
    album = api.album(alice)
    contents = [os.urandom(4000), os.urandom(5000)]
    ids = [uuid.uuid4().hex for _ in contents]
    items = [item(d, i) for d, i in zip(contents, ids, strict=True)]
    first = stage(api, alice, items)
    assert first.status_code == 201, first.text
    again = stage(api, alice, items)  # fits only if counted once
    assert again.status_code == 201, again.text
    assert [e["id"] for e in again.json()] == ids
    assert [e["state"] for e in again.json()] == ["open", "open"]
    over = stage(api, alice, [item(os.urandom(2000))])
    assert over.status_code == 413 and over.json()["code"] == "quota_exceeded"
    assert put(api, first.json()[0], contents[0]) == 200  # a PUT through the first URL
    assert put(api, again.json()[0], contents[0]) == 412  # ... is there for the second
    assert put(api, again.json()[1], contents[1]) == 200
    response = commit(api, alice, items_of(album, ids, contents))
    assert response.status_code == 201, response.text
    after = stage(api, alice, items)  # committed: nothing to send, recommit it
    assert after.status_code == 201
    assert [(e["state"], e["put"]) for e in after.json()] == [("committed", None)] * 2
    other = api.album(alice, "other")
    recommit = commit(api, alice, items_of(other, ids, contents))
    assert [f["id"] for f in recommit.json()["files"]] == [
        f["id"] for f in response.json()["files"]
    ]
    assert api.usage(alice)["stored_bytes"] == 9000


def test_lying_commits_record_nothing(api: Api, alice: Account) -> None:
    album = api.album(alice)
    sent, unsent = os.urandom(1000), os.urandom(1000)
    ids = [uuid.uuid4().hex, uuid.uuid4().hex]
    entries = stage(api, alice, [item(sent, ids[0]), item(unsent, ids[1])]).json()
    assert put(api, entries[0], sent) == 200
    never_put = commit(
        api, alice, [bundle_item(album, ids[0], sent), bundle_item(album, ids[1], unsent)]
    )
    assert never_put.status_code == 400 and never_put.json()["code"] == "checksum_mismatch"
    assert never_put.json()["details"]["upload_ids"] == [ids[1]]
    wrong_md5 = commit(api, alice, [bundle_item(album, ids[0], sent, md5_b64(unsent))])
    assert wrong_md5.status_code == 400 and wrong_md5.json()["details"]["upload_ids"] == [ids[0]]
    wrong_size = commit(api, alice, [bundle_item(album, ids[0], sent + b"!")])
    assert wrong_size.status_code == 400 and wrong_size.json()["details"]["upload_ids"] == [ids[0]]
    unknown = commit(api, alice, [bundle_item(album, uuid.uuid4().hex, sent)])
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    twice = commit(api, alice, [bundle_item(album, ids[0], sent)] * 2)
    assert twice.status_code == 400
    assert api.usage(alice)["files"] == 0
    states = {u["id"] for u in api.http.get("/uploads", headers=alice.headers).json()}
    assert states == set(ids)  # still open: the client may PUT and commit again
    assert put(api, entries[1], unsent) == 200
    good = commit(api, alice, items_of(album, ids, (sent, unsent)))
    assert good.status_code == 201, good.text


def test_restaging_other_bytes_gets_a_fresh_object_key(api: Api, alice: Account) -> None:
    album = api.album(alice)
    upload_id = uuid.uuid4().hex
    old, new = os.urandom(2000), os.urandom(2000)  # e.g. encrypted again after a kill
    first = stage(api, alice, [item(old, upload_id)]).json()[0]
    assert put(api, first, old) == 200
    second = stage(api, alice, [item(new, upload_id)]).json()[0]
    assert second["put"]["url"].split("?")[0] != first["put"]["url"].split("?")[0]
    assert put(api, second, new) == 200
    response = commit(api, alice, [bundle_item(album, upload_id, new)])
    assert response.status_code == 201, response.text
    got = api.http.get(f"/files/{response.json()['files'][0]['id']}/content", headers=alice.headers)
    assert got.content == new


def test_staging_refusals(api: Api, alice: Account, bob: Account) -> None:
    same = uuid.uuid4().hex
    twice = stage(api, alice, [item(b"a", same), item(b"b", same)])
    assert twice.status_code == 400
    assert stage(api, alice, [item(b"abc", same)]).status_code == 201
    other_size = stage(api, alice, [item(b"abcd", same)])
    assert other_size.status_code == 409
    assert other_size.json()["details"] == {
        "reason": "idempotency_key_reused",
        "upload_ids": [same],
    }
    theirs = stage(api, bob, [item(b"abc", same)])
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    session = api.open_upload(alice, 100).json()["id"]  # a multi-part session's id
    clash = stage(api, alice, [item(b"x" * 100, session)])
    assert clash.status_code == 409
    too_big = stage(api, alice, [{"size": 64 * 1024 * 1024 + 1, "md5": md5_b64(b"")}])
    assert too_big.status_code == 400


def test_thumbnails_attach_replace_and_resend(api: Api, alice: Account, bob: Account) -> None:
    album = api.album(alice)
    files = api.bundle(alice, album, [os.urandom(1000), os.urandom(2000)]).json()["files"]
    thumbs = [os.urandom(300), os.urandom(400)]
    entries = stage(api, alice, [item(t) for t in thumbs]).json()
    for entry, data in zip(entries, thumbs, strict=True):
        assert put(api, entry, data) == 200
    items = [
        {"file_id": f["id"], "upload_id": e["id"], "md5": md5_b64(t)}
        for f, e, t in zip(files, entries, thumbs, strict=True)
    ]
    body = {"items": items}
    response = api.http.post("/files/thumbnails/direct", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert [f["thumbnail_size"] for f in response.json()["files"]] == [300, 400]
    resend = api.http.post("/files/thumbnails/direct", json=body, headers=alice.headers)
    assert resend.json() == response.json()
    for f, data in zip(files, thumbs, strict=True):
        assert api.http.get(f"/files/{f['id']}/thumbnail", headers=alice.headers).content == data
    old_key = api.services.files.download(alice.user_id, files[0]["id"], "thumbnail").object_key
    newer = os.urandom(500)
    assert api.thumbnails(alice, [(files[0]["id"], newer)]).status_code == 200
    assert (
        api.http.get(f"/files/{files[0]['id']}/thumbnail", headers=alice.headers).content == newer
    )
    assert api.blobs.object_size(old_key) is None  # the replaced one is deleted
    assert api.usage(alice)["stored_bytes"] == 3000 + 900
    theirs = api.thumbnails(bob, [(files[0]["id"], b"x")])
    assert theirs.status_code == 404
    large = os.urandom(MAX_THUMBNAIL_BYTES + 1)
    staged = stage(api, alice, [item(large)]).json()[0]
    assert put(api, staged, large) == 200
    big = {"items": [{"file_id": files[1]["id"], "upload_id": staged["id"], "md5": md5_b64(large)}]}
    refused = api.http.post("/files/thumbnails/direct", json=big, headers=alice.headers)
    assert refused.status_code == 400, refused.text


def test_commits_enqueue_copies_for_each_replica(
    make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    weed = request.getfixturevalue("weed")
    bucket = request.getfixturevalue("s3_bucket")
    primary = parse_store_url(weed.url(bucket, f"t-{uuid.uuid4().hex}")).open()
    replica = parse_store_url(weed.url(bucket, f"t-{uuid.uuid4().hex}")).open()
    api = make_api(blobs=ReplicatedStore(primary, {"dr": replica}))
    alice = api.signup()
    album = api.album(alice)
    files = api.bundle(alice, album, [os.urandom(100), os.urandom(200)]).json()["files"]
    assert api.thumbnails(alice, [(files[0]["id"], os.urandom(30))]).status_code == 200
    api.new_file(alice, album, size=1000, thumb_size=50)
    health = api.http.get("/health/replication").json()
    assert [s["name"] for s in health["stores"]] == ["dr"]
    assert health["stores"][0]["pending"] == 2 + 1 + 2 and health["stores"][0]["done"] == 0


def test_a_restage_between_the_checks_and_the_commit_is_a_conflict(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit checked object K1; before its transaction, the same id is staged again with
    other bytes (a new key K2) and a sweep removes K1, which no row names any more. The commit
    must not record K1: 409, nothing committed, and the client stages again."""
    api = make_api(sweep_grace_seconds=0)
    alice = api.signup()
    album = api.album(alice)
    upload_id = uuid.uuid4().hex
    data, other = os.urandom(2000), os.urandom(2000)
    first = stage(api, alice, [item(data, upload_id)]).json()[0]
    assert put(api, first, data) == 200
    checks = DirectTransfers.check_heads

    def then_restaged(self: DirectTransfers, todo: Any) -> list[ObjectInfo]:
        found = checks(self, todo)
        monkeypatch.setattr(DirectTransfers, "check_heads", checks)
        again = stage(api, alice, [item(other, upload_id)])
        assert again.status_code == 201, again.text
        api.app.state.sweeper.sweep()
        return found

    monkeypatch.setattr(DirectTransfers, "check_heads", then_restaged)
    response = commit(api, alice, [bundle_item(album, upload_id, data)])
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert api.usage(alice)["files"] == 0


def test_a_failing_store_answers_a_bundle_check_at_once() -> None:
    """The first HEAD that fails (S3 down, credentials refused) ends the check: the HEADs not
    begun are dropped and those in flight are not waited for (each may take a timeout)."""
    started: list[str] = []

    class Down:
        md5_etags = True

        def head(self, key: str) -> ObjectInfo:
            started.append(key)
            if key == "k0":
                raise BlobStoreError("S3 at http://store.invalid cannot be reached")
            time.sleep(2)  # a HEAD waiting on its connect timeout
            return ObjectInfo(1, "0" * 32)

    rows = [UploadRow(f"u{n}", 1, 1, 1, 1, "open", f"k{n}", None, 0.0, 1e12) for n in range(200)]
    transfers = DirectTransfers(Down(), UploadStore.__new__(UploadStore), ttl=60)  # type: ignore[arg-type]
    began = time.monotonic()
    with pytest.raises(BlobStoreError):
        transfers.check_heads([(row, None) for row in rows])
    assert time.monotonic() - began < 1.5  # not the 2 s of the HEADs in flight
    assert len(started) <= 16 + 1  # one round of threads at most, not all 200
