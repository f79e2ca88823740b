"""Large bodies (parts, bundles, thumbnail bundles) read in bounded memory (issue 19).

The app is driven as ASGI directly, so a test decides chunk by chunk what the client sends: a
body that stops after a few bytes and stays silent, or a client that goes away mid-body. Each
request runs under a guard (:data:`GUARD`): a server that waits forever fails the test.
"""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from typing import Literal

import blake3
import pytest
from fastapi import FastAPI
from starlette.types import Message, Scope

from photoark.crypto.boxes import new_key, seal_json, wrap_key
from photoark.protocol.frames import encode_frames
from photoark.protocol.models import MAX_BUNDLE_BYTES, MIN_PART_SIZE, Bundle, BundleItem
from photoark.server.api.bodyslots import WAIT_SECONDS

from .conftest import Account, Album, Api, AppFactory

pytestmark = pytest.mark.local_blobs  # request bodies through the server

GUARD = 15.0  # seconds: longer than any answer these tests expect
MiB = 1024 * 1024

Then = Literal["end", "stall", "disconnect"]


@dataclass
class Answer:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float | None = None  # from the request's start to its answer's start


async def drive(
    app: FastAPI,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    then: Then = "end",
    release: asyncio.Event | None = None,
    gap: float = 0.0,
) -> Answer:
    """One request: ``chunks`` sent (``gap`` seconds before each), then the body ends, or the
    client stays silent (until ``release`` is set, if given), or it disconnects."""
    answer = Answer()
    pending = list(chunks)
    started = time.monotonic()
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def receive() -> Message:
        if pending:
            await asyncio.sleep(gap)
            body = pending.pop(0)
            return {
                "type": "http.request",
                "body": body,
                "more_body": bool(pending) or then != "end",
            }
        if then == "stall":
            await (release or asyncio.Event()).wait()
        elif then == "end":
            await asyncio.Event().wait()  # after the body: nothing until the connection ends
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.seconds = time.monotonic() - started
            answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await asyncio.wait_for(app(scope, receive, send), GUARD)
    return answer


def bundle_body(album: Album, contents: list[bytes]) -> bytes:
    items = []
    for index, data in enumerate(contents):
        file_key = new_key()
        items.append(
            BundleItem(
                upload_id=uuid.uuid4().hex,
                collection_id=album.id,
                size=len(data),
                blake3=blake3.blake3(data).hexdigest(),
                encrypted_key=wrap_key(album.key, file_key),
                encrypted_metadata=seal_json(file_key, {"name": f"IMG_{index}.JPG"}),
            )
        )
    return b"".join(encode_frames(Bundle(items=items), contents))


def large_request(
    api: Api, account: Account, route: str, declared: int
) -> tuple[str, str, dict[str, str]]:
    """Method, path and headers of a large body of ``declared`` bytes on ``route``."""
    headers = {**account.headers, "Content-Length": str(declared)}
    if route == "part":
        session = api.open_upload(account, declared, max(declared, MIN_PART_SIZE)).json()
        headers["X-Content-SHA256"] = "00" * 32
        return "PUT", f"/uploads/{session['id']}/parts/0", headers
    return "POST", f"/files/{route}", headers


@pytest.mark.parametrize("route", ["bundle", "thumbnails", "part"])
def test_silent_body_costs_what_was_sent_and_times_out(make_api: AppFactory, route: str) -> None:
    """64 MiB declared, 10 bytes sent, then silence: no 64 MiB buffer, a 408 after the idle
    timeout, and the connection is closed after it."""
    api = make_api(body_idle_seconds=0.5)
    alice = api.signup()
    method, path, headers = large_request(api, alice, route, MAX_BUNDLE_BYTES)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        answer = asyncio.run(drive(api.app, method, path, headers, [b"0123456789"], "stall"))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB while 10 bytes were sent"
    assert answer.status == 408, answer.body
    assert b'"request_timeout"' in answer.body
    assert answer.seconds is not None and 0.4 < answer.seconds < 5
    assert answer.headers.get("connection") == "close"


def test_silent_small_body_times_out_too(make_api: AppFactory) -> None:
    """Bodies under the 1 MiB limit, read by the middleware before any route (here before
    authentication), have the same idle timeout."""
    api = make_api(body_idle_seconds=0.5)
    headers = {"Content-Type": "application/json", "Content-Length": "1000"}
    answer = asyncio.run(drive(api.app, "POST", "/auth/login", headers, [b'{"email": '], "stall"))
    assert answer.status == 408 and b'"request_timeout"' in answer.body
    assert answer.seconds is not None and 0.4 < answer.seconds < 5
    assert answer.headers.get("connection") == "close"


