"""An open client session: the state DB, the account, and an authenticated API client."""

from __future__ import annotations

from dataclasses import dataclass

from photoark.client.api import ApiClient
from photoark.client.errors import NotLoggedIn
from photoark.client.home import ClientHome
from photoark.client.state import StateDB
from photoark.client.state.account import Account, AccountStore
from photoark.client.state.mirror import Mirror
from photoark.client.transport import RetryPolicy

__all__ = ["Session"]


@dataclass
class Session:
    home: ClientHome
    db: StateDB
    account: Account
    api: ApiClient
    mirror: Mirror

    @classmethod
    def open(cls, home: ClientHome, retry: RetryPolicy | None = None) -> Session:
        db = StateDB(home.ensure().state_db)
        account = AccountStore(db).load()
        if account is None:
            db.close()
            raise NotLoggedIn(f"no account is logged in on this client ({home.root})")
        api = ApiClient(account.server, account.token, retry=retry)
        return cls(home, db, account, api, Mirror(db))

    def close(self) -> None:
        self.api.close()
        self.db.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
