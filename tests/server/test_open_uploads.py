"""``GET /uploads`` (the account's open sessions, what holds quota besides files), expiry that
frees quota at once, and another user's upload id told apart from nothing."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import update

from photoark.server.store.schema import uploads

from .conftest import Account, Api, AppFactory

PART = 5 * 1024 * 1024


def listed(api: Api, account: Account) -> list[dict[str, object]]:
    response = api.http.get("/uploads", headers=account.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    return body


def expire(api: Api, upload_id: str) -> None:
    """Move a session's expiry into the past (as if left alone for a day)."""
    with api.app.state.engine.begin() as conn:
        conn.execute(update(uploads).where(uploads.c.id == upload_id).values(expires_at=1.0))


def test_open_sessions_are_listed_with_what_they_hold(
    api: Api, alice: Account, bob: Account
) -> None:
    album = api.album(alice)
    first = api.upload(alice, os.urandom(2 * PART + 7), part_size=PART, skip=frozenset({1}))
    keyed = api.http.post(
        "/uploads",
        json={"size": 100, "part_size": PART, "idempotency_key": "tag0123456789ab-x1"},
        headers=alice.headers,
    ).json()
    committed = api.upload(alice, os.urandom(900))
    assert api.commit(alice, album, committed).status_code == 201
    aborted = api.upload(alice, os.urandom(900))
    assert api.http.delete(f"/uploads/{aborted.upload_id}", headers=alice.headers).status_code
    expired = api.upload(alice, os.urandom(900))
    expire(api, expired.upload_id)
    api.upload(bob, os.urandom(900))

    sessions = listed(api, alice)
    assert [s["id"] for s in sessions] == [first.upload_id, keyed["id"]]
    one, two = sessions
    assert (one["size"], one["parts"], one["bytes"]) == (2 * PART + 7, 2, PART + 7)
    assert one["idempotency_key"] is None
    assert (two["size"], two["parts"], two["bytes"]) == (100, 0, 0)
    assert two["idempotency_key"] == "tag0123456789ab-x1"
    assert isinstance(one["created"], float) and one["created"] <= two["created"]  # type: ignore[operator]
    assert len(listed(api, bob)) == 1
    assert api.http.get("/uploads").status_code == 401


def test_an_expired_session_stops_counting_towards_the_quota_at_once(
    make_api: AppFactory,
) -> None:
    api = make_api(default_quota=3 * PART)
    alice = api.signup()
    held = api.open_upload(alice, 2 * PART, PART).json()
    refused = api.open_upload(alice, 2 * PART, PART)
    assert refused.status_code == 413 and refused.json()["code"] == "quota_exceeded"
    expire(api, held["id"])  # the collector has not run: the row is still there
    admitted = api.open_upload(alice, 2 * PART, PART)
    assert admitted.status_code == 201, admitted.text
    assert [s["id"] for s in listed(api, alice)] == [admitted.json()["id"]]


def test_another_users_upload_id_is_not_found(api: Api, alice: Account, bob: Account) -> None:
    album_a, album_b = api.album(alice), api.album(bob)
    ids = [uuid.uuid4().hex]
    assert api.bundle(alice, album_a, [b"alice's"], upload_ids=ids).status_code == 201
    reused = api.bundle(bob, album_b, [b"bob's"], upload_ids=ids)
    assert reused.status_code == 404, reused.text
    assert reused.json()["code"] == "not_found"
    assert "in use" not in reused.json()["message"]
    for path in (f"/uploads/{ids[0]}",):
        assert api.http.get(path, headers=bob.headers).status_code == 404
    # one's own open session's id stays a conflict (the client mixed up its ids)
    own = api.open_upload(bob, 100).json()["id"]
    clash = api.bundle(bob, album_b, [b"bob's"], upload_ids=[own])
    assert clash.status_code == 409 and clash.json()["code"] == "conflict"
