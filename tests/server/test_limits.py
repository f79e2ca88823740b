"""Request limits: body size (413 too_large), field sizes and integer ranges (400 bad_request)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import pytest
from starlette.types import Message, Receive, Scope, Send

from photoark.crypto.boxes import new_key, wrap_key
from photoark.protocol.models import MAX_METADATA_BYTES, MIN_PART_SIZE
from photoark.server.api.limits import MAX_BODY_BYTES, BodyLimitMiddleware

from .conftest import Account, Api, b64

HUGE = 99999999999999999999999


def _is_problem(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.json()["code"] == code  # type: ignore[attr-defined]


def test_declared_body_over_limit_is_refused_unread(api: Api) -> None:
    body = b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}"
    response = api.http.post(
        "/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    _is_problem(response, 413, "too_large")
    assert response.json()["details"] == {"max_bytes": MAX_BODY_BYTES}


def test_streamed_body_over_limit_is_refused(api: Api, alice: Account) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(64):
            yield b" " * (64 * 1024)

    response = api.http.post(
        "/collections",
        content=chunks(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    _is_problem(response, 413, "too_large")


def test_body_under_limit_still_works(api: Api, alice: Account) -> None:
    api.album(alice)  # an ordinary JSON body
    album = api.album(alice)
    key = new_key()
    content = api.upload(alice, os.urandom(10))
    # metadata at its limit: the body is ~90 KiB, well under 1 MiB
    response = api.http.post(
        "/files",
        json={
            "collection_id": album.id,
            "content_upload_id": content.upload_id,
            "encrypted_key": b64(wrap_key(album.key, key)),
            "encrypted_metadata": b64(b"m" * MAX_METADATA_BYTES),
        },
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text


@pytest.mark.local_blobs
def test_part_put_is_exempt_from_the_body_limit(api: Api, alice: Account) -> None:
    part_size = 2 * MAX_BODY_BYTES
    data = os.urandom(part_size + 5)
    up = api.upload(alice, data, part_size=part_size)
    session = api.http.get(f"/uploads/{up.upload_id}", headers=alice.headers).json()
    assert [p["size"] for p in session["parts"]] == [part_size, 5]


@pytest.mark.parametrize(
    ("field", "size"),
    [("encrypted_key", 1025), ("encrypted_name", 4097)],
)
def test_oversized_album_fields(api: Api, alice: Account, field: str, size: int) -> None:
    body = {"encrypted_key": b64(b"k" * 40), "encrypted_name": b64(b"n" * 40)}
    body[field] = b64(b"x" * size)
    response = api.http.post("/collections", json=body, headers=alice.headers)
    _is_problem(response, 400, "bad_request")


def test_oversized_commit_fields(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(10))
    base = {
        "collection_id": album.id,
        "content_upload_id": content.upload_id,
        "encrypted_key": b64(b"k" * 40),
        "encrypted_metadata": b64(b"m" * 40),
    }
    for field, value in [
        ("encrypted_metadata", b64(b"m" * (MAX_METADATA_BYTES + 1))),
        ("encrypted_key", b64(b"k" * 1025)),
        ("content_upload_id", "a" * 65),
        ("collection_id", HUGE),
        ("collection_id", -1),
    ]:
        response = api.http.post("/files", json={**base, field: value}, headers=alice.headers)
        _is_problem(response, 400, "bad_request")
    assert api.usage(alice)["files"] == 0


def test_oversized_login_key(api: Api) -> None:
    response = api.http.post(
        "/auth/login", json={"email": "a@example.org", "login_key": b64(b"x" * 1025)}
    )
    _is_problem(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/files/{HUGE}"),
        ("GET", f"/files/{2**63}"),
        ("GET", f"/files/{HUGE}/content"),
        ("GET", f"/files/{HUGE}/thumbnail"),
        ("GET", "/files/-1"),
        ("GET", f"/diff?since={HUGE}"),
        ("GET", f"/diff?since={2**63}"),
        ("PATCH", f"/collections/{HUGE}"),
        ("POST", f"/collections/{HUGE}/files"),
        ("DELETE", f"/collections/{HUGE}/files/1"),
        ("DELETE", f"/collections/1/files/{HUGE}"),
        ("PUT", f"/uploads/abcdef0123456789/parts/{HUGE}"),
    ],
)
def test_out_of_range_integers_are_bad_requests(
    api: Api, alice: Account, method: str, path: str
) -> None:
    body: dict[str, object] | None = None
    if method == "PATCH":
        body = {"encrypted_name": b64(b"n" * 40)}
    if method == "POST":
        body = {"file_id": 1, "encrypted_key": b64(b"k" * 40)}
    headers = {**alice.headers, "X-Content-SHA256": "00" * 32}
    response = api.http.request(method, path, json=body, headers=headers)
    _is_problem(response, 400, "bad_request")


def test_largest_integers_are_not_found(api: Api, alice: Account) -> None:
    top = 2**63 - 1
    _is_problem(api.http.get(f"/files/{top}", headers=alice.headers), 404, "not_found")
    diff = api.http.get(f"/diff?since={top}", headers=alice.headers)
    assert diff.status_code == 200 and diff.json()["entries"] == []
    response = api.http.post(
        f"/collections/{top}/files",
        json={"file_id": top, "encrypted_key": b64(b"k" * 40)},
        headers=alice.headers,
    )
    _is_problem(response, 404, "not_found")
    huge_upload = api.http.post(
        "/uploads", json={"size": HUGE, "part_size": MIN_PART_SIZE}, headers=alice.headers
    )
    _is_problem(huge_upload, 400, "bad_request")


def test_middleware_stops_reading_a_chunked_body_at_the_limit() -> None:
    """Driven as ASGI directly: many small chunks, no Content-Length."""
    chunk = b" " * 1000
    reads: list[int] = []
    sent: list[Message] = []
    app_calls: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        app_calls.append(scope)

    async def receive() -> Message:
        reads.append(1)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/collections", "headers": []}
    asyncio.run(BodyLimitMiddleware(inner, max_bytes=10_000)(scope, receive, send))
    assert app_calls == [] and len(reads) == 11  # stopped at the first byte past the limit
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "too_large"
