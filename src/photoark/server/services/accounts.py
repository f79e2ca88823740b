"""Account rules: signup, login, tokens, and key parameters that do not leak who has an account.

- Login failures have one shape: a wrong login key and an unknown email both raise
  :class:`InvalidCredentials`, and both pay for one slow-hash verification (a dummy hash for
  unknown emails), so timing does not tell them apart either. Failed logins are throttled per
  account and per client address, and hashes run in a small pool (:mod:`.throttle`): a login
  told to wait gets ``RateLimited`` (429) or ``Busy`` (503), both with ``Retry-After``.
- ``/auth/params`` for an unknown email answers a fake salt that is STABLE (keyed BLAKE2b of the
  email under a server secret) with the default limits, so probing twice reveals nothing.
- Signup refuses odd email addresses, Argon2 limits below the server's floor and sealed fields
  that cannot be sealed (:mod:`.validation`).
- Tokens are 32 random bytes (urlsafe base64); the database keeps only their SHA-256, with an
  id (what ``/auth/sessions`` shows and revokes: never the token), when it was made and when it
  was last used. The last use is written at most once an hour per token (:data:`TOUCH_EVERY`),
  so authenticating costs one read; a token unused for ``token_idle_days`` stops working
  (0: never). Each login deletes the user's revoked and expired tokens, so the table holds about
  one row per device.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash

from photoark.crypto.keys import ARGON2_MIN, ARGON2_MODERATE, Argon2Limits, KeyAttributes
from photoark.protocol.models import (
    AuthSession,
    AuthSessions,
    KeyAttributesModel,
    KeyParams,
    LoginRequest,
    LoginResponse,
    SignupRequest,
)
from photoark.server.config import LoginHashLevel
from photoark.server.errors import BadRequest, InvalidCredentials, NotFound, Unauthorized
from photoark.server.services.throttle import LoginThrottle, WorkerSlots
from photoark.server.services.validation import (
    KDF_FLOOR,
    check_kdf_limits,
    check_wrapped_key,
    normalize_email,
    signup_email,
)
from photoark.server.store.accounts import AccountStore

__all__ = [
    "TOUCH_EVERY",
    "AccountService",
    "TokenAuth",
    "hash_token",
    "normalize_email",
]

SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES
MIN_LOGIN_KEY_BYTES = 16
TOUCH_EVERY = 3600.0  # a token's last use is written at most this often
_FAKE_SALT_SECRET = "fake_salt_key"

LOGIN_HASH_LIMITS: dict[LoginHashLevel, Argon2Limits] = {
    "interactive": Argon2Limits(
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    ),
    "min": ARGON2_MIN,
}


def hash_token(token: str) -> str:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenAuth:
    """Who a valid token belongs to, and which token it is (its id, not the token)."""

    user_id: int
    token_id: int


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        login_hash: LoginHashLevel,
        default_quota: int,
        *,
        hash_workers: int = 2,
        login_wait: float = 2.0,
        token_idle_days: float = 0.0,
        throttle: LoginThrottle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._limits = LOGIN_HASH_LIMITS[login_hash]
        self._kdf_floor = KDF_FLOOR[login_hash]
        self._default_quota = default_quota
        self._slots = WorkerSlots(hash_workers)
        self._login_wait = login_wait
        self._idle_seconds = token_idle_days * 86400.0
        self.throttle = throttle or LoginThrottle()
        self._clock = clock
        self._fake_salt_key = store.secret(_FAKE_SALT_SECRET, lambda: secrets.token_bytes(32))
        # Verified against when the email is unknown, so both failures cost the same.
        self._dummy_hash = self._hash_login_key(secrets.token_bytes(32))

    @property
    def hash_slots(self) -> WorkerSlots:
        return self._slots

    def _hash_login_key(self, login_key: bytes) -> str:
        return nacl.pwhash.argon2id.str(
            login_key, opslimit=self._limits.ops, memlimit=self._limits.mem
        ).decode("ascii")

    def _new_token(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, hash_token(token)

    def _idle_cutoff(self, now: float) -> float:
        """Tokens last used before this have expired (0: none has)."""
        return now - self._idle_seconds if self._idle_seconds else 0.0

    # -- signup and login -----------------------------------------------------------------

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

    async def signup(self, request: SignupRequest) -> LoginResponse:
        """A new account and its first token. Everything is checked before the login key is
        hashed (in the pool: :class:`~photoark.server.errors.Busy` when it is full)."""
        email = signup_email(request.email)
        attrs_model = request.key_attributes
        if len(attrs_model.kek_salt) != SALT_BYTES:
            raise BadRequest(f"kek_salt must be {SALT_BYTES} bytes")
        check_kdf_limits(attrs_model.ops_limit, attrs_model.mem_limit, self._kdf_floor)
        for name in ("master_key_wrapped", "master_key_wrapped_recovery", "recovery_key_wrapped"):
            check_wrapped_key(name, getattr(attrs_model, name))
        if len(request.login_key) < MIN_LOGIN_KEY_BYTES:
            raise BadRequest(f"login_key must be at least {MIN_LOGIN_KEY_BYTES} bytes")
        attrs = KeyAttributes(
            **{f.name: getattr(attrs_model, f.name) for f in dataclasses.fields(KeyAttributes)}
        )

        def create() -> int:
            login_hash = self._hash_login_key(request.login_key)
            return self._store.create_user(
                email, attrs, login_hash, self._default_quota, token_hash, self._clock()
            )

        token, token_hash = self._new_token()
        user_id = await self._slots.run(create, self._login_wait)
        return LoginResponse(token=token, user_id=user_id, key_attributes=attrs_model)

    async def login(self, request: LoginRequest, address: str) -> LoginResponse:
        """A new token for the right login key. Refused at once while this account or
        ``address`` (the client's) must wait after failures (``RateLimited``); the check
        itself waits for a hash worker (``Busy`` past ``login_wait``)."""
        email = normalize_email(request.email)
        self.throttle.check(email, address)  # before queueing: a blocked client waits for nothing

        def attempt() -> LoginResponse | None:
            # again in the worker, and the outcome counted there: a burst of logins sent at
            # once is throttled as if sent one after another
            self.throttle.check(email, address)
            response = self._verify_and_issue(email, request.login_key)
            if response is None:
                self.throttle.failed(email, address)
            else:
                self.throttle.succeeded(email, address)
            return response

        response = await self._slots.run(attempt, self._login_wait)
        if response is None:
            raise InvalidCredentials()
        return response

    def _verify_and_issue(self, email: str, login_key: bytes) -> LoginResponse | None:
        """In a hash worker: check the login key; a new token if right, else ``None``."""
        row = self._store.login_row(email)
        stored_hash = self._dummy_hash if row is None else row.login_hash
        try:
            nacl.pwhash.verify(stored_hash.encode("ascii"), login_key)
            verified = True
        except nacl.exceptions.InvalidkeyError:
            verified = False
        if row is None or not verified:
            return None
        token, token_hash = self._new_token()
        now = self._clock()
        self._store.add_token(row.user_id, token_hash, now, self._idle_cutoff(now))
        return LoginResponse(
            token=token,
            user_id=row.user_id,
            key_attributes=KeyAttributesModel(**dataclasses.asdict(row.attributes)),
        )

    # -- tokens -----------------------------------------------------------------------------

    def authenticate(self, token: str) -> TokenAuth:
        """The user and token id behind a live token, else :class:`Unauthorized` (unknown,
        revoked, or unused for longer than ``token_idle_days``). Records the use at most once
        per :data:`TOUCH_EVERY`."""
        row = self._store.token(hash_token(token))
        if row is None:
            raise Unauthorized("invalid or revoked token")
        now = self._clock()
        if row.last_used_at < self._idle_cutoff(now):
            days = self._idle_seconds / 86400
            raise Unauthorized(
                f"this login expired after {days:g} days unused: log in again",
                {"reason": "token_expired"},
            )
        if now - row.last_used_at >= TOUCH_EVERY:
            self._store.touch_token(row.id, now)
        return TokenAuth(row.user_id, row.id)

    def sessions(self, auth: TokenAuth) -> AuthSessions:
        """The caller's account's live tokens (``current``: the one of this request)."""
        rows = self._store.live_tokens(auth.user_id, self._idle_cutoff(self._clock()))
        idle = self._idle_seconds
        return AuthSessions(
            sessions=[
                AuthSession(
                    id=row.id,
                    created_at=row.created_at,
                    last_used_at=row.last_used_at,
                    expires_at=row.last_used_at + idle if idle else None,
                    current=row.id == auth.token_id,
                )
                for row in rows
            ],
            token_idle_days=self._idle_seconds / 86400,
        )

    def revoke_session(self, user_id: int, token_id: int) -> None:
        """Revoke one of the user's tokens (the caller's own too). Idempotent for the user's
        tokens; another user's or an unknown id is :class:`NotFound`."""
        if not self._store.revoke_token_of(user_id, token_id):
            raise NotFound(f"no session {token_id} on this account")

    def logout(self, token: str) -> None:
        self._store.revoke_token(hash_token(token))

    def revoke_all(self, user_id: int) -> None:
        self._store.revoke_all(user_id)
