"""An open client session: the state DB, the account, and an authenticated API client; and
the hints of errors fitted to the home they were raised for (:func:`fit_hint`: the local server
to start, the account to log in again as, where quickstart keeps the credentials)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

from photoark.client.api import ApiClient
from photoark.client.errors import AuthFailed, ClientError, NotLoggedIn, ServerUnreachable
from photoark.client.home import ClientHome
from photoark.client.state import StateDB
from photoark.client.state.account import Account, AccountStore
from photoark.client.state.mirror import Mirror
from photoark.client.transport import RetryPolicy

__all__ = ["Session", "fit_hint", "hinted"]


@dataclass
class Session:
    home: ClientHome
    db: StateDB
    account: Account
    api: ApiClient
    mirror: Mirror

    @classmethod
    def open(cls, home: ClientHome, retry: RetryPolicy | None = None) -> Session:
        """The home's account and an API client for its server. ``retry``: by default a
        server that cannot be reached at the first request fails at once (someone is waiting);
        :data:`~photoark.client.transport.PATIENT` retries it with backoff too."""
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if isinstance(exc, ClientError):
            fit_hint(exc, self.home, self.account)  # "start it with photoark local start"…


# -- hints fitted to the home: an error is raised deep down (the transport knows a URL, not a
# home); whoever holds the home as it passes (the session, photoark.client.auth) fits it


def _local_server_url(home: ClientHome) -> str | None:
    """The URL quickstart's server was recorded at (read here, not through
    :mod:`photoark.client.local`, which sits above the session and auth that call this)."""
    try:
        return str(json.loads(home.local_server_record.read_text())["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def hinted(home: ClientHome, account: Account | None = None) -> Iterator[None]:
    """Fit the hint of any client error raised inside (see :func:`fit_hint`)."""
    try:
        yield
    except ClientError as err:
        fit_hint(err, home, account)
        raise


def fit_hint(err: ClientError, home: ClientHome, account: Account | None = None) -> None:
    """Replace ``err``'s generic hint by one naming this home's server, account and
    credentials file, where they apply (other errors are left alone)."""
    if isinstance(err, ServerUnreachable) and err.url is not None:
        local = _local_server_url(home)
        if local is not None and local.rstrip("/") == err.url.rstrip("/"):
            err.hint = (
                "the local server quickstart set up is not running: "
                "start it with `photoark local start`"
            )
    elif isinstance(err, AuthFailed):
        credentials = home.local_credentials
        also = (
            f" (this home's quickstart account and password are in {credentials})"
            if credentials.is_file()
            else ""
        )
        if err.code != "invalid_credentials" and account is not None:
            err.hint = (
                f"log in again: `photoark login --server {account.server} "
                f"--email {account.email}`{also}"
            )
        else:
            err.hint += also
