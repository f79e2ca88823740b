"""HTTP ``Range`` header parsing for downloads (a single byte range).

Accepted: ``bytes=a-b``, ``bytes=a-``, ``bytes=-n``. A header that does not parse, or asks for
several ranges, is ignored (the whole body is sent, as RFC 9110 allows); a range that cannot be
satisfied raises :class:`RangeNotSatisfiable` (416).
"""

from __future__ import annotations

import re

from photoark.server.errors import RangeNotSatisfiable

__all__ = ["parse_range"]

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_inclusive)`` for a satisfiable range, ``None`` for "send everything"."""
    if header is None:
        return None
    match = _RANGE_RE.match(header)
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None  # syntactically invalid: ignore
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end
