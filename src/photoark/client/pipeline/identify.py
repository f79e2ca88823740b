"""What a local file holds: its format and content hash, from the stat cache when the file is
unchanged, else read (and the stat checked before and after, so a file being written is never
taken for a finished one)."""

from __future__ import annotations

import os

import blake3

from photoark.client.errors import FileChangedError
from photoark.client.state.statcache import StatCache
from photoark.crypto.hashing import hash_into
from photoark.media import sniff

__all__ = ["content_hash", "hash_unchanged"]


def hash_unchanged(path: str, st: os.stat_result) -> str:
    """BLAKE3 of ``path``, provided it is still the file ``st`` describes before and after."""
    h = blake3.blake3()
    with open(path, "rb") as f:
        before = os.fstat(f.fileno())
        if (before.st_size, before.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            raise FileChangedError(f"{path} changed after it was scanned")
        hash_into(h, f)
        after = os.fstat(f.fileno())
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        raise FileChangedError(f"{path} changed while it was read")
    return str(h.hexdigest())


def content_hash(cache: StatCache, path: str, st: os.stat_result) -> str | None:
    """The file's content hash now, or None for a non-media file (stat cache first; a file
    read here is cached). Raises OSError or :class:`FileChangedError`."""
    cached = cache.lookup(path, st)
    if cached is not None:
        fmt, known = cached
        return known if fmt else None
    fmt_now = sniff(path)
    if fmt_now is None:
        cache.store(path, st, "", "")
        return None
    digest = hash_unchanged(path, st)
    cache.store(path, st, fmt_now.name, digest)
    return digest
