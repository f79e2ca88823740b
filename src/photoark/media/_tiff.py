"""A tiny, bounded TIFF IFD reader shared by the sniffer and the Apple maker-note parser.

Only what photoark needs: walk one IFD, return each entry's raw value bytes, decode ASCII
and integer values. Every read goes through a ``read_at(offset, size)`` callable so the
same code works over an open file (seek + small reads, never the whole file) and over an
in-memory blob (a maker note). All bounds are checked; hostile input yields fewer tags,
never an exception other than :class:`TiffError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["IfdEntry", "TiffError", "bytes_reader", "file_reader", "read_ifd"]

ReadAt = Callable[[int, int], bytes]

# type id -> size in bytes of one value
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_ENTRIES = 512
_MAX_VALUE = 4096


class TiffError(ValueError):
    """The bytes are not a readable TIFF structure."""


@dataclass(frozen=True)
class IfdEntry:
    """One IFD entry: its type, count and the raw value bytes (at most 4 KiB are kept)."""

    tag: int
    type: int
    count: int
    data: bytes
    byte_order: str

    def as_str(self) -> str:
        """ASCII/UNDEFINED value as text, NULs and padding stripped."""
        return self.data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()

    def as_int(self) -> int | None:
        """First value of an integer entry (BYTE, SHORT, LONG), else ``None``."""
        fmt = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}.get(self.type)
        if fmt is None or len(self.data) < struct.calcsize(fmt):
            return None
        value: int = struct.unpack_from(self.byte_order + fmt, self.data)[0]
        return value


def file_reader(fh: BinaryIO) -> ReadAt:
    """A ``read_at`` over an open binary file: seeks, reads only what is asked."""

    def read_at(offset: int, size: int) -> bytes:
        fh.seek(offset)
        return fh.read(size)

    return read_at


def bytes_reader(blob: bytes, base: int = 0) -> ReadAt:
    """A ``read_at`` over an in-memory blob; offsets are relative to ``base``."""

    def read_at(offset: int, size: int) -> bytes:
        start = base + offset
        if start < 0:
            return b""
        return blob[start : start + size]

    return read_at


def read_ifd(read_at: ReadAt, ifd_offset: int, byte_order: str) -> dict[int, IfdEntry]:
    """Entries of the IFD at ``ifd_offset``; ``byte_order`` is ``"<"`` or ``">"``.

    Raises :class:`TiffError` when the IFD header itself cannot be read; entries whose
    value lies outside the data are skipped.
    """
    head = read_at(ifd_offset, 2)
    if len(head) < 2:
        raise TiffError("IFD offset beyond end of data")
    (count,) = struct.unpack(byte_order + "H", head)
    if count == 0 or count > _MAX_ENTRIES:
        raise TiffError(f"implausible IFD entry count {count}")
    table = read_at(ifd_offset + 2, count * 12)
    entries: dict[int, IfdEntry] = {}
    for i in range(len(table) // 12):
        tag, typ, n, raw = struct.unpack_from(byte_order + "HHI4s", table, i * 12)
        size = _TYPE_SIZES.get(typ)
        if size is None:
            continue
        total = min(size * n, _MAX_VALUE)
        if size * n <= 4:
            data = raw[:total]
        else:
            (offset,) = struct.unpack(byte_order + "I", raw)
            data = read_at(offset, total)
            if len(data) < total:
                continue
        entries[tag] = IfdEntry(tag=tag, type=typ, count=n, data=data, byte_order=byte_order)
    return entries
