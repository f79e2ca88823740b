"""Fixtures for the media tests: the shared corpus (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media.builders import corpus_dir


@pytest.fixture(scope="session")
def corpus() -> Path:
    root = corpus_dir()
    if not (root / "sources.csv").is_file():
        pytest.skip(f"test corpus not found at {root}")
    return root


@pytest.fixture(scope="session")
def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file())
