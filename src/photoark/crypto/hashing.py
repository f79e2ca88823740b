"""Content hashing: BLAKE3 of the plaintext, hex. Stored only inside encrypted metadata."""

from __future__ import annotations

import os
from pathlib import Path

import blake3

__all__ = ["HASH_READ_SIZE", "hash_bytes", "hash_file", "new_hasher"]

HASH_READ_SIZE = 4 * 1024 * 1024


def new_hasher() -> blake3.blake3:
    return blake3.blake3()


def hash_bytes(data: bytes) -> str:
    return str(blake3.blake3(data).hexdigest())


def hash_file(path: str | os.PathLike[str] | Path) -> str:
    """BLAKE3 of a file's content, read in bounded chunks."""
    h = blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_READ_SIZE):
            h.update(chunk)
    return str(h.hexdigest())
