"""Detect a file's media format from its content, never from its name.

Backups meet files whose extension lies (a ``.png`` holding a JPEG) or is missing. The
sniffer reads the first :data:`HEAD_SIZE` bytes, plus a few small seeks for TIFF-based
RAWs, and recognises magic numbers, ISO-BMFF ``ftyp`` brands (HEIC/AVIF/CR3/MP4/MOV/3GP),
RIFF (WebP/AVI), EBML (Matroska/WebM) and MPEG transport streams.

TIFF-family RAWs are told apart by content first: CR2 has ``CR`` at offset 8, ORF and RW2
have their own TIFF magic numbers, DNG has the DNGVersion tag (0xC612) in IFD0, and NEF,
ARW, PEF and SRW are recognised by the IFD0 ``Make`` of a file that looks like a RAW
(a reduced-resolution IFD0 or SubIFDs). Only when content cannot decide between a plain
TIFF and a TIFF-family RAW does the extension act as a last-resort tiebreak, and only
among TIFF-family RAW types: an extension never turns a non-TIFF file into anything.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import BinaryIO

from photoark.media._tiff import TiffError, file_reader, read_ifd
from photoark.media.formats import FORMATS, MediaFormat

__all__ = ["HEAD_SIZE", "sniff", "sniff_bytes", "sniff_content"]

HEAD_SIZE = 4096
"""Bytes read from the start of a file to decide its format."""

_TAG_MAKE = 0x010F
_TAG_NEW_SUBFILE_TYPE = 0x00FE
_TAG_SUB_IFDS = 0x014A
_TAG_DNG_VERSION = 0xC612

# Make prefix (upper-case) -> raw format, for TIFF files that look like a RAW.
_RAW_MAKES: tuple[tuple[str, str], ...] = (
    ("NIKON", "nef"),
    ("SONY", "arw"),
    ("PENTAX", "pef"),
    ("RICOH", "pef"),
    ("ASAHI", "pef"),
    ("SAMSUNG", "srw"),
    ("OLYMPUS", "orf"),
    ("PANASONIC", "rw2"),
    ("CANON", "cr2"),
)

# Extension tiebreak, TIFF-family RAW types only.
_TIFF_RAW_EXTENSIONS: dict[str, str] = {
    ".dng": "dng",
    ".cr2": "cr2",
    ".nef": "nef",
    ".nrw": "nef",
    ".arw": "arw",
    ".srf": "arw",
    ".sr2": "arw",
    ".pef": "pef",
    ".srw": "srw",
    ".orf": "orf",
    ".rw2": "rw2",
}

_BRANDS_AVIF = {b"avif", b"avis"}
_BRANDS_HEIC = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_BRANDS_HEIF = {b"mif1", b"msf1", b"mif2"}
_BRANDS_M4V = {b"M4V ", b"M4VH", b"M4VP"}
_BRANDS_MP4 = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"dash", b"mmp4", b"MSNV", b"f4v ", b"XAVC", b"NDAS", b"mp71", b"MP4 ", b"hvc1",
}  # fmt: skip
_QT_FIRST_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"

_RIFF_TYPES = {b"WEBP": "webp", b"AVI ": "avi"}

# (offset, magic bytes, format name), checked in order.
_MAGICS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"GIF87a", "gif"),
    (0, b"GIF89a", "gif"),
    (0, b"\xff\x0a", "jxl"),
    (0, _JXL_CONTAINER, "jxl"),
    (0, b"FUJIFILMCCD-RAW", "raf"),
    (0, b"II\x1a\x00\x00\x00HEAPCCDR", "crw"),
    (0, b"II*\x00", "tiff"),
    (0, b"MM\x00*", "tiff"),
    (0, b"IIRO", "orf"),
    (0, b"IIRS", "orf"),
    (0, b"MMOR", "orf"),
    (0, b"IIU\x00", "rw2"),
)


def sniff(path: str | os.PathLike[str]) -> MediaFormat | None:
    """The media format of the file at ``path`` by content, or ``None`` if not media.

    Reads at most a few KiB. ``OSError`` (missing file, permission) propagates: that is a
    problem of the file system, not of the file's content.
    """
    p = Path(path)
    with p.open("rb") as fh:
        head = fh.read(HEAD_SIZE)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _sniff_tiff(fh, head, p.suffix.lower())
    return sniff_bytes(head)


def sniff_content(data: bytes, suffix: str = "") -> MediaFormat | None:
    """Like :func:`sniff` for a whole file already in memory (TIFF-based RAWs included);
    ``suffix`` is the file's extension, as :func:`sniff` uses it for TIFF RAWs."""
    head = data[:HEAD_SIZE]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _sniff_tiff(io.BytesIO(data), head, suffix.lower())
    return sniff_bytes(head)


