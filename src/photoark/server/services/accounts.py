"""Account rules: signup, login, tokens, and key parameters that do not leak who has an account.

- Login failures have one shape: a wrong login key and an unknown email both raise
  :class:`InvalidCredentials`, and both pay for one slow-hash verification (a dummy hash for
  unknown emails), so timing does not tell them apart either.
- ``/auth/params`` for an unknown email answers a fake salt that is STABLE (keyed BLAKE2b of the
  email under a server secret) with the default limits, so probing twice reveals nothing.
- Tokens are 32 random bytes (urlsafe base64); the database keeps only their SHA-256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

import nacl.exceptions
import nacl.pwhash

from photoark.crypto.keys import ARGON2_MIN, ARGON2_MODERATE, Argon2Limits, KeyAttributes
from photoark.protocol.models import (
    KeyAttributesModel,
    KeyParams,
    LoginRequest,
    LoginResponse,
    SignupRequest,
)
from photoark.server.config import LoginHashLevel
from photoark.server.errors import BadRequest, InvalidCredentials, Unauthorized
from photoark.server.store.accounts import AccountStore

__all__ = ["AccountService", "hash_token", "normalize_email"]

SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES
_FAKE_SALT_SECRET = "fake_salt_key"

LOGIN_HASH_LIMITS: dict[LoginHashLevel, Argon2Limits] = {
    "interactive": Argon2Limits(
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    ),
    "min": ARGON2_MIN,
}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_token(token: str) -> str:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountService:
    def __init__(self, store: AccountStore, login_hash: LoginHashLevel, default_quota: int) -> None:
        self._store = store
        self._limits = LOGIN_HASH_LIMITS[login_hash]
        self._default_quota = default_quota
        self._fake_salt_key = store.secret(_FAKE_SALT_SECRET, lambda: secrets.token_bytes(32))
        # Verified against when the email is unknown, so both failures cost the same.
        self._dummy_hash = self._hash_login_key(secrets.token_bytes(32))

    def _hash_login_key(self, login_key: bytes) -> str:
        return nacl.pwhash.argon2id.str(
            login_key, opslimit=self._limits.ops, memlimit=self._limits.mem
        ).decode("ascii")

    def _new_token(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, hash_token(token)

    def key_params(self, email: str) -> KeyParams:
        """The account's salt and limits; a fake, stable answer for an unknown email."""
        email = normalize_email(email)
        row = self._store.login_row(email)
        if row is not None:
            attrs = row.attributes
            return KeyParams(
                kek_salt=attrs.kek_salt, ops_limit=attrs.ops_limit, mem_limit=attrs.mem_limit
            )
        fake_salt = hashlib.blake2b(
            email.encode("utf-8"), key=self._fake_salt_key, digest_size=SALT_BYTES
        ).digest()
        return KeyParams(
            kek_salt=fake_salt, ops_limit=ARGON2_MODERATE.ops, mem_limit=ARGON2_MODERATE.mem
        )

    def signup(self, request: SignupRequest) -> LoginResponse:
        email = normalize_email(request.email)
        if "@" not in email:
            raise BadRequest("invalid email address")
        attrs_model = request.key_attributes
        if len(attrs_model.kek_salt) != SALT_BYTES:
            raise BadRequest(f"kek_salt must be {SALT_BYTES} bytes")
        if attrs_model.ops_limit <= 0 or attrs_model.mem_limit <= 0:
            raise BadRequest("Argon2 limits must be positive")
        attrs = KeyAttributes(
            **{f.name: getattr(attrs_model, f.name) for f in dataclasses.fields(KeyAttributes)}
        )
        token, token_hash = self._new_token()
        user_id = self._store.create_user(
            email, attrs, self._hash_login_key(request.login_key), self._default_quota, token_hash
        )
        return LoginResponse(token=token, user_id=user_id, key_attributes=attrs_model)

    def login(self, request: LoginRequest) -> LoginResponse:
        row = self._store.login_row(normalize_email(request.email))
        stored_hash = self._dummy_hash if row is None else row.login_hash
        try:
            nacl.pwhash.verify(stored_hash.encode("ascii"), request.login_key)
            verified = True
        except nacl.exceptions.InvalidkeyError:
            verified = False
        if row is None or not verified:
            raise InvalidCredentials()
        token, token_hash = self._new_token()
        self._store.add_token(row.user_id, token_hash)
        return LoginResponse(
            token=token,
            user_id=row.user_id,
            key_attributes=KeyAttributesModel(**dataclasses.asdict(row.attributes)),
        )

    def authenticate(self, token: str) -> int:
        """The user id behind a live token, else :class:`Unauthorized`."""
        user_id = self._store.user_for_token(hash_token(token))
        if user_id is None:
            raise Unauthorized("invalid or revoked token")
        return user_id

    def logout(self, token: str) -> None:
        self._store.revoke_token(hash_token(token))

    def revoke_all(self, user_id: int) -> None:
        self._store.revoke_all(user_id)
