"""Big picture decodes, a few at a time: a process-wide budget of pixels being decoded.

A full decode of a 12 MP HEIC grows the process by ~90-100 MiB at its peak, a 10 MP WebP by
~140, a 20 MP 10-bit AVIF by ~265 (decoder planes, the RGB(A) picture, its conversion). Two
render threads decoding two of them at once made the client's peak memory. A decode of more
than :data:`COUNTED_PIXELS` reserves its pixels in :data:`DECODES` and waits while the decodes
in flight would exceed :data:`BUDGET_PIXELS`: two 8 MP pictures decode together, a 12 MP one
and a 4 MP one too, two 12 MP ones one after the other. Smaller decodes (a JPEG decoded at 1/4
or 1/8 scale, a HEIF's embedded preview) never wait. A picture larger than the whole budget
decodes alone. Waiting is first come, first served, so a stream of medium pictures cannot
starve a big one.

The caller holds a reservation from before the decode until the picture is shrunk to its
thumbnail, when the big buffer goes; a thread holds one reservation at a time (a second one,
waiting for the first, would wait for ever). When the last big decode in flight is done, glibc
is asked to give its free memory back (``malloc_trim(0)``).

Measured over the corpus' 277 pictures (its 20 MP AVIF aside), 2 render threads, 2 malloc
arenas, 3 runs each: peak RSS 261-289 MiB without the budget, 219-220 with it, 217-219 with
the trim too, which mostly lowers what the process settles at (end of the run 129-146 MiB
with the budget alone, 61-120 with the trim; 95th percentile of RSS samples 153-165 and
136-167) for ~5-7 ms of CPU per big decode (freed pages are faulted in again by the next
one). A single huge decode is not made smaller: the 20 MP 10-bit AVIF alone grows the
process by ~265 MiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["BUDGET_PIXELS", "COUNTED_PIXELS", "DECODES", "PixelBudget", "trim_malloc"]

BUDGET_PIXELS = 16_000_000
"""Pixels of big decodes in flight at once, across the process."""

COUNTED_PIXELS = 2_000_000
"""A decode of at most this many pixels is not counted (a 720 px thumbnail is 0.4 MP)."""


class PixelBudget:
    """At most ``limit`` pixels reserved at once; reservations of ``counted`` or fewer are
    free. Thread-safe; reservations wait in arrival order. ``on_idle`` is called (outside the
    lock) each time the last reservation in flight is released."""

    def __init__(
        self, limit: int, counted: int, on_idle: Callable[[], object] | None = None
    ) -> None:
        self._limit = limit
        self._counted = counted
        self._on_idle = on_idle
        self._cond = threading.Condition()
        self._in_flight = 0
        self._waiting: deque[object] = deque()

    @property
    def in_flight(self) -> int:
        """Pixels reserved now (for tests and measurements)."""
        with self._cond:
            return self._in_flight

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` (at most the whole budget) of the budget for the ``with`` block."""
        if pixels <= self._counted:
            yield
            return
        need = min(pixels, self._limit)
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            try:
                while self._waiting[0] is not ticket or self._in_flight + need > self._limit:
                    self._cond.wait()
            finally:  # also when interrupted: a stale ticket would block everyone behind it
                self._waiting.remove(ticket)
                self._cond.notify_all()  # the next in line may fit as well
            self._in_flight += need
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= need
                idle = self._in_flight == 0
                self._cond.notify_all()
            if idle and self._on_idle is not None:
                self._on_idle()


def _libc_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


_MALLOC_TRIM = _libc_malloc_trim()


def trim_malloc() -> bool:
    """Give glibc's free heap memory back to the system; ``False`` without glibc."""
    return _MALLOC_TRIM is not None and bool(_MALLOC_TRIM(0))


DECODES = PixelBudget(BUDGET_PIXELS, COUNTED_PIXELS, on_idle=trim_malloc)
"""The budget every thumbnail decode of the process shares."""
