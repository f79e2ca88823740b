"""The byte form of an embedding and its fingerprint: round trip (the vector within float16
precision, the fingerprint exactly), the fingerprint read from the payload's ends alone, and
every malformed payload refused (byte flips in the header, truncation, wrong dimension,
non-finite values, a bad detail, the old format)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from photoark.ml.codec import (
    FINGERPRINT_SIZE,
    HEADER_SIZE,
    decode_embedding,
    decode_embeddings,
    decode_fingerprint,
    encode_embedding,
    encoded_size,
)
from photoark.ml.errors import EmbeddingFormatError
from photoark.ml.fingerprint import Fingerprint
from photoark.ml.identity import PAYLOAD_VERSION, model_name
from tests.ml.builders import a_fingerprint, encoded


def _unit(seed: int, dim: int = 1280) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_round_trip_keeps_cosine_distances_and_the_fingerprint() -> None:
    a, b = _unit(1), _unit(2)
    fp = Fingerprint((0, 1, 2**63, 2**64 - 1, 5, 6, 7, 8), 77 / 192, 720)
    data_a, data_b = encode_embedding(a, fp), encoded(b)
    assert len(data_a) == encoded_size(1280) == 6 + 2560 + 8 * 8 + 8 + 2 == 2640
    assert data_a[:4] == b"PAE2" == b"PAE%d" % PAYLOAD_VERSION  # the name changes with it
    da = decode_embedding(data_a, 1280).astype(np.float32)
    db = decode_embedding(data_b, 1280).astype(np.float32)
    assert abs(float(da @ db) - float(a @ b)) < 1e-3
    assert abs(float(da @ da) - 1.0) < 1e-3
    assert decode_fingerprint(data_a, 1280) == fp  # exactly: detail is not rounded
    assert decode_fingerprint(data_b) == a_fingerprint()


def test_the_layout_is_as_documented() -> None:
    fp = a_fingerprint(3, detail=0.25, side=64)
    data = encode_embedding(_unit(3, 4), fp)
    assert struct.unpack_from("<4sH", data) == (b"PAE2", 4)
    assert np.array_equal(np.frombuffer(data, "<f2", 4, 6), _unit(3, 4).astype(np.float16))
    assert struct.unpack_from("<8QdH", data, 6 + 8) == (*fp.phashes, 0.25, 64)
    assert (HEADER_SIZE, FINGERPRINT_SIZE) == (6, 74)


def test_the_fingerprint_is_read_from_the_ends_alone() -> None:
    data = bytearray(encoded(_unit(4), seed=9))
    data[HEADER_SIZE:-FINGERPRINT_SIZE] = b"\xff" * (len(data) - HEADER_SIZE - FINGERPRINT_SIZE)
    assert decode_fingerprint(bytes(data), 1280) == a_fingerprint(9)  # NaN vector: not decoded
    with pytest.raises(EmbeddingFormatError):
        decode_embedding(bytes(data))


@pytest.mark.parametrize("position", [0, 1, 2, 3, 4, 5])
def test_a_flipped_header_byte_is_refused(position: int) -> None:
    data = bytearray(encoded(_unit(3)))
    data[position] ^= 0x01
    with pytest.raises(EmbeddingFormatError):
        decode_embedding(bytes(data), 1280)
    with pytest.raises(EmbeddingFormatError):
        decode_fingerprint(bytes(data), 1280)


def test_truncated_extended_and_wrong_dimension_are_refused() -> None:
    data = encoded(_unit(4))
    for bad in (data[:-1], data + b"\0", data[:3], b"", data[:-FINGERPRINT_SIZE]):
        with pytest.raises(EmbeddingFormatError):
            decode_embedding(bad)
        with pytest.raises(EmbeddingFormatError):
            decode_fingerprint(bad)
    with pytest.raises(EmbeddingFormatError, match="1280"):
        decode_embedding(encoded(_unit(5, 64)), 1280)


def test_format_1_is_refused_and_lived_under_another_name() -> None:
    v = _unit(7)
    old = struct.pack("<4sH", b"PAE1", 1280) + v.astype("<f2").tobytes()
    for bad in (old, old + b"\0" * FINGERPRINT_SIZE):
        with pytest.raises(EmbeddingFormatError, match="unknown format"):
            decode_embedding(bad, 1280)
        with pytest.raises(EmbeddingFormatError):
            decode_fingerprint(bad, 1280)
    valid, _ = decode_embeddings([old, old + b"\0" * FINGERPRINT_SIZE], 1280)
    assert not valid.any()
    assert PAYLOAD_VERSION == 2
    assert model_name() == "efficientnet-lite0.g1.r4.p2"  # format 1's: efficientnet-lite0.g1.r4
    assert model_name(False) == "efficientnet-lite0.g1.r1.p2"


def test_non_finite_values_are_refused_both_ways() -> None:
    v = _unit(6)
    v[10] = np.nan
    with pytest.raises(EmbeddingFormatError):
        encode_embedding(v, a_fingerprint())
    data = bytearray(encoded(_unit(6)))
    data[6:8] = np.array([np.inf], dtype="<f2").tobytes()  # the first value, as float16 inf
    with pytest.raises(EmbeddingFormatError):
        decode_embedding(bytes(data))
    with pytest.raises(EmbeddingFormatError):
        encode_embedding(np.zeros(0, dtype=np.float32), a_fingerprint())


@pytest.mark.parametrize("detail", [float("nan"), -0.01, 1.5, float("inf")])
def test_a_bad_detail_is_refused(detail: float) -> None:
    data = bytearray(encoded(_unit(8)))
    data[-10:-2] = struct.pack("<d", detail)
    with pytest.raises(EmbeddingFormatError, match="detail"):
        decode_fingerprint(bytes(data))
    with pytest.raises(EmbeddingFormatError):
        decode_embedding(bytes(data))
    valid, _ = decode_embeddings([bytes(data)], 1280)
    assert not valid.any()
    with pytest.raises(ValueError):
        Fingerprint(a_fingerprint().phashes, detail, 10)


def test_many_at_once_agree_with_one_by_one_and_skip_bad_ones() -> None:
    good = [encoded(_unit(i), i) for i in range(5)]
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
