"""SQL for accounts, tokens and server secrets. One transaction per method."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from photoark.crypto.keys import KeyAttributes
from photoark.server.errors import EmailTaken
from photoark.server.store.db import read_transaction
from photoark.server.store.schema import server_secrets, tokens, users

__all__ = ["VERSIONS_PER_QUERY", "AccountStore", "LoginRow"]

VERSIONS_PER_QUERY = 10_000

_ATTR_COLUMNS = (
    "kek_salt",
    "ops_limit",
    "mem_limit",
    "master_key_wrapped",
    "master_key_wrapped_recovery",
    "recovery_key_wrapped",
)


@dataclass(frozen=True)
class LoginRow:
    """What login needs of an account."""

    user_id: int
    login_hash: str
    attributes: KeyAttributes


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The server secret ``name``, created with ``make()`` on first use. Idempotent."""
        query = select(server_secrets.c.value).where(server_secrets.c.name == name)
        with self._engine.begin() as conn:
            value = conn.execute(query).scalar_one_or_none()
            if value is None:
                value = make()
                conn.execute(insert(server_secrets).values(name=name, value=value))
        return bytes(value)

    def create_user(
        self,
        email: str,
        attributes: KeyAttributes,
        login_hash: str,
        quota_bytes: int,
        token_hash: str,
    ) -> int:
        """Insert the account and its first token. Raises :class:`EmailTaken`."""
        now = time.time()
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
                    insert(tokens).values(token_hash=token_hash, user_id=user_id, created_at=now)
                )
        except IntegrityError as err:
            raise EmailTaken("an account with this email exists") from err
        return int(user_id)

    def login_row(self, email: str) -> LoginRow | None:
        columns = [users.c.id, users.c.login_hash, *(users.c[name] for name in _ATTR_COLUMNS)]
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(*columns).where(users.c.email == email)).first()
        if row is None:
            return None
        attrs = KeyAttributes(**{name: getattr(row, name) for name in _ATTR_COLUMNS})
        return LoginRow(int(row.id), str(row.login_hash), attrs)

    def add_token(self, user_id: int, token_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(tokens).values(
                    token_hash=token_hash, user_id=user_id, created_at=time.time()
                )
            )

    def user_for_token(self, token_hash: str) -> int | None:
        """The owner of a live (not revoked) token, or ``None``."""
        query = select(tokens.c.user_id).where(
            tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None)
        )
        with read_transaction(self._engine) as conn:
            user_id = conn.execute(query).scalar_one_or_none()
        return None if user_id is None else int(user_id)

    def revoke_token(self, token_hash: str) -> None:
        """Revoke one token. Idempotent."""
        self._revoke(tokens.c.token_hash == token_hash)

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
