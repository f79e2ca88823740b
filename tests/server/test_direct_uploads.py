"""Multi-part uploads by direct transfer (S3): part URLs, presigned PUTs, confirmations checked
against the store's ListParts, commits checked with HEAD; the body routes refused."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from photoark.protocol.models import MAX_PART_URLS, Health, UploadSession
from photoark.server.app import create_app
from photoark.server.blobs import BlobStoreError, S3BlobStore
from photoark.server.config import ServerSettings

from .conftest import S3, S3_PART_SIZE, Account, Api, AppFactory, Uploaded, md5_b64

pytestmark = pytest.mark.postgres
MIB = 1024 * 1024


@pytest.fixture
def backend() -> str:
    return S3


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def done(data: bytes) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "md5": md5_hex(data)}


def open_session(api: Api, account: Account, size: int) -> dict[str, Any]:
    response = api.open_upload(account, size, S3_PART_SIZE)
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


def part_of(data: bytes, n: int) -> bytes:
    return data[n * S3_PART_SIZE : (n + 1) * S3_PART_SIZE]


def confirm(api: Api, account: Account, upload_id: str, n: int, data: bytes) -> Any:
    return api.http.post(
        f"/uploads/{upload_id}/parts/{n}", json=done(data), headers=account.headers
    )


def status(api: Api, account: Account, upload_id: str) -> dict[str, Any]:
    response = api.http.get(
        f"/uploads/{upload_id}", headers=account.headers, params={"part_urls": "true"}
    )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def store(api: Api) -> S3BlobStore:
    blobs = api.blobs
    assert isinstance(blobs, S3BlobStore)
    return blobs


def test_upload_urls_work_no_longer_than_their_session(make_api: AppFactory) -> None:
    """An old URL must not put bytes back once the session expired (and was swept)."""
    api = make_api(upload_expiry_seconds=30)
    alice = api.signup()
    before = time.time()
    session = open_session(api, alice, S3_PART_SIZE + 10)
    assert all(u["expires_at"] <= before + 31 for u in session["part_urls"])
    [staged] = api.http.post(
        "/uploads/direct",
        json={"items": [{"size": 700, "md5": md5_b64(os.urandom(700))}]},
        headers=alice.headers,
    ).json()
    assert before + 1 < staged["put"]["expires_at"] <= before + 31


def test_url_put_confirm_commit(api: Api, alice: Account) -> None:
    assert api.http.get("/health/transfers").json() == {"direct": True}
    data = os.urandom(S3_PART_SIZE + 12_345)
    session = open_session(api, alice, len(data))
    assert session["part_count"] == 2 and session["parts"] == []
    urls = session["part_urls"]
    assert [u["number"] for u in urls] == [0, 1]
    assert all(u["expires_at"] > time.time() + 3000 for u in urls)
    for n, url in enumerate(urls):
        piece = part_of(data, n)
        assert api.put_to_store(url["url"], piece).status_code == 200
        confirmed = confirm(api, alice, session["id"], n, piece)
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json() == {
            "number": n,
            "size": len(piece),
            "sha256": done(piece)["sha256"],
        }
    after = status(api, alice, session["id"])
    assert [p["number"] for p in after["parts"]] == [0, 1] and after["part_urls"] == []
    response = api.commit(alice, api.album(alice), Uploaded(session["id"], data))
    assert response.status_code == 201, response.text
    assert response.json()["content_size"] == len(data)
    info = store(api).head(session["id"])  # the object completes at the session's key
    assert info is not None and info.size == len(data)
    md5s = b"".join(hashlib.md5(part_of(data, n), usedforsecurity=False).digest() for n in (0, 1))
    assert info.etag == f"{md5_hex(md5s)}-2"
    download = api.http.get(f"/files/{response.json()['id']}/content", headers=alice.headers)
    assert download.status_code == 200 and download.content == data
    assert "part_urls" not in status(api, alice, session["id"])  # committed: none
    again = api.commit(alice, api.album(alice), Uploaded(session["id"], data))
    assert again.status_code == 201 and again.json()["id"] == response.json()["id"]


def test_a_lying_confirmation_records_nothing(api: Api, alice: Account) -> None:
    data = os.urandom(3000)
    session = open_session(api, alice, len(data))
    upload_id = session["id"]
    never = confirm(api, alice, upload_id, 0, data)  # never PUT
    assert never.status_code == 400 and never.json()["code"] == "checksum_mismatch"
    assert never.json()["details"]["reason"] == "missing"
    assert api.put_to_store(session["part_urls"][0]["url"], data).status_code == 200
    other = os.urandom(3000)
    wrong_md5 = confirm(api, alice, upload_id, 0, other)  # what was PUT is not this
    assert wrong_md5.status_code == 400, wrong_md5.text
    assert wrong_md5.json()["details"]["reason"] == "md5"
    assert status(api, alice, upload_id)["parts"] == []
    assert api.services.upload_store.put_count(upload_id, 0) == 0
    commit = api.commit(alice, api.album(alice), Uploaded(upload_id, data))
    assert commit.status_code == 409 and commit.json()["code"] == "upload_incomplete"
    assert commit.json()["details"]["missing_parts"] == [0]
    assert confirm(api, alice, upload_id, 0, data).status_code == 200  # the truth counts
    assert confirm(api, alice, upload_id, 1, data).status_code == 400  # beyond the last part


def test_an_unconfirmed_part_is_not_listed_and_a_reput_replaces_it(
    api: Api, alice: Account
) -> None:
    data = os.urandom(S3_PART_SIZE + 100)
    session = open_session(api, alice, len(data))
    upload_id, urls = session["id"], session["part_urls"]
    garbage = os.urandom(S3_PART_SIZE)
    assert api.put_to_store(urls[0]["url"], garbage).status_code == 200  # not confirmed
    listed = status(api, alice, upload_id)
    assert listed["parts"] == [] and [u["number"] for u in listed["part_urls"]] == [0, 1]
    for n in (0, 1):  # the client sends the right bytes again and confirms them
        piece = part_of(data, n)
        assert api.put_to_store(listed["part_urls"][n]["url"], piece).status_code == 200
        assert confirm(api, alice, upload_id, n, piece).status_code == 200
    # a PUT after the confirmation changes nothing: the commit uses the recorded ETags
    assert api.put_to_store(listed["part_urls"][0]["url"], garbage).status_code == 200
    response = api.commit(alice, api.album(alice), Uploaded(upload_id, data))
    assert response.status_code == 201, response.text
    download = api.http.get(f"/files/{response.json()['id']}/content", headers=alice.headers)
    assert download.content == data


def test_a_client_killed_between_parts_resumes_the_same_upload(api: Api, alice: Account) -> None:
    data = os.urandom(2 * S3_PART_SIZE + 7)
    session = open_session(api, alice, len(data))
    upload_id = session["id"]
    first = part_of(data, 0)
    assert api.put_to_store(session["part_urls"][0]["url"], first).status_code == 200
    assert confirm(api, alice, upload_id, 0, first).status_code == 200
    kept = api.services.upload_store.get(alice.user_id, upload_id).store_upload_id
    assert kept is not None
    # ... killed here; a new process asks what the server has
    resumed = status(api, alice, upload_id)
    assert [p["number"] for p in resumed["parts"]] == [0]
    assert [u["number"] for u in resumed["part_urls"]] == [1, 2]
    assert api.services.upload_store.get(alice.user_id, upload_id).store_upload_id == kept
    for url in resumed["part_urls"]:
        piece = part_of(data, url["number"])
        assert api.put_to_store(url["url"], piece).status_code == 200
        assert confirm(api, alice, upload_id, url["number"], piece).status_code == 200
    response = api.commit(alice, api.album(alice), Uploaded(upload_id, data))
    assert response.status_code == 201, response.text
    assert api.services.upload_store.put_count(upload_id, 0) == 1


def test_part_rules_of_s3(api: Api, alice: Account) -> None:
    small = api.open_upload(alice, 3 * MIB, MIB)
    assert small.status_code == 400, small.text
    assert small.json()["details"]["min_part_size"] == 5 * MIB
    one = api.open_upload(alice, MIB // 2, MIB)  # one part: any size
    assert one.status_code == 201, one.text
    many = api.open_upload(alice, 10_001 * S3_PART_SIZE, S3_PART_SIZE)
    assert many.status_code == 400 and many.json()["details"]["max_parts"] == 10_000


def test_url_windows_and_refresh_after_expiry(make_api: AppFactory) -> None:
    api = make_api(presign_seconds=1, default_quota=2**40)
    alice = api.signup()
    size = (MAX_PART_URLS + 5) * S3_PART_SIZE  # nothing is sent but the last part
    session = open_session(api, alice, size)
    assert [u["number"] for u in session["part_urls"]] == list(range(MAX_PART_URLS))
    window = api.http.get(
        f"/uploads/{session['id']}/urls", params={"first": 100, "count": 50}, headers=alice.headers
    )
    assert window.status_code == 200 and [u["number"] for u in window.json()] == [
        100,
        101,
        102,
        103,
        104,
    ]
    for bad in ({"first": 105}, {"count": 0}, {"count": 101}):
        refused = api.http.get(f"/uploads/{session['id']}/urls", params=bad, headers=alice.headers)
        assert refused.status_code == 400, (bad, refused.text)
    last = os.urandom(S3_PART_SIZE)
    time.sleep(2.1)  # the URL (1 s) expired
    expired = api.put_to_store(window.json()[-1]["url"], last)
    assert expired.status_code == 403 and b"expired" in expired.content
    fresh = api.http.get(
        f"/uploads/{session['id']}/urls", params={"first": 104, "count": 1}, headers=alice.headers
    ).json()
    assert api.put_to_store(fresh[0]["url"], last).status_code == 200
    assert confirm(api, alice, session["id"], 104, last).status_code == 200


def test_a_client_before_0_3_is_told_to_upgrade(api: Api, alice: Account) -> None:
    # what it reads parses with the models it has (extra="forbid"): /health and a session
    # as 0.2 knew them, so it reaches the part PUT and its message
    health = api.http.get("/health").json()
    assert set(health) == {"status", "version", "time"}
    Health.model_validate(health)
    old = api.open_upload(alice, 1000, S3_PART_SIZE, part_urls=False).json()
    assert "part_urls" not in old
    UploadSession.model_validate(old)
    got = api.http.get(f"/uploads/{old['id']}", headers=alice.headers).json()
    assert "part_urls" not in got
    data = os.urandom(1000)
    sha = {"X-Content-SHA256": hashlib.sha256(data).hexdigest()}
    put = api.http.put(
        f"/uploads/{old['id']}/parts/0", content=data, headers={**alice.headers, **sha}
    )
    assert put.status_code == 409 and put.json()["code"] == "direct_transfer_required"
    assert put.json()["message"].startswith("upgrade photoark on this device")


def test_old_routes_answer_direct_transfer_required(api: Api, alice: Account) -> None:
    session = open_session(api, alice, 1000)
    data = os.urandom(1000)
    sha = {"X-Content-SHA256": hashlib.sha256(data).hexdigest()}
    put = api.http.put(
        f"/uploads/{session['id']}/parts/0", content=data, headers={**alice.headers, **sha}
    )
    assert put.status_code == 409 and put.json()["code"] == "direct_transfer_required"
    assert "upgrade photoark" in put.json()["message"]
    for path in ("/files/bundle", "/files/thumbnails"):
        refused = api.http.post(path, content=b"\x00" * 100, headers=alice.headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "direct_transfer_required"
    assert api.put_to_store(session["part_urls"][0]["url"], data).status_code == 200
    assert confirm(api, alice, session["id"], 0, data).status_code == 200
    inline = api.commit(
        alice, api.album(alice), Uploaded(session["id"], data), inline_thumbnail=b"thumb"
    )
    assert inline.status_code == 409 and inline.json()["code"] == "direct_transfer_required"
    assert status(api, alice, session["id"])["state"] == "open"


def test_a_staged_thumbnail_upload_in_a_file_commit(api: Api, alice: Account) -> None:
    data, thumb = os.urandom(5000), os.urandom(700)
    content = api.upload(alice, data)
    staged = api.stage(alice, [thumb])
    assert staged.status_code == 201, staged.text
    thumb_id = staged.json()[0]["id"]
    response = api.commit(alice, api.album(alice), content, Uploaded(thumb_id, thumb))
    assert response.status_code == 201, response.text
    assert response.json()["thumbnail_size"] == 700
    got = api.http.get(f"/files/{response.json()['id']}/thumbnail", headers=alice.headers)
    assert got.status_code == 200 and got.content == thumb
    assert api.usage(alice)["stored_bytes"] == 5700


def test_a_staged_object_missing_at_commit_is_refused(api: Api, alice: Account) -> None:
    content = api.upload(alice, os.urandom(5000))
    items = [{"size": 700, "md5": md5_b64(os.urandom(700))}]
    staged = api.http.post("/uploads/direct", json={"items": items}, headers=alice.headers)
    assert staged.status_code == 201, staged.text  # ... and never PUT
    thumb = Uploaded(staged.json()[0]["id"], b"")
    response = api.commit(alice, api.album(alice), content, thumb)
    assert response.status_code == 400 and response.json()["code"] == "checksum_mismatch"
    assert api.usage(alice)["files"] == 0


def test_direct_routes_on_a_local_server_say_so(tmp_path: Path) -> None:
    app: FastAPI = create_app(ServerSettings(data_dir=tmp_path / "local", login_hash="min"))
    local = Api(app)
    try:
        assert local.http.get("/health/transfers").json() == {"direct": False}
        alice = local.signup()
        session = local.open_upload(alice, 1000).json()
        assert "part_urls" not in session  # asked, but no URLs here: left out, as before
        again = local.http.get(
            f"/uploads/{session['id']}", headers=alice.headers, params={"part_urls": "true"}
        ).json()
        assert "part_urls" not in again
        for method, path, body in (
            ("GET", f"/uploads/{session['id']}/urls", None),
            ("POST", f"/uploads/{session['id']}/parts/0", done(b"x")),
            ("POST", "/uploads/direct", {"items": [{"size": 1, "md5": md5_b64(b"x")}]}),
            ("GET", "/files/1/url", None),
            ("POST", "/files/urls", {"file_ids": [1]}),
        ):
            response = local.http.request(method, path, json=body, headers=alice.headers)
            assert response.status_code == 409, (path, response.text)
            assert response.json()["details"]["reason"] == "direct_transfers_off"
        assert local.http.get("/health/replication").json() == {"stores": []}
    finally:
        local.http.close()
        app.state.engine.dispose()


def test_a_store_that_cannot_be_used_fails_the_start(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> None:
    weed = request.getfixturevalue("weed")
    missing = weed.url("no-such-bucket", "p")
    settings = ServerSettings(
        data_dir=tmp_path / "s", database_url=database_url, login_hash="min", blobs_url=missing
    )
    with pytest.raises(BlobStoreError, match="no-such-bucket"):
        create_app(settings)
    with pytest.raises(BlobStoreError, match="endpoint"):
        create_app(dataclasses.replace(settings, blobs_url="s3://bucket/p"))
