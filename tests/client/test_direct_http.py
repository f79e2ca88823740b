"""The client's connection to an object store by presigned URL (:class:`DirectHttp`), against a
real SeaweedFS: a part's pieces go with an explicit ``Content-Length`` (never chunked), the
store's refusals become the client's errors (403 expired → :class:`UrlExpired`, ``BadDigest``
→ :class:`IntegrityFailure`, 404 → ``not_found``, a store out of reach →
:class:`StoreUnreachable`), a 412 on a guarded PUT counts as sent, the server's token never goes
to the store, and the API client replaces an expired URL (a download, a staged PUT, a part
whose URL lives shorter than the usual margin) with a fresh one, gives up on a store that
refuses every fresh one with that refusal, and aborts the sessions a failed commit staged."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from photoark.client.api import ApiClient
from photoark.client.direct import DirectHttp, StagedBlob, md5_of
from photoark.client.errors import (
    ApiError,
    IntegrityFailure,
    ServerUnreachable,
    StoreUnreachable,
    UrlExpired,
)
from photoark.client.pipeline.uploader import _PartLinks
from photoark.client.transport import RetryPolicy
from photoark.protocol.models import PartUrl
from tests.clusters import WeedCluster
from tests.s3_fixtures import BUCKET, s3_bucket_fixture, weed_fixture  # noqa: F401

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
FAST = RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.02)


@pytest.fixture
def s3(weed: WeedCluster, s3_bucket: str) -> S3Client:
    return weed.client()


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex}"


class Recording(httpx.BaseTransport):
    """A real transport that keeps each request's headers (and can break one GET's stream
    after ``break_after`` bytes, once)."""

    def __init__(self, break_after: int | None = None) -> None:
        self._real = httpx.HTTPTransport()
        self.requests: list[tuple[str, httpx.Headers]] = []
        self.break_after = break_after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.headers))
        response = self._real.handle_request(request)
        if request.method == "GET" and self.break_after is not None:
            limit, self.break_after = self.break_after, None
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=_Broken(response, limit),
                request=request,
            )
        return response

    def close(self) -> None:
        self._real.close()


class _Broken(httpx.SyncByteStream):
    def __init__(self, response: httpx.Response, limit: int) -> None:
        self._response = response
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._response.stream:  # type: ignore[union-attr]
            yield chunk[: self._limit - sent]
            sent += len(chunk)
            if sent >= self._limit:
                raise httpx.ReadError("connection reset (injected)")

    def close(self) -> None:
        self._response.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def _presign_put(s3: S3Client, key: str, data: bytes, expires: int = 600) -> str:
    return s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": BUCKET,
            "Key": key,
            "ContentLength": len(data),
            "ContentMD5": _b64(data),
            "IfNoneMatch": "*",
        },
        ExpiresIn=expires,
    )


def _presign_get(s3: S3Client, key: str, expires: int = 600) -> str:
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=expires
    )


def test_part_pieces_go_with_a_content_length(s3: S3Client, prefix: str) -> None:
    """The pieces of a part (as the uploader hands them over, never joined) are sent with an
    explicit Content-Length, which the presigned UploadPart URL signs; a tuple given to httpx
    as it is would go chunked and be refused."""
    key = f"{prefix}/movie"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    pieces = (os.urandom(4 * MIB + 17), os.urandom(4 * MIB + 17), os.urandom(1000))
    size = sum(map(len, pieces))
    url = s3.generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": BUCKET,
            "Key": key,
            "UploadId": upload,
            "PartNumber": 1,
            "ContentLength": size,
        },
        ExpiresIn=600,
    )
    recording = Recording()
    with DirectHttp(FAST, transport=recording) as http:
        md5 = base64.b64encode(md5_of(pieces)).decode("ascii")
        assert http.put(url, pieces, md5, size) is True
    (method, headers) = recording.requests[-1]
    assert method == "PUT" and headers["content-length"] == str(size)
    assert "transfer-encoding" not in headers and headers["content-md5"] == md5
    parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, size)]
    assert parts[0]["ETag"].strip('"') == md5_of(pieces).hex()
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


def test_a_guarded_put_twice_is_sent_then_already_there(s3: S3Client, prefix: str) -> None:
    """``If-None-Match: *`` signed in: the second PUT (a retry, a resumed bundle) gets 412,
    which counts as sent; the object is the first one."""
    key, data = f"{prefix}/small", os.urandom(300_000)
    url = _presign_put(s3, key, data)
    guard = {"If-None-Match": "*"}
    with DirectHttp(FAST) as http:
        assert http.put(url, (data[:1000], data[1000:]), _b64(data), len(data), guard) is True
        assert http.put(url, (data,), _b64(data), len(data), guard) is False
        assert b"".join(http.iter_get(_presign_get(s3, key))) == data


def test_other_bytes_than_their_md5_are_an_integrity_failure(s3: S3Client, prefix: str) -> None:
    key, data = f"{prefix}/torn", os.urandom(10_000)
    torn = data[:-1] + bytes([data[-1] ^ 1])
    with DirectHttp(FAST) as http, pytest.raises(IntegrityFailure, match="BadDigest"):
        http.put(
            _presign_put(s3, key, data), (torn,), _b64(data), len(data), {"If-None-Match": "*"}
        )
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key=key)


def test_an_expired_url_is_url_expired(s3: S3Client, prefix: str) -> None:
    key, data = f"{prefix}/late", os.urandom(1000)
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    put, get = _presign_put(s3, f"{prefix}/late2", data, 1), _presign_get(s3, key, 1)
    time.sleep(2.1)
    with DirectHttp(FAST) as http:
        with pytest.raises(UrlExpired, match="expired") as err:
            http.put(put, (data,), _b64(data), len(data), {"If-None-Match": "*"})
        assert "X-Amz-Signature" not in str(err.value)  # the signature is not shown
        with pytest.raises(UrlExpired):
            b"".join(http.iter_get(get))


def test_a_missing_object_is_not_found(s3: S3Client, prefix: str) -> None:
    with DirectHttp(FAST) as http, pytest.raises(ApiError) as err:
        b"".join(http.iter_get(_presign_get(s3, f"{prefix}/nothing")))
    assert (err.value.code, err.value.status) == ("not_found", 404)


def test_a_broken_download_resumes_with_a_range(s3: S3Client, prefix: str) -> None:
    key, data = f"{prefix}/big", os.urandom(3 * MIB)
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    recording = Recording(break_after=MIB + 5)
    with DirectHttp(FAST, transport=recording) as http:
        assert b"".join(http.iter_get(_presign_get(s3, key))) == data
        assert b"".join(http.iter_get(_presign_get(s3, key), start=2 * MIB)) == data[2 * MIB :]
    ranges = [h.get("range") for m, h in recording.requests if m == "GET"]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert int(ranges[1][6:].rstrip("-")) <= MIB + 5 and ranges[2] == f"bytes={2 * MIB}-"


def test_a_busy_store_is_retried_and_an_absent_one_fails_fast() -> None:
    answers = iter([503, 500, 200])
    sleeps: list[float] = []

    def store(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(next(answers), content=b"<Error><Code>SlowDown</Code></Error>")

    policy = dataclasses.replace(FAST, sleep=sleeps.append)
    with DirectHttp(policy, transport=httpx.MockTransport(store)) as http:
        assert http.put("http://127.0.0.1:9/b/k?X-Amz-Signature=s", (b"x",), "m", 1) is True
        answers = iter([503] * FAST.attempts)
        with pytest.raises(StoreUnreachable) as busy:
            http.put("http://127.0.0.1:9/b/k?X-Amz-Signature=s", (b"x",), "m", 1)
    assert len(sleeps) == 2 + FAST.attempts - 1
    assert "kept failing after 3 attempts: 503 SlowDown" in str(busy.value)
    assert "answers but keeps failing" in busy.value.hint

    refused: list[float] = []
    policy = dataclasses.replace(RetryPolicy(), sleep=refused.append)
    port = _closed_port()
    with DirectHttp(policy) as http, pytest.raises(ServerUnreachable) as err:
        http.put(f"http://127.0.0.1:{port}/b/k?X-Amz-Signature=s", (b"x",), "m", 1)
    assert len(refused) == 1, "a store never reached fails after one quick retry"
    assert "object store" in str(err.value) and "X-Amz-Signature" not in str(err.value)
    # the server answers: the store's address is the problem, said with what to do about it
    assert isinstance(err.value, StoreUnreachable) and err.value.url == f"http://127.0.0.1:{port}"
    assert str(err.value).startswith(f"cannot reach the object store at http://127.0.0.1:{port} (")
    assert "()" not in str(err.value)
    assert "--blobs" in err.value.hint and "public_endpoint" in err.value.hint
    assert "photoark doctor" not in err.value.hint  # the server's own hint does not fit


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the API client: a fresh URL when one expired ---------------------------------------------


class FakeServer:
    """A photoark server in S3 mode, as far as the client's direct flows see it:
    ``/health/transfers``, download URLs and staging answered from ``routes`` (each a function
    of the request)."""

    def __init__(self, routes: dict[str, Callable[[httpx.Request], Any]]) -> None:
        self.routes = routes
        self.calls: list[str] = []
        self.tokens: set[str | None] = set()  # the Authorization headers it was sent

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(path)
        self.tokens.add(request.headers.get("authorization"))
        if path == "/health/transfers":
            return httpx.Response(200, json={"direct": True})
        try:
            return httpx.Response(200, json=self.routes[path](request))
        except _Problem as problem:
            return problem.response


class _Problem(Exception):
    """A route's problem answer."""

    def __init__(self, status: int, code: str, details: dict[str, Any]) -> None:
        body = {"code": code, "message": code, "details": details}
        self.response = httpx.Response(status, json=body)


