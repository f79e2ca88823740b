"""Process-level tuning of the C allocator (glibc): for the server, the daemon and the CLI's
backup.

The server moves large buffers (request bodies and their chunks: 64 KiB to 64 MiB).
glibc serves blocks above its mmap threshold (128 KiB to start) with fresh ``mmap`` pages that
the kernel must zero on first touch and unmap on free, so every buffer costs page faults:
measured here, a third of the server's kernel time while receiving bundles. Raising the
threshold keeps such buffers in the heap, where freed memory is reused. Peak memory is
unchanged (the same buffers exist at once); freed heap is returned to the system above the
trim threshold. (The client gained nothing measurable from it and its peak RSS on one
large file rose from ~107 to ~140 MB, so only the server calls it.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

__all__ = ["limit_arenas", "tune_allocator"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024


def _mallopt() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: keep their defaults
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt  # type: ignore[no-any-return]


def limit_arenas(count: int = 2) -> bool:
    """At most ``count`` malloc arenas (glibc gives each new thread an arena of its own, up
    to 8 per core: the upload, bundle and thumbnail threads each kept one, and freed memory
    stayed in them). ``False`` where there is no glibc.

    Call it before starting threads: arenas already made stay, and once more than 8 exist
    glibc fixes its limit for good and ignores this one (glibc 2.36: threads started before the
    call keep their arenas; with 9 or more, the call changes nothing)."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, count) == 1)


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; ``False`` where there is no glibc (a no-op)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1) and ok
