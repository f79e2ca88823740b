"""The byte form of an embedding, as sealed for the server and kept in the client's cache.

``b"PAE1"`` (format 1), the dimension as a little-endian ``uint16``, then the vector as
little-endian IEEE float16 (1280 values: 2 566 bytes). Half precision changes a cosine
distance by less than 1e-3, far below the grouping threshold's margin, and halves what the
server stores and a new device downloads. Decoding checks every field, so a wrong or damaged
payload is refused rather than compared.
"""

from __future__ import annotations

import struct
from typing import Final

import numpy as np
import numpy.typing as npt

from photoark.ml.errors import EmbeddingFormatError

__all__ = ["decode_embedding", "encode_embedding", "encoded_size"]

_MAGIC: Final = b"PAE1"
_HEADER: Final = struct.Struct("<4sH")
_F16: Final = np.dtype("<f2")


def encoded_size(dim: int) -> int:
    """Bytes of an encoded embedding of ``dim`` values."""
    return _HEADER.size + dim * _F16.itemsize


def encode_embedding(vector: npt.NDArray[np.floating]) -> bytes:
    """``vector`` (1-d, finite) as bytes. Pure."""
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    if not flat.size or flat.size > 0xFFFF:
        raise EmbeddingFormatError(f"an embedding of {flat.size} values cannot be encoded")
    if not np.all(np.isfinite(flat)):
        raise EmbeddingFormatError("an embedding with NaN or infinite values")
    return _HEADER.pack(_MAGIC, flat.size) + flat.astype(_F16).tobytes()


def decode_embedding(data: bytes, dim: int | None = None) -> npt.NDArray[np.float16]:
    """The float16 vector in ``data``; :class:`EmbeddingFormatError` if it is not one (of
    ``dim`` values, when given)."""
    if len(data) < _HEADER.size:
        raise EmbeddingFormatError(f"an embedding of {len(data)} bytes is too short")
    magic, size = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise EmbeddingFormatError("not an embedding (unknown format)")
    if dim is not None and size != dim:
        raise EmbeddingFormatError(f"an embedding of {size} values, {dim} expected")
    if len(data) != encoded_size(size):
        raise EmbeddingFormatError(
            f"an embedding of {size} values takes {encoded_size(size)} bytes, not {len(data)}"
        )
    vector = np.frombuffer(data, dtype=_F16, offset=_HEADER.size)
    if not np.all(np.isfinite(vector)):
        raise EmbeddingFormatError("an embedding with NaN or infinite values")
    return vector.astype(np.float16)
