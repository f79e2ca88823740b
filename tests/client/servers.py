"""Builders for client tests that need a real server: the real app on uvicorn in a thread of
the test process (:func:`serving`), and a client home logged in to it (:func:`signed_up`).

Any :class:`~photoark.server.config.ServerSettings` work, so a test picks its quota, or S3
blobs (``blobs_url``: a SeaweedFS prefix from :mod:`tests.s3_fixtures`) for direct transfers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from photoark.client.api import ApiClient
from photoark.client.home import ClientHome
from photoark.client.session import Session
from photoark.client.state.account import Account, AccountStore
from photoark.client.state.db import StateDB
from photoark.crypto.keys import ARGON2_MIN, create_account_keys
from photoark.protocol.models import KeyAttributesModel, SignupRequest
from photoark.server.app import create_app
from photoark.server.config import ServerSettings
from tests.builders import serving_app

__all__ = ["Served", "serving", "signed_up"]


@dataclass
class Served:
    url: str
    data: Path


@contextmanager
def serving(settings: ServerSettings) -> Iterator[Served]:
    """The app of ``settings`` served on a free port of 127.0.0.1 until the block ends."""
    app = create_app(settings)
    try:
        with serving_app(app) as url:
            yield Served(url, settings.data_dir)
    finally:
        app.state.engine.dispose()


def signed_up(root: Path, url: str, email: str = "alice@example.org") -> Session:
    """A client home in ``root`` logged in to ``url`` (a fresh account, cheap key limits)."""
    keys = create_account_keys("correct horse battery staple", ARGON2_MIN)
    attrs = KeyAttributesModel(**vars(keys.attributes))
    with ApiClient(url) as api:
        answer = api.signup(
            SignupRequest(email=email, login_key=keys.login_key, key_attributes=attrs)
        )
    home = ClientHome(root).ensure()
    db = StateDB(home.state_db)
    account = Account(url, email, answer.user_id, answer.token, keys.master_key, attrs)
    AccountStore(db).save(account)
    db.close()
    return Session.open(home)
