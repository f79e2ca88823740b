"""The local account ``photoark quickstart`` makes: a generated password, signed up on the
local server, its credentials kept in ``<home>/local-account.txt`` (0600 from creation).

A home that already has an account keeps it (and its server); the local server is started
(or found running) when the account is on it or there is none yet, at the account's address.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from photoark.client import auth
from photoark.client.home import ClientHome
from photoark.client.local.server import (
    LocalServer,
    load_account,
    local_account_server,
    start_local_server,
)

__all__ = ["LOCAL_EMAIL", "LocalSetup", "credentials_file", "set_up_local"]

LOCAL_EMAIL = "me@photoark.local"


@dataclass(frozen=True)
class LocalSetup:
    server: LocalServer | None  # the local server started or found (None: the account is remote)
    credentials: Path | None  # the credentials file, when this home has one


def credentials_file(home: ClientHome) -> Path:
    return home.local_credentials


def set_up_local(home: ClientHome) -> LocalSetup:
    """Make sure this home has an account and, if it is (or will be) local, a running local
    server. Signs up a new local account only when the home has none."""
    account = load_account(home)
    server = None
    if account is None or local_account_server(home, account) is not None:
        server = start_local_server(home, account).server
    credentials = credentials_file(home)
    if account is None:
        url = server.url if server else ""
        password = secrets.token_urlsafe(24)
        _, recovery = auth.signup(home, url, LOCAL_EMAIL, password)
        _write_private(
            credentials,
            f"server: {url}\nemail: {LOCAL_EMAIL}\n"
            f"password: {password}\nrecovery key: {recovery.hex()}\n",
        )
    return LocalSetup(server=server, credentials=credentials if credentials.exists() else None)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, never readable by others even for a
    moment (created 0600, replaced atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
