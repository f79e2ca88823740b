"""Fixtures for the optimize tests (the builders themselves are in :mod:`.builders`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.optimize.builders import Library


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    """An empty library: a client home under ``tmp_path/home`` with a fake server."""
    built = Library(tmp_path / "home")
    yield built
    built.close()
