"""Fixtures for the model tests: the packaged checkpoint and one model built per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoark.ml.checkpoint import Checkpoint, load_checkpoint, packaged_checkpoint_path
from photoark.ml.errors import ModelNotInstalledError
from photoark.ml.model import EmbeddingModel
from tests.media.builders import corpus_dir


@pytest.fixture(scope="session")
def checkpoint_path() -> Path:
    try:
        return packaged_checkpoint_path()
    except ModelNotInstalledError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def checkpoint(checkpoint_path: Path) -> Checkpoint:
    return load_checkpoint(checkpoint_path)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def model(checkpoint_path: Path, model_cache: Path) -> EmbeddingModel:
    """Orientation-invariant model (the default), built once into a session cache dir."""
    return EmbeddingModel(model_cache, threads=2)


@pytest.fixture(scope="session")
def raw_model(model: EmbeddingModel, model_cache: Path) -> EmbeddingModel:
    """The same cached ONNX model, without rotation averaging."""
    return EmbeddingModel(model_cache, threads=2, orientation_invariant=False)


@pytest.fixture(scope="session")
def corpus() -> Path:
    root = corpus_dir()
    if not (root / "sources.csv").is_file():
        pytest.skip(f"test corpus not found at {root}")
    return root
