"""The byte form of an embedding: round trip within float16 precision, and every malformed
payload refused (byte flips in the header, truncation, wrong dimension, non-finite values)."""

from __future__ import annotations

import numpy as np
import pytest

from photoark.ml.codec import decode_embedding, encode_embedding, encoded_size
from photoark.ml.errors import EmbeddingFormatError


def _unit(seed: int, dim: int = 1280) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_round_trip_keeps_cosine_distances() -> None:
    a, b = _unit(1), _unit(2)
    data_a, data_b = encode_embedding(a), encode_embedding(b)
    assert len(data_a) == encoded_size(1280) == 6 + 2560
    da = decode_embedding(data_a, 1280).astype(np.float32)
    db = decode_embedding(data_b, 1280).astype(np.float32)
    assert abs(float(da @ db) - float(a @ b)) < 1e-3
    assert abs(float(da @ da) - 1.0) < 1e-3


@pytest.mark.parametrize("position", [0, 1, 2, 3, 4, 5])
def test_a_flipped_header_byte_is_refused(position: int) -> None:
    data = bytearray(encode_embedding(_unit(3)))
    data[position] ^= 0x01
    with pytest.raises(EmbeddingFormatError):
        decode_embedding(bytes(data), 1280)


def test_truncated_extended_and_wrong_dimension_are_refused() -> None:
    data = encode_embedding(_unit(4))
    for bad in (data[:-1], data + b"\0", data[:3], b""):
        with pytest.raises(EmbeddingFormatError):
            decode_embedding(bad)
    with pytest.raises(EmbeddingFormatError, match="1280"):
        decode_embedding(encode_embedding(_unit(5, 64)), 1280)


def test_non_finite_values_are_refused_both_ways() -> None:
    v = _unit(6)
    v[10] = np.nan
    with pytest.raises(EmbeddingFormatError):
        encode_embedding(v)
    data = bytearray(encode_embedding(_unit(6)))
    data[6:8] = np.array([np.inf], dtype="<f2").tobytes()  # the first value, as float16 inf
    with pytest.raises(EmbeddingFormatError):
        decode_embedding(bytes(data))
    with pytest.raises(EmbeddingFormatError):
        encode_embedding(np.zeros(0, dtype=np.float32))


def test_many_at_once_agree_with_one_by_one_and_skip_bad_ones() -> None:
    from photoark.ml.codec import decode_embeddings

    good = [encode_embedding(_unit(i)) for i in range(5)]
    flipped = bytearray(good[1])
    flipped[2] ^= 0x10
    nan = bytearray(good[3])
    nan[6:8] = np.array([np.nan], dtype="<f2").tobytes()
    blobs = [good[0], bytes(flipped), good[2], bytes(nan), good[4][:-2], good[4]]
    valid, vectors = decode_embeddings(blobs, 1280)
    assert valid.tolist() == [True, False, True, False, False, True]
    for vector, blob in zip(vectors, [good[0], good[2], good[4]], strict=True):
        assert np.array_equal(vector, decode_embedding(blob, 1280))
    none_valid, empty = decode_embeddings([], 1280)
    assert none_valid.shape == (0,) and empty.shape == (0, 1280)