def _api(server: FakeServer, store: httpx.BaseTransport | None = None) -> ApiClient:
    """An API client of ``server``, reaching the object store through ``store``."""
    direct = DirectHttp(FAST, transport=store) if store is not None else None
    return ApiClient("http://photoark.test", "t", FAST, httpx.MockTransport(server), direct=direct)


def _no_token_to_the_store(server: FakeServer, store: Recording) -> None:
    """The server got the client's token; the store, a separate connection, never did."""
    assert server.tokens == {"Bearer t"}
    assert store.requests, "nothing went to the store"
    assert all("authorization" not in headers for _, headers in store.requests)


def test_a_download_replaces_an_expired_or_missing_url(s3: S3Client, prefix: str) -> None:
    key, data = f"{prefix}/content", os.urandom(2 * MIB + 3)
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    s3.put_object(Bucket=BUCKET, Key=f"{key}.thumb", Body=b"thumb")
    expired = _presign_get(s3, key, 1)
    time.sleep(2.1)
    urls = iter(
        [expired, _presign_get(s3, f"{prefix}/lost"), _presign_get(s3, key), _presign_get(s3, key)]
    )

    def url(request: httpx.Request) -> dict[str, Any]:
        if request.url.params["kind"] == "thumbnail":
            return {"url": _presign_get(s3, f"{key}.thumb"), "size": 5, "expires_at": 0}
        return {"url": next(urls), "size": len(data), "expires_at": time.time() + 600}

    server, store = FakeServer({"/files/7/url": url}), Recording()
    with _api(server, store) as api:
        assert b"".join(api.iter_content(7)) == data  # expired, then missing, then good
        assert b"".join(api.iter_content(7, start=MIB)) == data[MIB:]
        assert api.thumbnail(7) == b"thumb"
    assert server.calls.count("/files/7/url") == 5 and server.calls.count("/health/transfers") == 1
    _no_token_to_the_store(server, store)


