"""A JPEG's frame size, EXIF and XMP read straight from its header bytes, as Pillow reads them.

Reading a small photo's metadata through ``Image.open`` was the largest Python cost of a
first backup of small photos after reading the files (0.2 of ~1 ms per file, on the one
interpreter lock every worker shares): Pillow walks the header a byte at a time through a
file object and parses every quantisation table into lists. :func:`read_jpeg_header` walks the
same segments by index and keeps only what :mod:`.images` needs; :func:`exif_of` then loads the
EXIF with Pillow's own ``Image.Exif`` (and its XMP orientation fallback, as
``Image.getexif`` does), so the tags are Pillow's.

The walk takes only headers Pillow opens without a doubt, and answers ``None`` for anything
else (junk between segments, a marker Pillow does not know or handles differently, a short
segment Pillow would fail on, a multi-picture MPO index, a frame that is not 8-bit L/RGB/CMYK,
no scan, a picture over Pillow's pixel limit): the caller then opens the file with Pillow,
which decides as it always did. ``tests/media/test_jpeg_header.py`` checks that both ways give
the same metadata for every JPEG of the corpus and for headers mutated byte by byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

__all__ = ["JpegHeader", "exif_of", "read_jpeg_header"]

_SOF = {0xC0, 0xC1, 0xC2}  # baseline, extended, progressive Huffman: what cameras write
_SKIPPED = {0xC4, 0xDD}  # DHT, DRI: Pillow skips them
_DQT, _SOS, _COM = 0xDB, 0xDA, 0xFE
_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_ORIENTATION = 0x0112
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


@dataclass(frozen=True)
class JpegHeader:
    """What Pillow's ``JpegImageFile`` would report: ``size`` of the (only) frame, ``exif`` (the
    first EXIF APP1 segment, later ones appended without their ``Exif`` prefix) and ``xmp``
    (the last XMP packet), ``None`` when absent."""

    width: int
    height: int
    exif: bytes | None
    xmp: bytes | None


def read_jpeg_header(data: bytes) -> JpegHeader | None:
    """The header of the JPEG ``data``, or ``None`` when Pillow must be asked (see module)."""
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    size = len(data)
    pos = 2
    frame: tuple[int, int] | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    while True:
        if pos >= size or data[pos] != 0xFF:
            return None  # Pillow skips junk here: let it
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos + 2 >= size:
            return None
        marker = data[pos]
        length = (data[pos + 1] << 8) | data[pos + 2]
        start, end = pos + 3, pos + 1 + length
        if length < 2 or end > size:
            return None  # Pillow reads short segments its own way, or fails on them
        if marker == _SOS:
            if frame is None:
                return None
            break
        body = data[start:end]
        if marker in _SOF:
            if frame is not None or len(body) < 6 or body[0] != 8 or body[5] not in (1, 3, 4):
                return None
            frame = ((body[3] << 8) | body[4], (body[1] << 8) | body[2])
        elif marker == _DQT:
            if not _tables_fit(body):
                return None  # Pillow: "bad quantization table marker"
        elif 0xE0 <= marker <= 0xEF:
            if not _app_opens(marker, body):
                return None
            if marker == 0xE1 and body.startswith(_EXIF):
                exif = body if exif is None else exif + body[6:]
            elif marker == 0xE1 and body.startswith(_XMP):
                xmp = body.split(b"\x00", 1)[1]
        elif marker not in _SKIPPED and marker != _COM:
            return None
        pos = end
    width, height = frame
    limit = Image.MAX_IMAGE_PIXELS
    if width <= 0 or height <= 0 or (limit is not None and width * height > limit):
        return None
    return JpegHeader(width, height, exif, xmp)


def exif_of(header: JpegHeader) -> Image.Exif | None:
    """The EXIF as ``Image.getexif()`` gives it for this JPEG (the XMP ``tiff:Orientation``
    standing in for a missing EXIF orientation), or ``None`` when loading it raises: Pillow
    then decides (it swallows some of those errors while opening, not others)."""
    exif = Image.Exif()
    if header.exif is not None:
        try:
            exif.load(header.exif)
        except Exception:
            return None
    if _ORIENTATION not in exif and header.xmp:
        match = _XMP_ORIENTATION.search(header.xmp)
        if match:
            exif[_ORIENTATION] = int(match[2])
    return exif


def _tables_fit(body: bytes) -> bool:
    """Whether each quantisation table of a DQT segment is whole (Pillow's check)."""
    pos = 0
    while pos < len(body):
        precision = 1 if body[pos] // 16 == 0 else 2
        pos += 1 + precision * 64
        if pos > len(body):
            return False
    return True


def _app_opens(marker: int, body: bytes) -> bool:
    """Whether Pillow's APPn handler takes ``body`` without failing, and the picture stays a
    plain JPEG (no MPO index)."""
    if marker == 0xE0 and body.startswith(b"JFIF"):
        return len(body) >= 7  # the version is read unguarded
    if marker == 0xEE and body.startswith(b"Adobe"):
        return len(body) >= 7
    if marker == 0xE2 and body.startswith(b"ICC_PROFILE\x00"):
        return len(body) >= 14  # its chunk count is read unguarded at the frame
    return not (marker == 0xE2 and body.startswith(b"MPF\x00"))
