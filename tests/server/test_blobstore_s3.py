"""The S3 store's own promises, against a real SeaweedFS (skipped without ``weed``):
presigned transfers (what a client does with the URLs), what S3 enforces for us (MD5, size,
If-None-Match), SeaweedFS's duplicate part copies, copies between stores on one endpoint and
across two, the replicated store's read fallback, and the store URLs' errors."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from photoark.server.blobs import (
    BlobStoreError,
    LocalBlobStore,
    MemoryBlobStore,
    ReplicatedStore,
    S3BlobStore,
    copy_object,
    multipart_etag,
    open_blob_store,
    open_replicated,
    parse_store_url,
    store_name,
)
from photoark.server.blobs.base import DirectStore
from photoark.server.blobs.s3 import COPY_PIECE, MIN_PART_SIZE
from photoark.server.errors import NotFound
from tests.clusters import WeedCluster
from tests.s3_fixtures import (  # noqa: F401  (pytest fixtures)
    s3_bucket_fixture,
    s3_store_fixture,
    s3_url_fixture,
    start_weed,
    weed_fixture,
)

KEY = "0123456789abcdef"
OTHER = "fedcba9876543210"
TTL = 600.0


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body as an iterator of pieces, as the client sends a part (never joined)."""
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def send(url: str, data: bytes, headers: dict[str, str]) -> httpx.Response:
    """A client's PUT: pieces as an iterator, with an explicit Content-Length (without it httpx
    sends chunked, which a signed content-length refuses)."""
    return httpx.put(
        url, content=pieces(data), headers={"Content-Length": str(len(data)), **headers}
    )


def read(store: S3BlobStore, key: str) -> bytes:
    size = store.object_size(key)
    assert size is not None
    return b"".join(store.read_range(key, 0, size - 1)) if size else b""


@pytest.fixture
def other_store(weed: WeedCluster, s3_bucket: str) -> S3BlobStore:
    """Another store on the same endpoint and bucket, another prefix."""
    return parse_store_url(weed.url(s3_bucket, f"t-other-{os.urandom(6).hex()}")).open()


@pytest.fixture(scope="module")
def weed2(tmp_path_factory: pytest.TempPathFactory, weed: WeedCluster) -> Iterator[WeedCluster]:
    """A second SeaweedFS: another endpoint (same keys), where CopyObject cannot reach."""
    cluster = start_weed(tmp_path_factory.mktemp("weed2"))
    try:
        cluster.create_bucket("photoark-dr")
        yield cluster
    finally:
        cluster.stop()


# -- presigned transfers ----------------------------------------------------------------------


def test_is_a_direct_store(s3_store: S3BlobStore) -> None:
    assert isinstance(s3_store, DirectStore)
    assert s3_store.md5_etags


def test_presigned_put_then_get_round_trip(s3_store: S3BlobStore) -> None:
    data = os.urandom(300_000)
    put = s3_store.presign_put(KEY, len(data), md5_b64(data), TTL)
    assert put.method == "PUT"
    assert put.headers == {
        "Content-Length": str(len(data)),
        "Content-MD5": md5_b64(data),
        "If-None-Match": "*",
    }
    assert time.time() < put.expires_at <= time.time() + TTL
    assert send(put.url, data, put.headers).status_code == 200
    info = s3_store.head(KEY)
    assert info is not None
    assert (info.size, info.etag) == (len(data), hashlib.md5(data).hexdigest())
    get = s3_store.presign_get(KEY, TTL)
    assert httpx.get(get.url).content == data
    ranged = httpx.get(get.url, headers={"Range": "bytes=100-199"})
    assert (ranged.status_code, ranged.content) == (206, data[100:200])


def test_presigned_put_refuses_another_size(s3_store: S3BlobStore) -> None:
    data = os.urandom(1000)
    put = s3_store.presign_put(KEY, 999, md5_b64(data), TTL)
    answer = send(put.url, data, {**put.headers, "Content-Length": "1000"})
    assert answer.status_code == 403
    assert s3_store.head(KEY) is None