def test_a_download_gives_up_after_the_attempts(s3: S3Client, prefix: str) -> None:
    lost = _presign_get(s3, f"{prefix}/lost")
    server = FakeServer({"/files/8/url": lambda r: {"url": lost, "size": 9, "expires_at": 0}})
    with _api(server) as api, pytest.raises(IntegrityFailure, match="fresh addresses"):
        b"".join(api.iter_content(8))
    assert server.calls.count("/files/8/url") == FAST.attempts


def test_a_store_that_refuses_every_fresh_url_is_no_damaged_copy(s3: S3Client, prefix: str) -> None:
    """403 ``AccessDenied`` to every fresh URL (expired here; a server whose clock is off, or
    whose credentials may not read, gets the same): the refusal, with its hint about clocks
    and credentials, not :class:`IntegrityFailure` ("the copy is damaged")."""
    key = f"{prefix}/refused"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"123456789")
    expired = _presign_get(s3, key, 1)
    time.sleep(2.1)
    server = FakeServer({"/files/9/url": lambda r: {"url": expired, "size": 9, "expires_at": 0}})
    with _api(server) as api, pytest.raises(UrlExpired) as err:
        b"".join(api.iter_content(9))
    assert not isinstance(err.value, IntegrityFailure)
    assert f"refused {FAST.attempts} fresh addresses of the content of file 9" in str(err.value)
    assert "clocks" in err.value.hint and "credentials" in err.value.hint
    assert server.calls.count("/files/9/url") == FAST.attempts


