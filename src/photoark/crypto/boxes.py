"""Small authenticated boxes (secretbox): wrapped keys, encrypted names and metadata.

A box is ``nonce (24 bytes) || ciphertext``; random nonces are safe with XSalsa20's 192 bits.
"""

from __future__ import annotations

import json
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils

from photoark.crypto.errors import IntegrityError, WrongKeyError

__all__ = [
    "KEY_BYTES",
    "new_key",
    "open_box",
    "open_json",
    "seal",
    "seal_json",
    "unwrap_key",
    "wrap_key",
]

KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return nacl.utils.random(KEY_BYTES)


def seal(key: bytes, plaintext: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext``; returns nonce || ciphertext."""
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext))


def open_box(key: bytes, box: bytes) -> bytes:
    """Decrypt a box made by :func:`seal`. Raises :class:`IntegrityError` if it was altered."""
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(box))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as err:
        raise IntegrityError(
            "encrypted data failed authentication (tampered or wrong key)"
        ) from err


def wrap_key(wrapping_key: bytes, key: bytes) -> bytes:
    """Wrap ``key`` under ``wrapping_key``."""
    return seal(wrapping_key, key)


def unwrap_key(wrapping_key: bytes, wrapped: bytes) -> bytes:
    """Unwrap a key; raises :class:`WrongKeyError` when ``wrapping_key`` is not the right one."""
    try:
        key = open_box(wrapping_key, wrapped)
    except IntegrityError as err:
        raise WrongKeyError("could not unwrap key: wrong key or corrupted data") from err
    if len(key) != KEY_BYTES:
        raise WrongKeyError("unwrapped key has the wrong length")
    return key


def seal_json(key: bytes, value: Any) -> bytes:
    """Encrypt a JSON-serialisable value (compact, UTF-8)."""
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return seal(key, data)


def open_json(key: bytes, box: bytes) -> Any:
    """Decrypt a value made by :func:`seal_json`."""
    data = open_box(key, box)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IntegrityError("decrypted metadata is not valid JSON") from err
