"""Bounded walking of ISO-BMFF / QuickTime boxes (MP4, MOV, HEIC, AVIF, CR3).

Box headers are read with seeks, 16 bytes each, never the payloads: a multi-GB video costs
a few KiB of reads. Used for the ``mvhd`` fallback, Samsung's ``mpvd`` motion-photo box and
the HEIF transform properties (``irot``/``imir``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["find_box", "heif_has_transform", "iter_boxes", "top_level_box_exists"]

_MAX_BOXES = 4096
_MAX_META = 1 << 20


def iter_boxes(fh: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload_start, box_end)`` of each box in ``[start, end)``; stops on garbage."""
    offset = start
    for _ in range(_MAX_BOXES):
        if offset + 8 > end:
            return
        fh.seek(offset)
        head = fh.read(16)
        if len(head) < 8:
            return
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1 and len(head) == 16:
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            return
        yield kind, offset + header, min(offset + size, end)
        offset += size


def find_box(fh: BinaryIO, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """``(payload_start, box_end)`` of the first ``kind`` box in ``[start, end)``."""
    for box, payload, box_end in iter_boxes(fh, start, end):
        if box == kind:
            return payload, box_end
    return None


def top_level_box_exists(path: Path, kind: bytes) -> bool:
    """Whether the file has a top-level box of type ``kind``; ``False`` on any error."""
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, 2)
            return find_box(fh, 0, end, kind) is not None
    except OSError:
        return False


def heif_has_transform(path: Path) -> bool:
    """Whether a HEIF's ``meta`` box declares ``irot`` or ``imir`` transform properties.

    libheif applies those while decoding; when they are absent, the EXIF orientation is
    the only rotation information left.
    """
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, 2)
            meta = find_box(fh, 0, end, b"meta")
            if meta is None:
                return False
            fh.seek(meta[0])
            blob = fh.read(min(meta[1] - meta[0], _MAX_META))
    except OSError:
        return False
    return b"irot" in blob or b"imir" in blob
