"""The byte form of an embedding, as sealed for the server and kept in the client's cache.

``b"PAE1"`` (format 1), the dimension as a little-endian ``uint16``, then the vector as
little-endian IEEE float16 (1280 values: 2 566 bytes). Half precision changes a cosine
distance by less than 1e-3, far below the grouping threshold's margin, and halves what the
server stores and a new device downloads. Decoding checks every field, so a wrong or damaged
payload is refused rather than compared.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from photoark.ml.errors import EmbeddingFormatError

__all__ = ["decode_embedding", "decode_embeddings", "encode_embedding", "encoded_size"]

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


def decode_embeddings(
    blobs: Sequence[bytes], dim: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float16]]:
    """:func:`decode_embedding` of many at once (vectorised: ~10x faster for a page of rows):
    which blobs are valid embeddings of ``dim`` values, and those vectors, in order."""
    size = encoded_size(dim)
    right_size = np.fromiter((len(b) == size for b in blobs), dtype=np.bool_, count=len(blobs))
    raw = np.frombuffer(b"".join(b for b in blobs if len(b) == size), dtype=np.uint8)
    rows = raw.reshape(-1, size)
    header = np.frombuffer(_HEADER.pack(_MAGIC, dim), dtype=np.uint8)
    vectors = np.ascontiguousarray(rows[:, _HEADER.size :]).view(_F16).reshape(-1, dim)
    good = np.all(rows[:, : _HEADER.size] == header, axis=1) & np.all(np.isfinite(vectors), axis=1)
    valid = right_size.copy()
    valid[right_size] = good
    return valid, vectors[good].astype(np.float16)
