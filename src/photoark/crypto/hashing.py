"""Content hashing: BLAKE3 of the plaintext, hex. Stored only inside encrypted metadata."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import blake3

__all__ = ["HASH_READ_SIZE", "hash_file", "hash_into"]

HASH_READ_SIZE = 4 * 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def hash_into(hasher: blake3.blake3, f: Readable, limit: int | None = None) -> int:
    """Feed an open file into ``hasher`` in bounded reads, up to ``limit`` bytes (all when
    ``None``); returns the number of bytes read."""
    total = 0
    while limit is None or total < limit:
        size = HASH_READ_SIZE if limit is None else min(HASH_READ_SIZE, limit - total)
        piece = f.read(size)
        if not piece:
            break
        hasher.update(piece)
        total += len(piece)
    return total


def hash_file(path: str | os.PathLike[str] | Path) -> str:
    """BLAKE3 of a file's content, read in bounded chunks."""
    h = blake3.blake3()
    with open(path, "rb") as f:
        hash_into(h, f)
    return str(h.hexdigest())
