"""secretstream content encryption: round trips, resumption, and byte flips everywhere."""

from __future__ import annotations

import os

import pytest

from photoark.crypto.errors import IntegrityError
from photoark.crypto.stream import (
    ABYTES,
    CHUNK_SIZE,
    CIPHER_CHUNK_SIZE,
    HEADER_BYTES,
    StreamEncryptor,
    ciphertext_size,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
)

KEY = bytes(range(32))


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5]
)
def test_round_trip_and_exact_size(size: int) -> None:
    data = os.urandom(size)
    cipher = encrypt_bytes(KEY, data)
    assert len(cipher) == ciphertext_size(size)
    assert decrypt_bytes(KEY, cipher) == data


def test_decrypt_accepts_any_piece_boundaries() -> None:
    data = os.urandom(CHUNK_SIZE + 1000)
    cipher = encrypt_bytes(KEY, data)
    pieces = [cipher[i : i + 777] for i in range(0, len(cipher), 777)]
    assert b"".join(decrypt_stream(KEY, pieces)) == data


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_every_region_is_authenticated() -> None:
    data = os.urandom(2 * CHUNK_SIZE + 100)
    cipher = encrypt_bytes(KEY, data)
    first_chunk = HEADER_BYTES
    second_chunk = HEADER_BYTES + CIPHER_CHUNK_SIZE
    last_chunk = HEADER_BYTES + 2 * CIPHER_CHUNK_SIZE
    positions = {
        "header": 3,
        "first chunk tag byte": first_chunk,
        "first chunk body": first_chunk + 1000,
        "first chunk MAC": second_chunk - 1,
        "second chunk body": second_chunk + 5,
        "last chunk body": last_chunk + 20,
        "last chunk MAC": len(cipher) - 1,
    }
    for where, index in positions.items():
        with pytest.raises(IntegrityError):
            decrypt_bytes(KEY, _flip(cipher, index))
        del where


def test_no_plaintext_leaks_from_a_bad_chunk() -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    cipher = _flip(encrypt_bytes(KEY, data), HEADER_BYTES + CIPHER_CHUNK_SIZE + 10)
    got: list[bytes] = []
    with pytest.raises(IntegrityError):
        for piece in decrypt_stream(KEY, [cipher]):
            got.append(piece)
    assert got == [data[:CHUNK_SIZE]]  # only the authenticated first chunk


def test_truncation_and_appended_bytes_are_detected() -> None:
    data = os.urandom(2 * CHUNK_SIZE + 10)
    cipher = encrypt_bytes(KEY, data)
    with pytest.raises(IntegrityError, match="truncated"):
        decrypt_bytes(KEY, cipher[: HEADER_BYTES + 2 * CIPHER_CHUNK_SIZE])
    with pytest.raises(IntegrityError):
        decrypt_bytes(KEY, cipher + b"x" * 30)
    with pytest.raises(IntegrityError):
        decrypt_bytes(KEY, cipher[:10])


def test_wrong_key_fails() -> None:
    cipher = encrypt_bytes(KEY, b"hello")
    with pytest.raises(IntegrityError):
        decrypt_bytes(bytes(32), cipher)


def test_resumed_encryptor_continues_the_identical_stream() -> None:
    data = os.urandom(3 * CHUNK_SIZE)
    enc = StreamEncryptor.start(KEY)
    c0 = enc.push(data[:CHUNK_SIZE], final=False)
    snap = enc.snapshot()
    rest = [
        enc.push(data[CHUNK_SIZE : 2 * CHUNK_SIZE], False),
        enc.push(data[2 * CHUNK_SIZE :], True),
    ]
    resumed = StreamEncryptor.resume(enc.header, snap)
    again = [
        resumed.push(data[CHUNK_SIZE : 2 * CHUNK_SIZE], False),
        resumed.push(data[2 * CHUNK_SIZE :], True),
    ]
    assert again == rest
    stream = c0 + b"".join(again)
    assert b"".join(decrypt_stream(KEY, [stream], header=enc.header)) == data
    assert len(c0) == CHUNK_SIZE + ABYTES


def test_only_last_chunk_may_be_short() -> None:
    enc = StreamEncryptor.start(KEY)
    with pytest.raises(ValueError):
        enc.push(b"short", final=False)
