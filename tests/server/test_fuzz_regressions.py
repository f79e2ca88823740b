"""Server errors the API fuzzer (``test_fuzz.py``) found, each pinned by the request that
caused it, on both databases.

- An email holding NUL (``GET /auth/params?email=%00``, a login as ``a\\x00@b.c``) was passed to
  the account lookup, and PostgreSQL text cannot hold NUL: psycopg's ``DataError`` became a
  500. No account can be named so (signup refuses control characters), so it is answered as
  any unknown address: the stable fake parameters, ``invalid_credentials``.
"""

from __future__ import annotations

from tests.server.conftest import Account, Api


def test_key_params_of_an_email_with_nul_are_a_stable_fake(api: Api) -> None:
    first = api.http.get("/auth/params", params={"email": "a\x00@example.org"})
    assert first.status_code == 200, first.text
    again = api.http.get("/auth/params", params={"email": "a\x00@example.org"})
    assert again.json() == first.json()  # probing twice tells nothing, as for any unknown email
    bare = api.http.get("/auth/params?email=%00")
    assert bare.status_code == 200, bare.text


def test_login_with_nul_in_the_email_is_invalid_credentials(api: Api, alice: Account) -> None:
    response = api.login("alice\x00@example.org", alice.keys.login_key)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_credentials"
    assert api.login(alice.email, alice.keys.login_key).status_code == 200
