from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from photoark.client.home import resolve_home
from photoark.client.session import Session
from tests.builders import Client, ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path) as s:
        yield s


@pytest.fixture
def alice(tmp_path: Path, server: ServerProcess) -> Client:
    client = Client(tmp_path / "alice-laptop", server.url)
    client.signup()
    return client


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """An in-process client session (signed up through the real CLI) on a real server."""
    with running_server(tmp_path) as server:
        client = Client(tmp_path / "c", server.url)
        client.signup()
        s = Session.open(resolve_home(client.home))
        try:
            yield s
        finally:
            s.close()
