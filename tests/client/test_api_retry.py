"""The client's retries of the two creating POSTs: a retry after a lost answer (the server did
the work, the answer never arrived) ends with exactly one album / one upload session, because
every attempt of one call carries the same idempotency key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select

from photoark.client.api import ApiClient
from photoark.client.errors import ServerUnreachable
from photoark.client.transport import RetryPolicy
from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.crypto.keys import ARGON2_MIN, AccountKeys, create_account_keys
from photoark.protocol.models import (
    MIN_PART_SIZE,
    CollectionCreate,
    KeyAttributesModel,
    SignupRequest,
)
from photoark.server.app import create_app
from photoark.server.config import ServerSettings
from photoark.server.store.schema import collections, uploads


class LoseFirstAnswer(httpx.BaseTransport):
    """Hands every request to the in-process app; the first answer to a request on ``path``
    is lost: the app did the work, and the client sees a ``ReadError`` (a reset connection)."""

    def __init__(self, app: TestClient, path: str | None = None) -> None:
        self.app = app
        self.path = path
        self.bodies: list[bytes] = []  # what was sent to ``path``, attempt by attempt

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = self.app.request(
            request.method, request.url.raw_path.decode("ascii"), content=body,
            headers=request.headers,
        )  # fmt: skip
        if request.url.path == self.path:
            self.bodies.append(body)
            if len(self.bodies) == 1:
                raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


@dataclass
class Server:
    app: FastAPI
    http: TestClient

    def count(self, table: Table, user_id: int) -> int:
        with self.app.state.engine.connect() as conn:
            query = select(func.count()).select_from(table).where(table.c.owner_id == user_id)
            return int(conn.execute(query).scalar_one())


@dataclass
class User:
    token: str
    user_id: int
    keys: AccountKeys


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = ServerSettings(
        data_dir=tmp_path / "server",
        database_url=f"sqlite:///{tmp_path}/photoark.db",
        login_hash="min",
    )
    app = create_app(settings)
    try:
        yield Server(app, TestClient(app))
    finally:
        app.state.engine.dispose()


@pytest.fixture
def user(server: Server) -> User:
    keys = create_account_keys("correct horse battery staple", ARGON2_MIN)
    attrs = KeyAttributesModel(
        kek_salt=keys.attributes.kek_salt,
        ops_limit=keys.attributes.ops_limit,
        mem_limit=keys.attributes.mem_limit,
        master_key_wrapped=keys.attributes.master_key_wrapped,
        master_key_wrapped_recovery=keys.attributes.master_key_wrapped_recovery,
        recovery_key_wrapped=keys.attributes.recovery_key_wrapped,
    )
    with client(server, None) as api:
        response = api.signup(
            SignupRequest(email="alice@example.org", login_key=keys.login_key, key_attributes=attrs)
        )
    return User(response.token, response.user_id, keys)


def client(
    server: Server, token: str | None, transport: httpx.BaseTransport | None = None
) -> ApiClient:
    return ApiClient(
        "http://testserver",
        token=token,
        retry=RetryPolicy(attempts=3, sleep=lambda _: None),
        transport=transport or LoseFirstAnswer(server.http),
    )


def album_request(user: User) -> CollectionCreate:
    key = new_key()
    return CollectionCreate(
        encrypted_key=wrap_key(user.keys.master_key, key),
        encrypted_name=seal(key, b"Holidays"),
    )


def keys_sent(transport: LoseFirstAnswer) -> list[str]:
    return [json.loads(body)["idempotency_key"] for body in transport.bodies]


def test_a_lost_answer_to_create_collection_makes_one_album(server: Server, user: User) -> None:
    transport = LoseFirstAnswer(server.http, "/collections")
    with client(server, user.token, transport) as api:
        album = api.create_collection(album_request(user))
        assert len(transport.bodies) == 2  # the first answer was lost, the retry got one
        assert len(set(keys_sent(transport))) == 1  # both attempts carried one key
        assert [c.id for c in api.collections()] == [album.id]
    assert server.count(collections, user.user_id) == 1


def test_a_lost_answer_to_open_upload_opens_one_session(server: Server, user: User) -> None:
    transport = LoseFirstAnswer(server.http, "/uploads")
    with client(server, user.token, transport) as api:
        session = api.open_upload(3 * MIN_PART_SIZE, MIN_PART_SIZE)
        assert len(transport.bodies) == 2
        assert len(set(keys_sent(transport))) == 1
        assert api.upload_status(session.id).id == session.id
    assert server.count(uploads, user.user_id) == 1


def test_each_call_takes_a_fresh_key(server: Server, user: User) -> None:
    """Two calls are two albums / two sessions (the key is per call, not per client)."""
    with client(server, user.token) as api:
        request = album_request(user)
        first, second = api.create_collection(request), api.create_collection(request)
        assert first.id != second.id
        one, two = (
            api.open_upload(MIN_PART_SIZE, MIN_PART_SIZE),
            api.open_upload(MIN_PART_SIZE, MIN_PART_SIZE),
        )
        assert one.id != two.id
    assert server.count(collections, user.user_id) == 2
    assert server.count(uploads, user.user_id) == 2


def test_a_saved_key_makes_a_later_call_answer_the_first_result(server: Server, user: User) -> None:
    """A caller that saved its key (and request) before the call repeats it after a crash and
    gets the first album / session, not a second one."""
    request = album_request(user)
    with client(server, user.token) as api:
        album = api.create_collection(request, idempotency_key="album-key-0000001")
        assert api.create_collection(request, idempotency_key="album-key-0000001").id == album.id
        keyed = request.model_copy(update={"idempotency_key": "album-key-0000001"})
        assert api.create_collection(keyed).id == album.id  # the key in the request works too
        with pytest.raises(ValueError):  # two different keys for one request
            api.create_collection(keyed, idempotency_key="album-key-0000002")
        session = api.open_upload(MIN_PART_SIZE, MIN_PART_SIZE, idempotency_key="u" * 32)
        again = api.open_upload(MIN_PART_SIZE, MIN_PART_SIZE, idempotency_key="u" * 32)
        assert again.id == session.id
    assert server.count(collections, user.user_id) == 1
    assert server.count(uploads, user.user_id) == 1


def test_every_attempt_failing_still_raises_server_unreachable(server: Server, user: User) -> None:
    class AlwaysLost(LoseFirstAnswer):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            super().handle_request(request)
            raise httpx.ReadError("connection reset by peer", request=request)

    transport = AlwaysLost(server.http, "/collections")
    with client(server, user.token, transport) as api, pytest.raises(ServerUnreachable):
        api.create_collection(album_request(user))
    assert len(transport.bodies) == 3 and len(set(keys_sent(transport))) == 1
    assert server.count(collections, user.user_id) == 1  # three attempts, one album