def test_a_staged_put_stages_again_when_its_url_expired(s3: S3Client, prefix: str) -> None:
    """``put_staged``: the first stage answers URLs that have expired (a bundle that waited);
    the client stages again (same ids: idempotent) and PUTs to the fresh URLs."""
    blobs = [StagedBlob(uuid.uuid4().hex, (os.urandom(5000), b"tail"), b"") for _ in range(3)]
    blobs = [dataclasses.replace(b, md5=md5_of(b.pieces)) for b in blobs]
    keys = {b.id: f"{prefix}/{b.id}" for b in blobs}
    data = {b.id: b"".join(b.pieces) for b in blobs}

    def stage(request: httpx.Request, ttl: int) -> list[dict[str, Any]]:
        items = httpx.Response(200, content=request.read()).json()["items"]
        return [
            {
                "id": item["id"],
                "state": "open",
                "put": {
                    "url": _presign_put(s3, keys[item["id"]], data[item["id"]], ttl),
                    "headers": {"If-None-Match": "*"},
                    "expires_at": 0,
                },
            }
            for item in items
        ]

    ttls = iter([1, 600])

    def staged(request: httpx.Request) -> list[dict[str, Any]]:
        ttl = next(ttls)
        answer = stage(request, ttl)
        if ttl == 1:  # the first answer is signed for 1 s, and used after 2
            time.sleep(2.1)
        return answer

    server, store = FakeServer({"/uploads/direct": staged}), Recording()
    with _api(server, store) as api:
        api.put_staged(blobs)
    assert server.calls.count("/uploads/direct") == 2
    _no_token_to_the_store(server, store)
    for blob in blobs:
        body = s3.get_object(Bucket=BUCKET, Key=keys[blob.id])["Body"].read()
        assert body == data[blob.id]


def test_a_part_gets_a_fresh_url_and_is_sent_again_when_not_found(
    s3: S3Client, prefix: str
) -> None:
    """The uploader's part URLs: the one the session answered has expired (the store says so,
    though the server's clock said it was good): a fresh window is fetched and the part PUT;
    the server does not find it in the store the first time (``checksum_mismatch``): it is
    PUT again and confirmed."""
    key = f"{prefix}/movie"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    pieces = (os.urandom(100_000), os.urandom(20))
    size = sum(map(len, pieces))

    def part_url(number: int, ttl: int) -> dict[str, Any]:
        params = {"Bucket": BUCKET, "Key": key, "UploadId": upload, "PartNumber": number + 1}
        url = s3.generate_presigned_url(
            "upload_part", Params={**params, "ContentLength": size}, ExpiresIn=ttl
        )
        return {"number": number, "url": url, "expires_at": time.time() + 600}

    stale = PartUrl.model_validate(part_url(0, 1))
    time.sleep(2.1)
    confirms: list[dict[str, Any]] = []

    def done(request: httpx.Request) -> Any:
        confirms.append(json.loads(request.read()))
        if len(confirms) == 1:
            raise _Problem(400, "checksum_mismatch", {"reason": "missing"})
        return {"number": 0, "size": size, "sha256": confirms[-1]["sha256"]}

    server = FakeServer(
        {
            "/uploads/u1/urls": lambda r: [part_url(int(r.url.params["first"]), 600)],
            "/uploads/u1/parts/0": done,
        }
    )
    sha256 = hashlib.sha256(b"".join(pieces)).hexdigest()
    with _api(server) as api:
        _PartLinks(api, "u1", [stale]).send(0, pieces, sha256, md5_of(pieces).hex())
    assert server.calls.count("/uploads/u1/urls") == 2  # the expired URL, then one per PUT
    assert [c["md5"] for c in confirms] == [md5_of(pieces).hex()] * 2
    parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]
    assert {(p["PartNumber"], p["Size"]) for p in parts} == {(1, size)}
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


