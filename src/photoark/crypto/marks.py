"""Deletion marks: an opaque token per content hash, so a user's devices can agree that a
photo was deleted from the backup without telling the server which photo.

``mark = BLAKE2b-256(key = marks key, message = content hash)``, hex; the marks key is derived
from the master key with crypto_kdf (context ``delmarks``), so only the user's devices can
compute or test a mark, and marks of two users never collide in meaning.
"""

from __future__ import annotations

import hashlib

from photoark.crypto.keys import kdf_derive

__all__ = ["MARKS_CONTEXT", "deletion_mark", "marks_key"]

MARKS_CONTEXT = b"delmarks"
MARKS_KEY_ID = 1


def marks_key(master_key: bytes) -> bytes:
    return kdf_derive(master_key, MARKS_KEY_ID, MARKS_CONTEXT)


def deletion_mark(key: bytes, content_hash: str) -> str:
    """The mark of a content hash (64 lowercase hex characters)."""
    return hashlib.blake2b(content_hash.encode("ascii"), key=key, digest_size=32).hexdigest()
