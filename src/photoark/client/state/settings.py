"""The settings table: one JSON value per key (what the keys mean and how a value is parsed
is :mod:`photoark.client.settings`' business)."""

from __future__ import annotations

import json
from typing import Any

from photoark.client.state.db import StateDB

__all__ = ["SettingsTable"]


class SettingsTable:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def get(self, key: str, default: Any) -> Any:
        """The stored value, or ``default`` when the key was never set (or was reset)."""
        row = self._db.query_one("SELECT value FROM settings WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON), replacing any earlier one."""
        self._db.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def delete(self, key: str) -> None:
        """Forget the key's value (idempotent)."""
        self._db.execute("DELETE FROM settings WHERE key = ?", (key,))