def sniff_bytes(head: bytes) -> MediaFormat | None:
    """Like :func:`sniff` for the first bytes of a file (TIFF RAWs need :func:`sniff`)."""
    name = _sniff_name(head)
    return FORMATS[name] if name else None


def _sniff_name(head: bytes) -> str | None:
    if head[:4] == b"RIFF":
        return _RIFF_TYPES.get(head[8:12])
    for offset, magic, name in _MAGICS:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if _is_bmp(head):
        return "bmp"
    if _is_transport_stream(head):
        return "mts"
    if len(head) >= 8 and head[4:8] in _QT_FIRST_ATOMS:
        (size,) = struct.unpack(">I", head[:4])
        if size in (0, 1) or size >= 8:
            return "mov"
    return None


def _sniff_ftyp(head: bytes) -> str | None:
    (size,) = struct.unpack(">I", head[:4])
    size = min(max(size, 16), len(head))
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, size - 3, 4)}
    if major == b"crx ":
        return "cr3"
    if major == b"qt  ":
        return "mov"
    if brands & _BRANDS_AVIF:
        return "avif"
    if brands & _BRANDS_HEIC:
        return "heic"
    if brands & _BRANDS_HEIF:
        return "heif"
    if b"jxl " in brands:
        return "jxl"
    if major in _BRANDS_M4V:
        return "m4v"
    if major.startswith((b"3gp", b"3g2")):
        return "3gp"
    if brands & _BRANDS_MP4 or brands & _BRANDS_M4V:
        return "mp4"
    if b"qt  " in brands:
        return "mov"
    return None


def _is_bmp(head: bytes) -> bool:
    if len(head) < 18 or head[:2] != b"BM":
        return False
    (dib_size,) = struct.unpack_from("<I", head, 14)
    return head[6:10] == b"\0\0\0\0" and dib_size in (12, 40, 52, 56, 64, 108, 124)


def _is_transport_stream(head: bytes) -> bool:
    """MPEG-TS (188-byte packets) or M2TS/AVCHD ``.mts`` (192-byte, 4-byte prefix)."""
    for start, stride in ((0, 188), (4, 192)):
        offsets = range(start, len(head), stride)
        if len(offsets) >= 4 and all(head[o] == 0x47 for o in offsets):
            return True
    return False


def _sniff_tiff(fh: BinaryIO, head: bytes, suffix: str) -> MediaFormat:
    if head[8:10] == b"CR":
        return FORMATS["cr2"]
    order = "<" if head[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(order + "I", head[4:8])
    try:
        entries = read_ifd(file_reader(fh), ifd0, order)
    except TiffError:
        entries = {}
    if _TAG_DNG_VERSION in entries:
        return FORMATS["dng"]
    subfile = entries.get(_TAG_NEW_SUBFILE_TYPE)
    looks_raw = _TAG_SUB_IFDS in entries or (subfile is not None and subfile.as_int() == 1)
    make = entries.get(_TAG_MAKE)
    if looks_raw and make is not None:
        upper = make.as_str().upper()
        for prefix, name in _RAW_MAKES:
            if upper.startswith(prefix):
                return FORMATS[name]
    # Last resort: the extension, and only to pick among TIFF-family RAW types.
    return FORMATS[_TIFF_RAW_EXTENSIONS.get(suffix, "tiff")]
