"""Downloads in S3 mode: presigned GET URLs (one, or many for a grid), the old routes' 307, the
fallback to a replica when the primary copy is missing or damaged, 410 when no store has it;
and the same fallback for a server on its own disk."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from photoark.server.blobs import (
    LocalBlobStore,
    MemoryBlobStore,
    ReplicatedStore,
    S3BlobStore,
    copy_object,
    parse_store_url,
)

from .conftest import LOCAL, S3, Account, Api, AppFactory

ON_S3 = pytest.mark.postgres  # PostgreSQL + S3 (the default backend of this module)


@pytest.fixture
def backend() -> str:
    return S3


def s3_store(request: pytest.FixtureRequest) -> S3BlobStore:
    weed = request.getfixturevalue("weed")
    bucket = request.getfixturevalue("s3_bucket")
    return parse_store_url(weed.url(bucket, f"t-{uuid.uuid4().hex}")).open()


def url_of(api: Api, account: Account, file_id: int, kind: str = "content") -> Any:
    return api.http.get(f"/files/{file_id}/url", params={"kind": kind}, headers=account.headers)


@ON_S3
def test_download_urls_and_ranges(api: Api, alice: Account, bob: Account) -> None:
    album = api.album(alice)
    record, data = api.new_file(alice, album, size=150_000, thumb_size=500)
    answer = url_of(api, alice, record["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["size"] == len(data)
    url = answer.json()["url"]
    assert api.http.get(url).content == data  # no Authorization: the URL is the credential
    ranged = api.http.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]
    thumb = url_of(api, alice, record["id"], "thumbnail")
    assert thumb.status_code == 200 and thumb.json()["size"] == 500
    bare, _ = api.new_file(alice, album, size=1000, thumb_size=0)
    assert url_of(api, alice, bare["id"], "thumbnail").status_code == 404
    assert url_of(api, bob, record["id"]).status_code == 404
    many = api.http.post(
        "/files/urls",
        json={"kind": "thumbnail", "file_ids": [record["id"], bare["id"], 987_654]},
        headers=alice.headers,
    )
    assert many.status_code == 200, many.text
    first, none_thumb, unknown = many.json()
    assert none_thumb is None and unknown is None and first["size"] == 500
    assert len(api.http.get(first["url"]).content) == 500
    theirs = api.http.post("/files/urls", json={"file_ids": [record["id"]]}, headers=bob.headers)
    assert theirs.json() == [None]


@ON_S3
def test_old_routes_redirect_to_the_store(api: Api, alice: Account) -> None:
    record, data = api.new_file(alice, api.album(alice), size=70_000, thumb_size=0)
    path = f"/files/{record['id']}/content"
    redirect = api.http.get(path, headers=alice.headers, follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"].startswith(api.blobs.endpoint)  # type: ignore[attr-defined]
    followed = api.http.get(path, headers={**alice.headers, "Range": "bytes=-10"})
    assert followed.status_code == 206 and followed.content == data[-10:]
    beyond = api.http.get(path, headers={**alice.headers, "Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.json()["code"] == "range_not_satisfiable"


def _replicated_api(make_api: AppFactory, request: pytest.FixtureRequest) -> Api:
    primary, replica = s3_store(request), s3_store(request)
    return make_api(blobs=ReplicatedStore(primary, {"dr": replica}))


@ON_S3
def test_a_missing_or_damaged_primary_copy_is_read_from_a_replica(
    make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    api = _replicated_api(make_api, request)
    stores: ReplicatedStore = api.app.state.stores
    alice = api.signup()
    record, data = api.new_file(alice, api.album(alice), size=20_000, thumb_size=0)
    key = api.services.files.download(alice.user_id, record["id"], "content").object_key
    copy_object(stores.primary, stores.replicas["dr"], key)
    stores.primary.delete(key)  # lost
    answer = url_of(api, alice, record["id"])
    assert answer.status_code == 200, answer.text
    replica = stores.replicas["dr"]
    assert isinstance(replica, S3BlobStore) and f"/{replica.prefix}" in answer.json()["url"]
    assert api.http.get(answer.json()["url"]).content == data
    assert api.http.get(f"/files/{record['id']}/content", headers=alice.headers).content == data
    stores.primary.put_object(key, b"short")  # damaged: another size than recorded
    assert api.http.get(url_of(api, alice, record["id"]).json()["url"]).content == data


@ON_S3
def test_410_when_no_store_has_the_object(
    make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    api = _replicated_api(make_api, request)
    stores: ReplicatedStore = api.app.state.stores
    alice = api.signup()
    record, _ = api.new_file(alice, api.album(alice), size=20_000, thumb_size=0)
    key = api.services.files.download(alice.user_id, record["id"], "content").object_key
    stores.primary.delete(key)  # and no replica copied it yet
    for response in (
        url_of(api, alice, record["id"]),
        api.http.get(f"/files/{record['id']}/content", headers=alice.headers),
    ):
        assert response.status_code == 410, response.text
        assert response.json()["code"] == "object_damaged"
        assert response.json()["details"]["stored_size"] is None


@pytest.mark.parametrize("backend", [LOCAL])
def test_a_server_on_its_own_disk_reads_from_a_replica_too(
    make_api: AppFactory, tmp_path: Any, backend: str
) -> None:
    local, replica = LocalBlobStore(tmp_path / "primary"), MemoryBlobStore()
    api = make_api(blobs=ReplicatedStore(local, {"dr": replica}))
    alice = api.signup()
    record, data = api.new_file(alice, api.album(alice), size=150_000, thumb_size=0)
    key = api.services.files.download(alice.user_id, record["id"], "content").object_key
    copy_object(local, replica, key)
    local.delete(key)
    got = api.http.get(f"/files/{record['id']}/content", headers=alice.headers)
    assert got.status_code == 200 and got.content == data
    replica.delete(key)
    assert api.http.get(f"/files/{record['id']}/content", headers=alice.headers).status_code == 410
    assert os.path.isdir(tmp_path / "primary")
