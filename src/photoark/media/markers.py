"""Markers that tie a still to a video: Apple Live Photos and Google/Samsung motion photos.

* Apple writes a ``ContentIdentifier`` (maker-note tag 0x11) into the still of a Live Photo
  and the same UUID as ``com.apple.quicktime.content.identifier`` into its MOV; the client
  pairs the two on it. The maker note is ``"Apple iOS\\0"``, a version, a byte-order mark and
  an IFD whose offsets count from the start of the note.
* Google and Samsung embed the video in the still. Google says so in XMP
  (``GCamera:MotionPhoto="1"``, the older ``GCamera:MicroVideo``, or a container item whose
  semantic is ``MotionPhoto``); Samsung appends a ``MotionPhoto_Data`` block listed in the
  SEF trailer at the end of the file, and its HEICs carry a top-level ``mpvd`` box.

Reads are bounded: the SEF trailer is a few hundred bytes at the end of the file, and the
top-level box walk reads 16 bytes per box. Both take the file's path, or its content when
the caller holds it in memory already (then nothing is read again).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import BinaryIO

from photoark.media._bmff import opened, top_level_box_exists
from photoark.media._tiff import TiffError, bytes_reader, read_ifd

__all__ = [
    "apple_content_identifier",
    "has_mpvd_box",
    "samsung_trailer_names",
    "xmp_says_motion_photo",
]

_APPLE_HEADER = b"Apple iOS\x00"
_APPLE_CONTENT_IDENTIFIER = 0x0011
_XMP_MOTION = re.compile(
    rb"(GCamera:MotionPhoto\s*=\s*[\"']1|<GCamera:MotionPhoto>\s*1"
    rb"|GCamera:MicroVideo\s*=\s*[\"']1|<GCamera:MicroVideo>\s*1"
    rb"|Semantic\s*=\s*[\"']MotionPhoto)"
)
_SEF_MAX = 64 * 1024


def apple_content_identifier(maker_note: bytes) -> str | None:
    """The Live Photo ContentIdentifier in an Apple maker note, else ``None``."""
    if not maker_note.startswith(_APPLE_HEADER) or len(maker_note) < 16:
        return None
    order = ">" if maker_note[12:14] == b"MM" else "<"
    try:
        entries = read_ifd(bytes_reader(maker_note), 14, order)
    except TiffError:
        return None
    entry = entries.get(_APPLE_CONTENT_IDENTIFIER)
    if entry is None or entry.type != 2:
        return None
    return entry.as_str() or None


def xmp_says_motion_photo(xmp: bytes | str | None) -> bool:
    """Whether an XMP packet declares a Google-style motion photo."""
    if not xmp:
        return False
    data = xmp.encode("utf-8", "replace") if isinstance(xmp, str) else xmp
    return _XMP_MOTION.search(data) is not None


def samsung_trailer_names(source: Path | bytes) -> list[str]:
    """Names of the blocks listed in a Samsung SEF trailer (``[]`` when there is none) of
    the file at ``source``, or of ``source`` itself when it is the file's content."""
    try:
        with opened(source) as fh:
            return _sef_names(fh)
    except OSError:
        return []


def _sef_names(fh: BinaryIO) -> list[str]:
    size = fh.seek(0, 2)
    if size < 16:
        return []
    fh.seek(size - 8)
    tail = fh.read(8)
    if tail[4:] != b"SEFT":
        return []
    (dir_size,) = struct.unpack("<I", tail[:4])
    dir_start = size - 8 - dir_size
    if dir_size < 12 or dir_size > _SEF_MAX or dir_start < 0:
        return []
    fh.seek(dir_start)
    directory = fh.read(dir_size)
    if directory[:4] != b"SEFH":
        return []
    (count,) = struct.unpack_from("<I", directory, 8)
    names: list[str] = []
    for i in range(min(count, (dir_size - 12) // 12)):
        _, offset, _length = struct.unpack_from("<III", directory, 12 + i * 12)
        block = dir_start - offset
        if block < 0:
            continue
        fh.seek(block)
        head = fh.read(8)
        if len(head) < 8:
            continue
        (name_len,) = struct.unpack_from("<I", head, 4)
        if 0 < name_len <= 256:
            names.append(fh.read(name_len).decode("latin-1"))
    return names


def has_mpvd_box(source: Path | bytes) -> bool:
    """Whether an ISO-BMFF file (its path or its content) has a top-level ``mpvd`` box
    (Samsung motion HEIC)."""
    return top_level_box_exists(source, b"mpvd")
