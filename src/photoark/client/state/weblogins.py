"""The web app's hand-over between processes: where a daemon serves it, and the one-time
login links that ``photoark web`` issues for that app (kept in the state DB's ``meta``).

Only a digest of each link's token is stored, with its expiry: reading the DB does not log
anyone in, and a link is spent by the first request that takes it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any, Final

from photoark.client.state.db import StateDB

__all__ = ["LOGIN_TTL_SECONDS", "WebLogins"]

LOGIN_TTL_SECONDS: Final = 300.0
_TOKENS: Final = "web_login_tokens"
_SERVED: Final = "web_served"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebLogins:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def issue(self, ttl: float = LOGIN_TTL_SECONDS) -> str:
        """A new one-time token, valid ``ttl`` seconds."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (_TOKENS,)).fetchone()
            pending = {d: t for d, t in _load(row).items() if t > now}
            pending[_digest(token)] = now + ttl
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_TOKENS, json.dumps(pending)),
            )
        return token

    def take(self, token: str) -> bool:
        """Spend ``token``: True once, if it was issued and has not expired."""
        digest = _digest(token)
        with self._db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (_TOKENS,)).fetchone()
            pending = _load(row)
            expires = pending.pop(digest, None)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_TOKENS, json.dumps(pending)),
            )
        return expires is not None and expires > time.time()

    def set_served(self, url: str, pid: int) -> None:
        """Say that process ``pid`` serves the app at ``url`` (its base, no token)."""
        self._db.set_meta(_SERVED, json.dumps({"url": url, "pid": pid}))

    def clear_served(self, pid: int) -> None:
        served = self.served()
        if served is not None and served.get("pid") == pid:
            self._db.execute("DELETE FROM meta WHERE key = ?", (_SERVED,))

    def served(self) -> dict[str, Any] | None:
        value = self._db.get_meta(_SERVED)
        if not value:
            return None
        try:
            served = json.loads(value)
        except ValueError:
            return None
        return served if isinstance(served, dict) else None


def _load(row: Any) -> dict[str, float]:
    if row is None:
        return {}
    try:
        data = json.loads(row[0])
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