def test_presigned_multipart_round_trip(s3_store: S3BlobStore) -> None:
    parts = [os.urandom(MIN_PART_SIZE), os.urandom(12345)]
    upload_id = s3_store.create_multipart(KEY)
    for n, data in enumerate(parts):
        url = s3_store.presign_part(KEY, upload_id, n, len(data), TTL)
        assert url.headers == {"Content-Length": str(len(data))}
        answer = send(url.url, data, {**url.headers, "Content-MD5": md5_b64(data)})
        assert answer.status_code == 200, answer.text
        assert s3_store.list_part(KEY, upload_id, n) == [
            type(s3_store.list_part(KEY, upload_id, n)[0])(len(data), hashlib.md5(data).hexdigest())
        ]
    assert s3_store.list_part(KEY, upload_id, 2) == []
    with pytest.raises(ValueError):
        s3_store.presign_part(KEY, upload_id, 10_000, 1, TTL)  # S3 numbers parts 1..10,000
    assert s3_store.head(KEY) is None  # an upload is not an object
    etags = [hashlib.md5(data).hexdigest() for data in parts]
    info = s3_store.complete_multipart(KEY, upload_id, etags)
    assert info.size == sum(map(len, parts))
    assert info.etag == multipart_etag([hashlib.md5(data).digest() for data in parts])
    assert s3_store.complete_multipart(KEY, upload_id, etags) == info  # repeated: same answer
    assert read(s3_store, KEY) == b"".join(parts)
    with pytest.raises(NotFound):
        s3_store.list_part(KEY, upload_id, 0)  # completed: the upload is gone


def test_md5_is_enforced(s3_store: S3BlobStore) -> None:
    data, wrong = os.urandom(4096), os.urandom(4096)
    put = s3_store.presign_put(KEY, len(data), md5_b64(wrong), TTL)  # signed, other bytes
    answer = send(put.url, data, put.headers)
    assert answer.status_code == 400
    assert "BadDigest" in answer.text
    upload_id = s3_store.create_multipart(OTHER)
    url = s3_store.presign_part(OTHER, upload_id, 0, len(data), TTL)  # unsigned Content-MD5
    answer = send(url.url, data, {**url.headers, "Content-MD5": md5_b64(wrong)})
    assert answer.status_code == 400
    assert "BadDigest" in answer.text
    assert s3_store.list_part(OTHER, upload_id, 0) == []
    assert s3_store.head(KEY) is None


def test_if_none_match_keeps_the_first_object(s3_store: S3BlobStore) -> None:
    first, second = b"first", b"other"
    put = s3_store.presign_put(KEY, len(first), md5_b64(first), TTL)
    assert send(put.url, first, put.headers).status_code == 200
    assert send(put.url, first, put.headers).status_code == 412  # a still-valid URL, again
    put2 = s3_store.presign_put(KEY, len(second), md5_b64(second), TTL)
    assert send(put2.url, second, put2.headers).status_code == 412
    without = {k: v for k, v in put2.headers.items() if k != "If-None-Match"}
    assert send(put2.url, second, without).status_code == 403  # the header is signed
    with pytest.raises(FileExistsError):
        s3_store.put_object(KEY, second)
    assert read(s3_store, KEY) == first


def test_duplicate_part_copies_are_all_listed(s3_store: S3BlobStore) -> None:
    first, second, last = os.urandom(MIN_PART_SIZE), os.urandom(MIN_PART_SIZE), b"tail"
    upload_id = s3_store.create_multipart(KEY)
    for n, data in [(0, first), (0, second), (1, last)]:
        url = s3_store.presign_part(KEY, upload_id, n, len(data), TTL)
        assert send(url.url, data, {**url.headers, "Content-MD5": md5_b64(data)}).status_code == 200
    listed = s3_store.list_part(KEY, upload_id, 0)
    assert sorted(p.etag for p in listed) == sorted(
        hashlib.md5(d).hexdigest() for d in (first, second)
    )
    assert all(p.size == MIN_PART_SIZE for p in listed)
    etags = [hashlib.md5(first).hexdigest(), hashlib.md5(last).hexdigest()]
    info = s3_store.complete_multipart(KEY, upload_id, etags)  # the copy named by its ETag
    assert info.etag == multipart_etag([hashlib.md5(first).digest(), hashlib.md5(last).digest()])
    assert read(s3_store, KEY) == first + last


