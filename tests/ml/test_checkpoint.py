"""The restricted reader of legacy torch checkpoints: real weights, synthetic files, refusals."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from photoark.ml.checkpoint import Checkpoint, RestrictedUnpickler, load_checkpoint
from photoark.ml.errors import CheckpointError
from tests.ml.builders import global_pickle, legacy_checkpoint_bytes, write_legacy_checkpoint


def test_packaged_checkpoint_loads_offline(checkpoint: Checkpoint) -> None:
    assert len(checkpoint.tensors) == 296
    assert checkpoint.parameter_count == 4_694_024
    stem = checkpoint.tensors["_conv_stem.weight"]
    assert stem.shape == (32, 3, 3, 3)
    assert stem.dtype == np.float32
    assert checkpoint.tensors["_fc.weight"].shape == (1000, 1280)
    assert np.isfinite(stem).all()
    assert not any("_se_" in name for name in checkpoint.tensors)  # Lite: no squeeze-excite


def test_synthetic_checkpoint_round_trips_strided_views(tmp_path: Path) -> None:
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "a.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "a.bias": np.array([1.5, -2.0], dtype=np.float32),
        "a.num_batches_tracked": np.array([7], dtype=np.int64),
    }
    path = tmp_path / "c.pth"
    path.write_bytes(legacy_checkpoint_bytes(arrays, transpose_2d=True))
    loaded = load_checkpoint(path)
    assert loaded.tensors.keys() == arrays.keys()
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded.tensors[name], array)
        assert loaded.tensors[name].dtype == array.dtype
    assert loaded.parameter_count == 14


@pytest.mark.parametrize(
    ("module", "name"),
    [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("torch", "load")],
)
def test_unpickler_refuses_other_globals(module: str, name: str) -> None:
    with pytest.raises(CheckpointError, match="forbidden global"):
        RestrictedUnpickler(io.BytesIO(global_pickle(module, name, "true"))).load()


def test_checkpoint_naming_os_system_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = legacy_checkpoint_bytes(
        {"w": np.zeros(2, dtype=np.float32)}, extra_global=("os", "system", f"touch {marker}")
    )
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_pickled_builtin_is_refused() -> None:
    data = pickle.dumps(print, protocol=2)  # builtins.print
    with pytest.raises(CheckpointError):
        RestrictedUnpickler(io.BytesIO(data)).load()


def test_bad_magic_and_truncation_are_checkpoint_errors(tmp_path: Path) -> None:
    good = legacy_checkpoint_bytes({"w": np.ones(4, dtype=np.float32)})
    bad_magic = tmp_path / "magic.pth"
    bad_magic.write_bytes(pickle.dumps(12345, protocol=2) + good)
    with pytest.raises(CheckpointError, match="magic"):
        load_checkpoint(bad_magic)
    truncated = tmp_path / "short.pth"
    truncated.write_bytes(good[:-3])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(truncated)


def test_sha256_is_of_the_file(tmp_path: Path) -> None:
    path = write_legacy_checkpoint(tmp_path / "c.pth", {"w": np.ones(3, dtype=np.float32)})
    assert load_checkpoint(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
