"""SQL for accounts, tokens and server secrets. One transaction per method."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from photoark.crypto.keys import KeyAttributes
from photoark.server.errors import EmailTaken
from photoark.server.store.db import read_transaction
from photoark.server.store.schema import server_secrets, tokens, users

__all__ = ["VERSIONS_PER_QUERY", "AccountStore", "LoginRow", "TokenRow"]

VERSIONS_PER_QUERY = 10_000

_ATTR_COLUMNS = (
    "kek_salt",
    "ops_limit",
    "mem_limit",
    "master_key_wrapped",
    "master_key_wrapped_recovery",
    "recovery_key_wrapped",
)
# a token's last use (a row the migration has not reached yet counts from its creation)
_LAST_USED = func.coalesce(tokens.c.last_used_at, tokens.c.created_at)
_TOKEN_COLUMNS = (tokens.c.id, tokens.c.user_id, tokens.c.created_at, tokens.c.last_used_at)


@dataclass(frozen=True)
class LoginRow:
    """What login needs of an account."""

    user_id: int
    login_hash: str
    attributes: KeyAttributes


@dataclass(frozen=True)
class TokenRow:
    """A live (not revoked) token: its id (not the token), owner and times."""

    id: int
    user_id: int
    created_at: float
    last_used_at: float


def _token_row(row: Any) -> TokenRow:
    created = float(row.created_at)
    last_used = created if row.last_used_at is None else float(row.last_used_at)
    return TokenRow(int(row.id), int(row.user_id), created, last_used)


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The server secret ``name``, created with ``make()`` on first use. Idempotent, and
        safe when replicas start at once on a fresh database: each offers its value with
        ``INSERT ... ON CONFLICT DO NOTHING`` (a loser's insert waits for the winner's commit,
        then does nothing), then reads back the one value that was kept."""
        query = select(server_secrets.c.value).where(server_secrets.c.name == name)
        with read_transaction(self._engine) as conn:
            value = conn.execute(query).scalar_one_or_none()
        if value is None:
            dialect_insert = (
                postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
            )
            offer = (
                dialect_insert(server_secrets)
                .values(name=name, value=make())
                .on_conflict_do_nothing(index_elements=[server_secrets.c.name])
            )
            with self._engine.begin() as conn:
                conn.execute(offer)
                value = conn.execute(query).scalar_one()
        return bytes(value)

    def create_user(
        self,
        email: str,
        attributes: KeyAttributes,
        login_hash: str,
        quota_bytes: int,
        token_hash: str,
        now: float,
    ) -> int:
        """Insert the account and its first token (made ``now``). Raises
        :class:`EmailTaken`."""
        values = {name: getattr(attributes, name) for name in _ATTR_COLUMNS}
        try:
            with self._engine.begin() as conn:
                user_id = conn.execute(
                    insert(users)
                    .values(
                        email=email,
                        login_hash=login_hash,
                        quota_bytes=quota_bytes,
                        version=0,
                        created_at=now,
                        **values,
                    )
                    .returning(users.c.id)
                ).scalar_one()
                conn.execute(
                    insert(tokens).values(
                        token_hash=token_hash, user_id=user_id, created_at=now, last_used_at=now
                    )
                )
        except IntegrityError as err:
            raise EmailTaken("an account with this email exists") from err
        return int(user_id)

    def login_row(self, email: str) -> LoginRow | None:
        """The account named ``email`` (normalised), else ``None``. An address holding NUL names
        none (signup refuses control characters) and is not looked up: PostgreSQL text cannot
        hold NUL, so asking would fail instead of finding nothing."""
        if "\x00" in email:
            return None
        columns = [users.c.id, users.c.login_hash, *(users.c[name] for name in _ATTR_COLUMNS)]
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(*columns).where(users.c.email == email)).first()
        if row is None:
            return None
        attrs = KeyAttributes(**{name: getattr(row, name) for name in _ATTR_COLUMNS})
        return LoginRow(int(row.id), str(row.login_hash), attrs)

    def add_token(self, user_id: int, token_hash: str, now: float, idle_cutoff: float) -> None:
        """Insert a token used ``now``, and delete the user's dead ones in the same
        transaction: revoked, or unused since ``idle_cutoff`` (``0``: none expires), so the
        table holds about one row per device however often it logs in."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(tokens).where(
                    tokens.c.user_id == user_id,
                    or_(tokens.c.revoked_at.is_not(None), idle_cutoff > _LAST_USED),
                )
            )
            conn.execute(
                insert(tokens).values(
                    token_hash=token_hash, user_id=user_id, created_at=now, last_used_at=now
                )
            )

    def token(self, token_hash: str) -> TokenRow | None:
        """The live (not revoked) token with this hash, or ``None``."""
        query = select(*_TOKEN_COLUMNS).where(
            tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None)
        )
        with read_transaction(self._engine) as conn:
            row = conn.execute(query).first()
        return None if row is None else _token_row(row)

    def touch_token(self, token_id: int, now: float) -> None:
        """Record a use of the token (the caller does it at most once an hour). Idempotent."""
        with self._engine.begin() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(last_used_at=now)
            )

    def live_tokens(self, user_id: int, idle_cutoff: float) -> list[TokenRow]:
        """The user's tokens neither revoked nor unused since ``idle_cutoff``, oldest first."""
        query = (
            select(*_TOKEN_COLUMNS)
            .where(
                tokens.c.user_id == user_id,
                tokens.c.revoked_at.is_(None),
                idle_cutoff <= _LAST_USED,
            )
            .order_by(tokens.c.id)
        )
        with read_transaction(self._engine) as conn:
            return [_token_row(row) for row in conn.execute(query)]

    def unrevoked(self, token_ids: Collection[int]) -> set[int]:
        """Those of ``token_ids`` that exist and are not revoked: one query (per
        :data:`VERSIONS_PER_QUERY` ids). Expiry by idleness is not checked here."""
        ids = sorted(token_ids)
        out: set[int] = set()
        with read_transaction(self._engine) as conn:
            for start in range(0, len(ids), VERSIONS_PER_QUERY):
                chunk = ids[start : start + VERSIONS_PER_QUERY]
                query = select(tokens.c.id).where(
                    tokens.c.id.in_(chunk), tokens.c.revoked_at.is_(None)
                )
                out.update(int(token_id) for token_id in conn.execute(query).scalars())
        return out

    def revoke_token(self, token_hash: str) -> None:
        """Revoke one token. Idempotent."""
        self._revoke(tokens.c.token_hash == token_hash)

    def revoke_token_of(self, user_id: int, token_id: int) -> bool:
        """Revoke the user's token ``token_id``; ``False`` if the user has no such token (none,
        or another user's). Idempotent: a token of the user revoked already is ``True``."""
        with self._engine.begin() as conn:
            owner = conn.execute(
                select(tokens.c.user_id).where(tokens.c.id == token_id)
            ).scalar_one_or_none()
            if owner is None or int(owner) != user_id:
                return False
            conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return True

    def revoke_all(self, user_id: int) -> None:
        """Revoke every token of the user. Idempotent."""
        self._revoke(tokens.c.user_id == user_id)

    def _revoke(self, which: ColumnElement[bool]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(tokens)
                .where(which, tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )

    def versions(self, user_ids: Collection[int]) -> dict[int, int]:
        """The change counter of each existing user among ``user_ids``: one query (per
        :data:`VERSIONS_PER_QUERY` users: SQLite binds at most 32766 values in one)."""
        ids = sorted(user_ids)
        out: dict[int, int] = {}
        with read_transaction(self._engine) as conn:
            for start in range(0, len(ids), VERSIONS_PER_QUERY):
                chunk = ids[start : start + VERSIONS_PER_QUERY]
                query = select(users.c.id, users.c.version).where(users.c.id.in_(chunk))
                out.update((int(row.id), int(row.version)) for row in conn.execute(query))
        return out

    def quota(self, user_id: int) -> int:
        with read_transaction(self._engine) as conn:
            return int(
                conn.execute(select(users.c.quota_bytes).where(users.c.id == user_id)).scalar_one()
            )