def test_complete_with_an_unknown_etag_is_not_found(s3_store: S3BlobStore) -> None:
    upload_id = s3_store.create_multipart(KEY)
    url = s3_store.presign_part(KEY, upload_id, 0, 3, TTL)
    assert send(url.url, b"abc", url.headers).status_code == 200
    with pytest.raises(NotFound):
        s3_store.complete_multipart(KEY, upload_id, ["0" * 32])
    with pytest.raises(NotFound):
        s3_store.complete_multipart(OTHER, "no-such-upload", ["0" * 32])
    assert s3_store.head(KEY) is None


def test_abort_is_idempotent(s3_store: S3BlobStore) -> None:
    upload_id = s3_store.create_multipart(KEY)
    url = s3_store.presign_part(KEY, upload_id, 0, 3, TTL)
    assert send(url.url, b"abc", url.headers).status_code == 200
    s3_store.abort_multipart(KEY, upload_id)
    s3_store.abort_multipart(KEY, upload_id)
    s3_store.abort_multipart(KEY, "never-existed")
    with pytest.raises(NotFound):
        s3_store.list_part(KEY, upload_id, 0)
    answer = send(url.url, b"abc", url.headers)  # the URL outlives the upload: 404
    assert answer.status_code == 404
    assert "NoSuchUpload" in answer.text
    assert list(s3_store.list_uploads()) == []


def test_list_uploads_names_an_abandoned_upload(s3_store: S3BlobStore) -> None:
    before = time.time()
    upload_id = s3_store.create_multipart(KEY)
    url = s3_store.presign_part(KEY, upload_id, 0, 3, TTL)
    assert send(url.url, b"abc", url.headers).status_code == 200
    s3_store.create_multipart(KEY)  # a second upload at the same key (a retried open)
    listed = list(s3_store.list_uploads())
    assert [u.key for u in listed] == [KEY]
    assert before - 2 <= listed[0].modified <= time.time() + 2
    assert list(s3_store.list_objects()) == []  # never an object
    s3_store.abort(KEY)  # what the sweeper does: every upload at the key
    assert list(s3_store.list_uploads()) == []


def test_presign_uses_the_public_endpoint(weed: WeedCluster, s3_bucket: str) -> None:
    public = f"http://localhost:{weed.s3_port}"
    store = parse_store_url(weed.url(s3_bucket, "t-public", public_endpoint=public)).open()
    store.put_object(KEY, b"hello")
    url = store.presign_get(KEY, TTL).url
    assert url.startswith(f"{public}/{s3_bucket}/t-public/{KEY}?")
    assert httpx.get(url).content == b"hello"  # signed for the host the client uses
    store.delete(KEY)


def test_put_objects_in_parallel(s3_store: S3BlobStore) -> None:
    objects = {f"{i:04x}" + "ab" * 6: os.urandom(100 * i + 1) for i in range(40)}
    s3_store.put_objects([(k, memoryview(v)) for k, v in objects.items()])
    assert {s.key for s in s3_store.list_objects()} == set(objects)
    for key, data in objects.items():
        assert read(s3_store, key) == data
    with pytest.raises(FileExistsError):
        s3_store.put_objects([("ff" * 8, b"new"), (next(iter(objects)), b"again")])
    assert read(s3_store, "ff" * 8) == b"new"


def test_empty_object(s3_store: S3BlobStore) -> None:
    s3_store.put_object(KEY, b"")
    assert s3_store.object_size(KEY) == 0
    assert read(s3_store, KEY) == b""


# -- copies -----------------------------------------------------------------------------------


