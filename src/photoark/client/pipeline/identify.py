"""What a local file holds: its format and content hash, from the stat cache when the file is
unchanged, else read (and the stat checked before and after, so a file being written is never
taken for a finished one)."""

from __future__ import annotations

import os

import blake3

from photoark.client.errors import FileChangedError
from photoark.client.pipeline.smallfiles import read_small
from photoark.client.state.statcache import StatCache
from photoark.crypto.hashing import hash_into
from photoark.media import MediaFormat, sniff, sniff_content
from photoark.media.formats import get_format

__all__ = ["content_hash", "hash_unchanged", "identify"]


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


def identify(
    cache: StatCache, path: str, st: os.stat_result, small: bool, maybe_cached: bool = True
) -> tuple[MediaFormat | None, str, bytes | None]:
    """Format and content hash, from the stat cache when the file is unchanged (``None`` and
    ``""`` for a non-media file); a ``small`` file read to hash it is returned whole, so it is
    not read twice. ``maybe_cached`` false: the caller knows the cache holds nothing for this
    stat (the run's settle pass looked, :mod:`.settle`), so it is not asked again. Raises
    OSError or :class:`FileChangedError`."""
    cached = cache.lookup(path, st) if maybe_cached else None
    if cached is not None:
        fmt_name, digest = cached
        return (get_format(fmt_name) if fmt_name else None), digest, None
    data: bytes | None = None
    if small:
        # one read: the format from the bytes in memory, not a separate header read (on a
        # cold cache that is a second disk round trip per file)
        data, digest = read_small(path, st)
        fmt = sniff_content(data, os.path.splitext(path)[1])
    else:
        fmt = sniff(path)
    if fmt is None:
        cache.store(path, st, "", "")
        return None, "", None
    if not small:
        digest = hash_unchanged(path, st)
    cache.store(path, st, fmt.name, digest)
    return fmt, digest, data