def test_memory_follows_the_bytes_received(make_api: AppFactory) -> None:
    """A body sent in full (a bundle of 8 MiB) costs about its size, whatever it declared."""
    api = make_api()
    alice = api.signup()
    album = api.album(alice)
    body = bundle_body(album, [bytes(range(256)) * 4096 * 8])  # 8 MiB of content
    headers = {**alice.headers, "Content-Length": str(len(body))}
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        answer = asyncio.run(drive(api.app, "POST", "/files/bundle", headers, chunks))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert answer.status == 201, answer.body
    # the chunks themselves (8 MiB, held by this test) + the body (8 MiB, grown by 1/8 steps)
    assert peak < 2.5 * len(body), f"peak {peak / MiB:.1f} MiB for a {len(body) / MiB:.1f} MiB body"


def test_body_sent_slowly_but_steadily_is_not_timed_out(make_api: AppFactory) -> None:
    """The timeout is for silence, not for the whole body."""
    api = make_api(body_idle_seconds=0.5)
    alice = api.signup()
    album = api.album(alice)
    body = bundle_body(album, [b"x" * 1000])
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]

    headers = {**alice.headers, "Content-Length": str(len(body))}
    answer = asyncio.run(drive(api.app, "POST", "/files/bundle", headers, pieces, gap=0.1))
    assert answer.status == 201
    assert answer.seconds is not None and answer.seconds > 0.5  # longer than the idle timeout


@pytest.mark.parametrize("route", ["bundle", "part"])
def test_disconnect_mid_body_is_one_info_line(
    make_api: AppFactory, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api()
    alice = api.signup()
    method, path, headers = large_request(api, alice, route, 1000)
    caplog.set_level(logging.INFO)
    asyncio.run(drive(api.app, method, path, headers, [b"0123456789"], "disconnect"))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []
    went_away = [r.getMessage() for r in caplog.records if "went away" in r.getMessage()]
    assert len(went_away) == 1 and "after 10 of 1000 body bytes" in went_away[0]
    # the account's slot was given back
    assert api.app.state.body_slots.held(alice.user_id) == 0


def test_declared_length_over_the_bound_is_refused_unread(api: Api, alice: Account) -> None:
    headers = {**alice.headers, "Content-Length": str(MAX_BUNDLE_BYTES + 1)}
    answer = asyncio.run(drive(api.app, "POST", "/files/bundle", headers, [], "stall"))
    assert answer.status == 400 and b'"expected_size"' in answer.body


def test_chunked_body_over_the_bound_is_refused_as_it_grows(api: Api, alice: Account) -> None:
    session = api.open_upload(alice, MIN_PART_SIZE).json()
    headers = {**alice.headers, "X-Content-SHA256": "00" * 32}  # no Content-Length
    chunks = [b"x" * 65536, b"x"]
    path = f"/uploads/{session['id']}/parts/0"
    answer = asyncio.run(drive(api.app, "PUT", path, headers, chunks, "stall"))
    assert answer.status == 400 and b'"expected_size"' in answer.body


def test_fifth_body_of_one_account_waits_then_busy_other_account_unaffected(
    make_api: AppFactory,
) -> None:
    """Four stalled bodies hold alice's four slots: her fifth waits ~WAIT_SECONDS, then gets
    503 busy with Retry-After; bob's bundle goes through meanwhile; once hers end, she can
    send again."""
    api = make_api(body_idle_seconds=30)
    alice, bob = api.signup(), api.signup()
    alice_album, bob_album = api.album(alice), api.album(bob)
    stalled = {**alice.headers, "Content-Length": str(MAX_BUNDLE_BYTES)}

    def bundle(account: Account, album: Album) -> tuple[dict[str, str], list[bytes]]:
        body = bundle_body(album, [b"photo" * 100])
        return {**account.headers, "Content-Length": str(len(body))}, [body]

    async def scene() -> tuple[Answer, Answer, Answer, list[Answer]]:
        release = asyncio.Event()
        holders = [
            asyncio.create_task(
                drive(api.app, "POST", "/files/bundle", stalled, [b"0123"], "stall", release)
            )
            for _ in range(4)
        ]
        while api.app.state.body_slots.held(alice.user_id) < 4:
            await asyncio.sleep(0.01)
        fifth, other = await asyncio.gather(
            drive(api.app, "POST", "/files/bundle", *bundle(alice, alice_album)),
            drive(api.app, "POST", "/files/bundle", *bundle(bob, bob_album)),
        )
        release.set()  # the four holders' clients go away
        ended = await asyncio.gather(*holders)
        again = await drive(api.app, "POST", "/files/bundle", *bundle(alice, alice_album))
        return fifth, other, again, ended

    fifth, other, again, ended = asyncio.run(scene())
    assert fifth.status == 503, fifth.body
    assert b'"busy"' in fifth.body and fifth.headers.get("retry-after") == "2"
    assert fifth.seconds is not None and WAIT_SECONDS - 0.1 < fifth.seconds < WAIT_SECONDS + 1.5
    assert other.status == 201 and other.seconds is not None and other.seconds < WAIT_SECONDS
    assert again.status == 201, again.body
    assert len(ended) == 4
    assert api.app.state.body_slots.held(alice.user_id) == 0