class _Urls:
    """``part_urls`` of a server that signs each URL for ``ttl`` seconds by ``clock``."""

    def __init__(self, clock: list[float], ttl: float) -> None:
        self.clock = clock
        self.ttl = ttl
        self.asked: list[int] = []

    def part_urls(self, upload_id: str, first: int = 0, count: int = 100) -> list[PartUrl]:
        self.asked.append(first)
        expires = self.clock[0] + self.ttl
        return [
            PartUrl(number=n, url=f"u{n}", expires_at=expires) for n in range(first, first + 100)
        ]


def test_a_short_url_lifetime_is_not_refetched_for_every_part() -> None:
    """A server signing for 30 s (``--presign-seconds 30``, under the 60 s margin): a window
    of URLs serves its parts for half their lifetime, then the next part fetches a new window;
    a URL this clock thinks expired already (the clocks disagree) is used as it is (the store's
    refusal is the real check)."""
    clock = [1000.0]
    urls = _Urls(clock, ttl=30)
    links = _PartLinks(urls, "u1", None, clock=lambda: clock[0])  # type: ignore[arg-type]
    assert [links.url(n) for n in range(10)] == [f"u{n}" for n in range(10)]
    clock[0] += 14
    assert links.url(10) == "u10" and urls.asked == [0]
    clock[0] += 2  # past half the lifetime: the rest are fetched again, from the part wanted
    assert links.url(11) == "u11" and urls.asked == [0, 11]

    clock[0] = 5000.0
    skewed = _Urls([clock[0] - 120], ttl=60)  # the server's clock is two minutes behind
    links = _PartLinks(skewed, "u2", None, clock=lambda: clock[0])  # type: ignore[arg-type]
    assert [links.url(n) for n in range(5)] == [f"u{n}" for n in range(5)]
    assert skewed.asked == [0]


def _stage_open(request: httpx.Request) -> list[dict[str, Any]]:
    """Staging that answers every item open, with nothing left to PUT."""
    items = json.loads(request.read())["items"]
    return [{"id": item["id"], "state": "open", "put": None} for item in items]


def test_a_failed_commit_aborts_what_it_staged_without_hiding_its_error() -> None:
    """The commit is refused: the staged sessions are aborted (they hold quota); an abort that
    fails itself is logged, and the commit's error is the one raised. With the server out of
    reach, no abort is tried (the next run settles the small files' sessions)."""
    blobs = [StagedBlob(uuid.uuid4().hex, (b"x",), md5_of((b"x",))) for _ in range(2)]

    def refused() -> list[Any]:
        raise ApiError("bad_request", "refused (injected)", 400)

    def abort(request: httpx.Request) -> Any:
        raise _Problem(409, "conflict", {})  # the first committed meanwhile: nothing to do

    server = FakeServer({"/uploads/direct": _stage_open, f"/uploads/{blobs[0].id}": abort})
    with _api(server) as api, pytest.raises(ApiError, match="injected"):
        api.send_staged(blobs, refused)
    assert server.calls[-2:] == [f"/uploads/{b.id}" for b in blobs]  # DELETE, each

    def broken(request: httpx.Request) -> Any:
        raise _Problem(500, "internal", {})  # the abort fails: the commit's error still shows

    server = FakeServer({"/uploads/direct": _stage_open, f"/uploads/{blobs[0].id}": broken})
    with _api(server) as api, pytest.raises(ApiError, match="injected"):
        api.send_staged(blobs, refused)
    assert f"/uploads/{blobs[0].id}" in server.calls

    def gone() -> list[Any]:
        raise ServerUnreachable("cannot reach the photoark server (injected)")

    server = FakeServer({"/uploads/direct": _stage_open})
    with _api(server) as api, pytest.raises(ServerUnreachable):
        api.send_staged(blobs, gone)
    assert server.calls == ["/uploads/direct"]


def test_a_server_before_0_3_carries_the_bytes_itself() -> None:
    """No ``/health/transfers`` (404): not direct, asked once; any other failure is raised."""
    calls: list[str] = []

    def old_server(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        body = {"code": "not_found", "message": "Not Found", "details": {}}
        return httpx.Response(404, json=body)

    with ApiClient("http://photoark.test", "t", FAST, httpx.MockTransport(old_server)) as api:
        assert api.direct_transfers() is False
        assert api.direct_transfers() is False
    assert calls == ["/health/transfers"]

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": "unauthorized", "message": "no", "details": {}})

    with (
        ApiClient("http://photoark.test", "t", FAST, httpx.MockTransport(failing)) as api,
        pytest.raises(ApiError),
    ):
        api.direct_transfers()
