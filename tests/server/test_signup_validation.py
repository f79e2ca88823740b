"""What signup and album creation refuse: odd email addresses (control, format, bidirectional
and zero-width characters, spaces, no dotted domain), Argon2 limits below the server's floor or
above the clients' ceiling, empty or impossibly short sealed fields; and the email forms that
must find the same account (Unicode NFC, case)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.pwhash
import pytest
from fastapi import FastAPI

from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.crypto.keys import ARGON2_MIN, create_account_keys
from photoark.server.app import create_app
from photoark.server.config import ServerSettings

from .conftest import PASSWORD, Account, Api, b64

INTERACTIVE_OPS = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
INTERACTIVE_MEM = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


def signup_body(email: str = "carol@example.org", **attrs: Any) -> dict[str, Any]:
    keys = create_account_keys(PASSWORD, ARGON2_MIN)
    a = keys.attributes
    key_attributes: dict[str, Any] = {
        "kek_salt": b64(a.kek_salt),
        "ops_limit": a.ops_limit,
        "mem_limit": a.mem_limit,
        "master_key_wrapped": b64(a.master_key_wrapped),
        "master_key_wrapped_recovery": b64(a.master_key_wrapped_recovery),
        "recovery_key_wrapped": b64(a.recovery_key_wrapped),
    }
    key_attributes.update(attrs)
    return {"email": email, "login_key": b64(keys.login_key), "key_attributes": key_attributes}


def refused(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.http.post("/auth/signup", json=body)
    assert response.status_code == 400, response.text
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "bad_request"
    return problem


@pytest.fixture
def interactive(tmp_path: Path, database_url: str) -> Iterator[Api]:
    """An app with the real login hash (``--login-hash interactive``: the production floor)."""
    app: FastAPI = create_app(ServerSettings(data_dir=tmp_path / "real", database_url=database_url))
    try:
        yield Api(app)
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize(
    "email",
    [
        "a\u202eb@x.com",  # right-to-left override: "a‮b" shows as "ab" reversed
        "a\u200fb@x.com",  # right-to-left mark
        "a\u2066b@x.com",  # left-to-right isolate
        "a\x00b@x.com",  # NUL
        "a\x1bb@x.com",  # escape
        "ab\u200b@x.com",  # zero-width space
        "ab@x\ufeff.com",  # byte order mark
        "a b@x.com",
        "a\u00a0b@x.com",  # no-break space
        "a\tb@x.com",
        "ab@localhost",  # no dot in the domain
        "ab@x..com",
        "ab@.x.com",
        "ab@x.com.",
        "@x.com",
        "ab@",
        "a@b@x.com",
        "abc",
        f"{'a' * 65}@x.com",
    ],
)
def test_odd_email_addresses_are_refused(api: Api, email: str) -> None:
    problem = refused(api, signup_body(email))
    assert problem["details"].get("field") == "email" or "email" in problem["message"]


def test_an_address_finds_its_account_in_any_normal_form(api: Api) -> None:
    decomposed = "Rene\u0301@Example.ORG"  # e + combining acute, mixed case
    body = signup_body(decomposed)
    response = api.http.post("/auth/signup", json=body)
    assert response.status_code == 201, response.text
    composed = unicodedata.normalize("NFC", "rené@example.org")
    again = api.http.post("/auth/signup", json=signup_body(composed))
    assert again.status_code == 409 and again.json()["code"] == "email_taken"
    login_key = body["login_key"]
    for form in (composed, decomposed, " RENÉ@EXAMPLE.ORG "):
        response = api.http.post("/auth/login", json={"email": form, "login_key": login_key})
        assert response.status_code == 200, (form, response.text)


@pytest.mark.parametrize(
    ("ops", "mem"),
    [(1, INTERACTIVE_MEM), (INTERACTIVE_OPS, 1), (1, 1), (INTERACTIVE_OPS, INTERACTIVE_MEM - 1)],
)
def test_argon2_limits_below_the_floor_are_refused(interactive: Api, ops: int, mem: int) -> None:
    problem = refused(interactive, signup_body(ops_limit=ops, mem_limit=mem))
    assert f"ops_limit >= {INTERACTIVE_OPS}" in problem["message"]
    assert f"mem_limit >= {INTERACTIVE_MEM}" in problem["message"]
    assert problem["details"]["floor"] == {
        "ops_limit": INTERACTIVE_OPS,
        "mem_limit": INTERACTIVE_MEM,
    }


def test_the_floor_and_above_are_accepted(interactive: Api) -> None:
    body = signup_body(ops_limit=INTERACTIVE_OPS, mem_limit=INTERACTIVE_MEM)
    assert interactive.http.post("/auth/signup", json=body).status_code == 201
    body = signup_body("dave@example.org", ops_limit=3, mem_limit=256 * 2**20)  # the client's
    assert interactive.http.post("/auth/signup", json=body).status_code == 201


@pytest.mark.parametrize(("ops", "mem"), [(65, INTERACTIVE_MEM), (2, 4 * 2**30 + 1)])
def test_argon2_limits_no_client_accepts_are_refused(interactive: Api, ops: int, mem: int) -> None:
    problem = refused(interactive, signup_body(ops_limit=ops, mem_limit=mem))
    assert "ceiling" in problem["details"]


def test_the_test_level_keeps_libsodiums_minimums_as_its_floor(api: Api) -> None:
    """``--login-hash min`` (tests only) lowers the floor to libsodium's minimums, no further."""
    problem = refused(api, signup_body(ops_limit=1, mem_limit=1))
    assert f"mem_limit >= {ARGON2_MIN.mem}" in problem["message"]
    body = signup_body(ops_limit=ARGON2_MIN.ops, mem_limit=ARGON2_MIN.mem)
    assert api.http.post("/auth/signup", json=body).status_code == 201


@pytest.mark.parametrize(
    "field", ["master_key_wrapped", "master_key_wrapped_recovery", "recovery_key_wrapped"]
)
@pytest.mark.parametrize("size", [0, 1, 39])
def test_wrapped_keys_must_be_sealed_boxes(api: Api, field: str, size: int) -> None:
    problem = refused(api, signup_body(**{field: b64(b"k" * size)}))
    assert problem["details"]["field"] == field


def test_an_empty_login_key_is_refused(api: Api) -> None:
    body = signup_body()
    body["login_key"] = ""
    refused(api, body)


@pytest.mark.parametrize("field", ["encrypted_key", "encrypted_name"])
def test_albums_with_empty_encrypted_fields_are_refused(
    api: Api, alice: Account, field: str
) -> None:
    key = new_key()
    body = {
        "encrypted_key": b64(wrap_key(alice.keys.master_key, key)),
        "encrypted_name": b64(seal(key, b"Holidays")),
        field: "",
    }
    response = api.http.post("/collections", json=body, headers=alice.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert response.json()["details"]["field"] == field
    assert api.http.get("/collections", headers=alice.headers).json() == []


def test_an_album_cannot_be_renamed_to_nothing(api: Api, alice: Account) -> None:
    album = api.album(alice)
    response = api.http.patch(
        f"/collections/{album.id}", json={"encrypted_name": ""}, headers=alice.headers
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    renamed = api.http.patch(
        f"/collections/{album.id}",
        json={"encrypted_name": b64(seal(album.key, b"Renamed"))},
        headers=alice.headers,
    )
    assert renamed.status_code == 200, renamed.text