def test_copy_to_on_the_same_endpoint(
    s3_store: S3BlobStore, other_store: S3BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(MIN_PART_SIZE + 777)
    s3_store.put_object(KEY, data)

    def streamed(*args: object) -> int:
        raise AssertionError("same endpoint: CopyObject, no byte through this process")

    monkeypatch.setattr(other_store, "put_stream", streamed)
    monkeypatch.setattr(s3_store, "_stream", streamed)
    assert s3_store.copy_to(other_store, KEY) == len(data)
    monkeypatch.undo()
    assert read(other_store, KEY) == data
    assert s3_store.copy_to(other_store, KEY) == len(data)  # again: same result
    with pytest.raises(NotFound):
        s3_store.copy_to(other_store, OTHER)


def test_copy_to_another_endpoint_is_streamed(s3_store: S3BlobStore, weed2: WeedCluster) -> None:
    replica = parse_store_url(weed2.url("photoark-dr", "t-copy")).open()
    big = os.urandom(COPY_PIECE + MIN_PART_SIZE + 5)  # more than a piece: a multipart upload
    small = os.urandom(1000)
    s3_store.put_object(KEY, big)
    s3_store.put_object(OTHER, small)
    replica.put_object(OTHER, b"a stale, wrong copy")
    assert s3_store.copy_to(replica, KEY) == len(big)
    assert s3_store.copy_to(replica, OTHER) == len(small)  # replaced
    assert read(replica, KEY) == big
    assert read(replica, OTHER) == small
    assert list(replica.list_uploads()) == []


def test_copy_object_between_local_memory_and_s3(s3_store: S3BlobStore, tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path)
    data = os.urandom(COPY_PIECE + 10)
    local.put_object(KEY, data)
    assert copy_object(local, s3_store, KEY) == len(data)
    assert read(s3_store, KEY) == data
    memory = MemoryBlobStore()
    assert copy_object(s3_store, memory, KEY) == len(data)  # streamed into any BlobStore
    assert b"".join(memory.read_range(KEY, 0, len(data) - 1)) == data
    assert copy_object(s3_store, memory, KEY) == len(data)  # already there: kept
    back = LocalBlobStore(tmp_path / "back")
    assert copy_object(s3_store, back, KEY) == len(data)  # parts, completed at the key
    assert back.stored_size(KEY) == len(data)
    assert b"".join(back.read_range(KEY, 0, len(data) - 1)) == data
    assert list(back.list_uploads()) == []
    with pytest.raises(NotFound):
        copy_object(local, s3_store, OTHER)


# -- the replicated store ---------------------------------------------------------------------


def test_locate_falls_back_to_a_replica(s3_store: S3BlobStore, other_store: S3BlobStore) -> None:
    store = ReplicatedStore(s3_store, {"dr": other_store})
    assert store.direct is s3_store
    data = os.urandom(2000)
    store.put_object(KEY, data)
    assert other_store.head(KEY) is None  # writes go to the primary only
    assert store.locate(KEY, len(data)) is s3_store
    assert s3_store.copy_to(other_store, KEY) == len(data)
    s3_store.delete(KEY)  # the primary lost it
    assert store.locate(KEY, len(data)) is other_store
    s3_store.put_object(KEY, data[:100])  # the primary holds a wrong size
    assert store.locate(KEY, len(data)) is other_store
    assert store.locate(KEY, 1) is None  # nobody holds that size
    store.delete(KEY)  # everywhere
    assert s3_store.head(KEY) is None
    assert other_store.head(KEY) is None
    assert store.locate(KEY, len(data)) is None


def test_locate_skips_an_unreachable_replica(s3_store: S3BlobStore) -> None:
    dead = S3BlobStore("nowhere", endpoint=f"http://127.0.0.1:{_closed_port()}", attempts=1)
    store = ReplicatedStore(s3_store, {"dead": dead})
    assert store.locate(KEY, 5) is None
    store.put_object(KEY, b"hello")
    store.delete(KEY)  # the dead replica's failure is logged, not raised
    assert ReplicatedStore(MemoryBlobStore()).direct is None


# -- store URLs -------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://bucket?endpoint=http://h:1", "only s3://"),
        ("s3://Bad_Bucket?endpoint=http://h:1", "bucket name"),
        ("s3://bucket", "endpoint= is required"),
        ("s3://bucket?endpoint=ftp://h", "http://HOST"),
        ("s3://bucket?endpoint=http://h:1/path", "without a path"),
        ("s3://bucket?endpoint=http://h:1&colour=red", "unknown parameter 'colour'"),
        ("s3://bucket?endpoint=http://h:1&endpoint=http://h:2", "given twice"),
        ("s3://bucket?endpoint=http://h:1&verify=sha1", "verify must be"),
        ("s3://key:secret@bucket?endpoint=http://h:1", "credentials do not go in the URL"),
        ("s3://bucket/../up?endpoint=http://h:1", "not a key prefix"),
        ("s3://bucket?endpoint=http://h:99999", "invalid port"),
    ],
)
def test_bad_store_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(BlobStoreError) as info:
        parse_store_url(url)
    assert says in info.value.message
    assert "s3://BUCKET[/PREFIX]?endpoint=URL" in info.value.message


