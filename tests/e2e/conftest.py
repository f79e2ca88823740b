from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
