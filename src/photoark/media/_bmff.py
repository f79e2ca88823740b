"""Bounded walking of ISO-BMFF / QuickTime boxes (MP4, MOV, HEIC, AVIF, CR3).

Box headers are read with seeks, 16 bytes each, never the payloads: a multi-GB video costs
a few KiB of reads. Used for the ``mvhd`` fallback, Samsung's ``mpvd`` motion-photo box and
the HEIF transform properties (``irot``/``imir``).

A file is given as its path, or as its whole content when the caller holds it in memory
already (a small file read once to hash it, :func:`opened`): then nothing is read again.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["find_box", "heif_has_transform", "iter_boxes", "opened", "top_level_box_exists"]

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


@contextmanager
def opened(source: Path | bytes) -> Iterator[BinaryIO]:
    """The file at ``source`` open for reading, or, when ``source`` is the file's content,
    that content as a file (not copied). Raises ``OSError`` for a path only."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    with source.open("rb") as fh:
        yield fh


def top_level_box_exists(source: Path | bytes, kind: bytes) -> bool:
    """Whether the file (its path or its content) has a top-level box of type ``kind``;
    ``False`` on any error."""
    try:
        with opened(source) as fh:
            end = fh.seek(0, 2)
            return find_box(fh, 0, end, kind) is not None
    except OSError:
        return False


def heif_has_transform(source: Path | bytes) -> bool:
    """Whether a HEIF's (its path or its content) ``meta`` box declares ``irot`` or ``imir``
    transform properties.

    libheif applies those while decoding; when they are absent, the EXIF orientation is
    the only rotation information left.
    """
    try:
        with opened(source) as fh:
            end = fh.seek(0, 2)
            meta = find_box(fh, 0, end, b"meta")
            if meta is None:
                return False
            fh.seek(meta[0])
            blob = fh.read(min(meta[1] - meta[0], _MAX_META))
    except OSError:
        return False
    return b"irot" in blob or b"imir" in blob
