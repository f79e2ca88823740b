"""Signup, login, logout, revoke-all, and the "no account enumeration" properties."""

from __future__ import annotations

from .conftest import Api, b64


def test_health(api: Api) -> None:
    response = api.http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"] and body["time"] > 0


def test_signup_login_and_key_attributes(api: Api) -> None:
    alice = api.signup("Alice@Example.org")
    response = api.login("alice@example.org", alice.keys.login_key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == alice.user_id and body["token"] != alice.token
    assert body["key_attributes"]["kek_salt"] == b64(alice.keys.attributes.kek_salt)
    assert body["key_attributes"]["master_key_wrapped"] == b64(
        alice.keys.attributes.master_key_wrapped
    )
    params = api.http.get("/auth/params", params={"email": "alice@example.org"}).json()
    assert params["kek_salt"] == b64(alice.keys.attributes.kek_salt)
    assert params["ops_limit"] == alice.keys.attributes.ops_limit


def test_email_taken(api: Api) -> None:
    api.signup("carol@example.org")
    again = api.signup
    try:
        again("carol@example.org")
    except AssertionError as err:
        assert "email_taken" in str(err)
    else:
        raise AssertionError("second signup succeeded")


def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    alice = api.signup("alice@example.org")
    wrong = api.login("alice@example.org", b"\x00" * 32)
    unknown = api.login("nobody@example.org", alice.keys.login_key)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


def test_params_for_unknown_email_are_fake_but_stable(api: Api) -> None:
    first = api.http.get("/auth/params", params={"email": "ghost@example.org"}).json()
    second = api.http.get("/auth/params", params={"email": "ghost@example.org"}).json()
    other = api.http.get("/auth/params", params={"email": "ghost2@example.org"}).json()
    assert first == second
    assert first["kek_salt"] != other["kek_salt"]
    from photoark.crypto.keys import ARGON2_MODERATE

    assert (first["ops_limit"], first["mem_limit"]) == (ARGON2_MODERATE.ops, ARGON2_MODERATE.mem)


def test_logout_revokes_only_that_token(api: Api) -> None:
    alice = api.signup()
    second = api.login(alice.email, alice.keys.login_key).json()["token"]
    assert api.http.post("/auth/logout", headers=alice.headers).status_code == 204
    assert api.http.get("/collections", headers=alice.headers).status_code == 401
    other = {"Authorization": f"Bearer {second}"}
    assert api.http.get("/collections", headers=other).status_code == 200


def test_revoke_all(api: Api) -> None:
    alice = api.signup()
    second = api.login(alice.email, alice.keys.login_key).json()["token"]
    assert api.http.post("/auth/revoke-all", headers=alice.headers).status_code == 204
    for token in (alice.token, second):
        response = api.http.get("/collections", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


def test_missing_or_bad_token_is_unauthorized(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eA=="}):
        response = api.http.get("/usage", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


def test_validation_errors_are_bad_request(api: Api) -> None:
    response = api.http.post("/auth/signup", json={"email": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    response = api.http.get("/no/such/route")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
