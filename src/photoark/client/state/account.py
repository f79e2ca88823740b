"""The logged-in account of a client home (server URL, token, master key)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from photoark.client.state.db import StateDB
from photoark.protocol.models import KeyAttributesModel

__all__ = ["Account", "AccountStore"]


@dataclass(frozen=True)
class Account:
    server: str
    email: str
    user_id: int
    token: str
    master_key: bytes
    key_attributes: KeyAttributesModel


class AccountStore:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def load(self) -> Account | None:
        row = self._db.query_one("SELECT * FROM account WHERE id = 1")
        if row is None:
            return None
        return Account(
            server=row["server"],
            email=row["email"],
            user_id=row["user_id"],
            token=row["token"],
            master_key=bytes(row["master_key"]),
            key_attributes=KeyAttributesModel.model_validate_json(row["key_attributes"]),
        )

    def save(self, account: Account) -> None:
        """Store the account; a different server or user resets the mirror (it is theirs)."""
        previous = self.load()
        with self._db.transaction() as conn:
            if previous and (previous.server, previous.user_id) != (
                account.server,
                account.user_id,
            ):
                for table in ("collections", "files", "entries", "uploads"):
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("DELETE FROM meta WHERE key = 'sync_version'")
            conn.execute(
                "INSERT OR REPLACE INTO account (id, server, email, user_id, token, master_key,"
                " key_attributes) VALUES (1, ?, ?, ?, ?, ?, ?)",
                (
                    account.server,
                    account.email,
                    account.user_id,
                    account.token,
                    account.master_key,
                    json.dumps(account.key_attributes.model_dump(mode="json")),
                ),
            )

    def clear(self) -> None:
        self._db.execute("DELETE FROM account")
