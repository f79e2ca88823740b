"""Importable builders for the model tests: legacy torch checkpoints written without torch, and
fingerprints for encoded embeddings (:func:`a_fingerprint`, :func:`encoded`)."""

from __future__ import annotations

import pickle
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoark.ml.codec import encode_embedding
from photoark.ml.fingerprint import Fingerprint

__all__ = [
    "a_fingerprint",
    "encoded",
    "global_pickle",
    "legacy_checkpoint_bytes",
    "write_legacy_checkpoint",
]

_MAGIC = 0x1950A86A20F9469CFC6C
_SYS_INFO = {
    "protocol_version": 1001,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}
_STORAGE_NAMES = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}

# (storage key, storage offset, shape, strides, dtype) of one tensor in the state dict
_TensorEntry = tuple[str, int, tuple[int, ...], tuple[int, ...], np.dtype[np.generic]]


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def global_pickle(module: str, name: str, arg: str) -> bytes:
    """A protocol-2 pickle that calls ``module.name(arg)`` when loaded by a default unpickler."""
    return b"\x80\x02" + _global(module, name) + _tuple([_str(arg)]) + b"R."


def _state_dict_pickle(
    tensors: Mapping[str, _TensorEntry],
    numels: Mapping[str, int],
    extra_global: tuple[str, str, str] | None,
) -> bytes:
    out = [b"\x80\x02", _global("collections", "OrderedDict"), b")R("]
    for name, (key, offset, shape, strides, dtype) in tensors.items():
        pid = _tuple(
            [
                _str("storage"),
                _global("torch", _STORAGE_NAMES[dtype]),
                _str(key),
                _str("cpu"),
                _int(numels[key]),
                b"N",
            ]
        )
        hooks = _global("collections", "OrderedDict") + b")R"
        args = _tuple(
            [
                pid + b"Q",
                _int(offset),
                _tuple([_int(n) for n in shape]),
                _tuple([_int(s) for s in strides]),
                b"\x89",
                hooks,
            ]
        )
        out.append(_str(name) + _global("torch._utils", "_rebuild_tensor_v2") + args + b"R")
    if extra_global is not None:
        out.append(_str("evil") + global_pickle(*extra_global)[2:-1])
    out.append(b"u.")
    return b"".join(out)


def legacy_checkpoint_bytes(
    arrays: Mapping[str, npt.NDArray[np.generic]],
    *,
    transpose_2d: bool = False,
    extra_global: tuple[str, str, str] | None = None,
) -> bytes:
    """A legacy-format ``torch.save`` of ``arrays``, one storage per array (float32 or int64).

    With ``transpose_2d`` 2-d arrays are stored transposed with a leading pad element and read
    back through an offset and swapped strides, as torch does for non-contiguous views.
    ``extra_global`` (module, name, argument) adds an entry calling that global, as a
    malicious file would.
    """
    tensors: dict[str, _TensorEntry] = {}
    storages: dict[str, npt.NDArray[np.generic]] = {}
    for i, (name, array) in enumerate(arrays.items()):
        key = str(1000 + i)
        if transpose_2d and array.ndim == 2:
            flat = np.concatenate([np.zeros(1, array.dtype), np.ascontiguousarray(array.T).ravel()])
            tensors[name] = (key, 1, array.shape, (1, array.shape[0]), array.dtype)
        else:
            flat = np.ascontiguousarray(array).ravel()
            strides = tuple(s // array.itemsize for s in np.ascontiguousarray(array).strides)
            tensors[name] = (key, 0, array.shape, strides, array.dtype)
        storages[key] = flat
    numels = {key: int(flat.size) for key, flat in storages.items()}
    parts = [
        pickle.dumps(_MAGIC, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps(_SYS_INFO, protocol=2),
        _state_dict_pickle(tensors, numels, extra_global),
        pickle.dumps(list(storages), protocol=2),
    ]
    for flat in storages.values():
        parts.append(
            struct.pack("<q", flat.size) + flat.astype(flat.dtype.newbyteorder("<")).tobytes()
        )
    return b"".join(parts)


def write_legacy_checkpoint(path: Path, arrays: Mapping[str, npt.NDArray[np.generic]]) -> Path:
    """Write :func:`legacy_checkpoint_bytes` of ``arrays`` to ``path``; returns ``path``."""
    path.write_bytes(legacy_checkpoint_bytes(arrays))
    return path


def a_fingerprint(seed: int = 0, *, detail: float = 0.6, side: int = 720) -> Fingerprint:
    """A detailed picture's fingerprint (not plain, by default) with pHashes drawn from
    ``seed``: different seeds are ~32 bits apart, the same seed gives the same fingerprint."""
    rng = np.random.default_rng(seed)
    hashes = tuple(int(h) for h in rng.integers(0, 2**64, size=8, dtype=np.uint64))
    return Fingerprint(hashes, detail, side)


def encoded(vector: npt.NDArray[np.floating], seed: int = 0) -> bytes:
    """``encode_embedding`` of ``vector`` with :func:`a_fingerprint` of ``seed``."""
    return encode_embedding(vector, a_fingerprint(seed))
