"""Crypto errors: the only exceptions this package raises for bad keys or bad ciphertext.

Adapters catch ``nacl.exceptions.CryptoError`` and re-raise one of these ``from`` it, so callers
never depend on the library's exception types or messages.

    CryptoError
     ├── IntegrityError      ciphertext was altered, truncated or does not belong to this key
     └── WrongKeyError       a wrapped key could not be unwrapped (wrong password / recovery key)
"""

from __future__ import annotations

__all__ = ["CryptoError", "IntegrityError", "WrongKeyError"]


class CryptoError(Exception):
    """Base class of every crypto failure."""


class IntegrityError(CryptoError):
    """Ciphertext failed authentication: tampered, truncated or wrong key. Never yields bytes."""


class WrongKeyError(CryptoError):
    """A key wrapped with secretbox could not be opened with the key given."""