def test_store_urls_parse() -> None:
    location = parse_store_url(
        "s3://photos/a/b?endpoint=http://127.0.0.1:9000&region=eu-west-1"
        "&public_endpoint=https://s3.example.org&profile=dr&verify=size"
    )
    assert (location.bucket, location.prefix, location.endpoint) == (
        "photos",
        "a/b",
        "http://127.0.0.1:9000",
    )
    assert (location.region, location.public_endpoint, location.profile, location.verify) == (
        "eu-west-1",
        "https://s3.example.org",
        "dr",
        "size",
    )
    assert location.store_name() == "photos/a/b@127.0.0.1:9000"
    assert store_name(None) == "local"
    assert store_name("s3://b12?endpoint=http://h:1&name=dr-1") == "dr-1"
    long = store_name(f"s3://bucket/{'p' * 80}?endpoint=http://h:1")
    assert len(long) == 64
    assert long != store_name(f"s3://bucket/{'p' * 81}?endpoint=http://h:1")


def test_open_none_is_the_local_store(tmp_path: Path) -> None:
    assert isinstance(open_blob_store(None, tmp_path), LocalBlobStore)


def test_open_checks_the_bucket(weed: WeedCluster, s3_bucket: str, tmp_path: Path) -> None:
    store = open_blob_store(weed.url(s3_bucket, "t-open"), tmp_path)
    assert isinstance(store, S3BlobStore) and store.md5_etags
    with pytest.raises(BlobStoreError, match="bucket 'no-such-bucket' does not exist"):
        open_blob_store(weed.url("no-such-bucket"), tmp_path)
    unreachable = f"s3://{s3_bucket}?endpoint=http://127.0.0.1:{_closed_port()}"
    with pytest.raises(BlobStoreError, match="cannot reach S3"):
        S3BlobStore(s3_bucket, endpoint=parse_store_url(unreachable).endpoint, attempts=1).check()
    assert isinstance(
        open_blob_store(weed.url("no-such-bucket"), tmp_path, check=False), S3BlobStore
    )


def test_open_without_credentials_says_what_to_set(
    weed: WeedCluster, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(BlobStoreError, match=r"no S3 credentials.*AWS_ACCESS_KEY_ID"):
        open_blob_store(weed.url(s3_bucket), tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "photoark-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(BlobStoreError, match="refused the credentials"):
        open_blob_store(weed.url(s3_bucket), tmp_path)
    with pytest.raises(BlobStoreError, match="profile"):
        open_blob_store(weed.url(s3_bucket, profile="nobody"), tmp_path)


def test_open_replicated_names_the_replicas(
    weed: WeedCluster, s3_bucket: str, tmp_path: Path
) -> None:
    store = open_replicated(
        None, [weed.url(s3_bucket, "t-r1"), weed.url(s3_bucket, "t-r2", name="dr")], tmp_path
    )
    assert isinstance(store.primary, LocalBlobStore)
    assert store.direct is None
    assert sorted(store.replicas) == ["dr", f"{s3_bucket}/t-r1@127.0.0.1:{weed.s3_port}"]
    with pytest.raises(BlobStoreError, match="two stores are named"):
        open_replicated(None, [weed.url(s3_bucket, "t-r1")] * 2, tmp_path)
    primary = weed.url(s3_bucket, "t-p")
    itself = weed.url(s3_bucket, "t-p", name="elsewhere")  # the primary under another name
    with pytest.raises(BlobStoreError, match="same bucket and prefix"):
        open_replicated(primary, [itself], tmp_path)
