"""A small JPEG as its own thumbnail: its metadata removed, its compressed picture untouched.

Decoding and re-encoding a JPEG that is already thumbnail-sized costs ~3 ms (and ~10 ms more
when it is a little over the size); most of a many-small-photos backup's thumbnail phase. A
JPEG that would come out of that round trip as the same picture at about the same size is
used as it is instead, once :func:`passthrough_thumbnail` has checked that it is:

* small: its long side at most the thumbnail's (nothing to shrink);
* upright: no EXIF orientation, or 1 (the thumbnail has no EXIF to rotate it by);
* plain: one 8-bit baseline or progressive Huffman frame (SOF0/1/2) of 1 or 3 components
  (Pillow mode L or RGB: not CMYK/YCCK), no multi-picture (MPO) index, nothing after its end
  marker (no appended second picture, motion-photo video or trailer);
* compressed about as hard as the thumbnail: its luma quantisation table at least as coarse
  as the IJG table at :data:`PASSTHROUGH_MAX_QUALITY` and at most
  :data:`PASSTHROUGH_MAX_BYTES_PER_PIXEL` once stripped, so it is not much larger than the
  quality-80 re-encode would be;
* decodable: every table and scan header is one libjpeg takes (:mod:`.jpeg_tables`), so the
  thumbnail decodes wherever it is shown; damage inside the entropy-coded data is only a
  warning to libjpeg, which decodes it as it would decode the original. These checks replaced
  a 1/8-scale decode of the stripped bytes, which was 70 % of this path's cost (1.0 of
  1.4 ms per 100 KB photo) and refused nothing more (``tests/media/test_jpeg_tables.py``
  mutates headers byte by byte: whatever passes decodes).

Any doubt (a marker the walk does not know, an unreadable EXIF block, a Pillow error) gives
``None``: the caller renders the thumbnail the normal way.

What the thumbnail keeps: SOI, DQT, DHT, DRI, the frame header, every scan byte for byte (SOS
and its entropy-coded data), EOI; a JFIF APP0 rewritten without its embedded preview; an Adobe
APP14 (its colour-transform flag tells a decoder whether three components are YCbCr or RGB).
Every other APPn (EXIF with GPS, XMP, ICC profiles, MPF, Photoshop IRB) and every COM is
dropped, including those between the scans of a progressive JPEG. Decoding the result gives
the same pixels as decoding the original; the ICC profile goes, as it does from a re-encoded
thumbnail.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from photoark.media.jpeg_header import exif_of, read_jpeg_header
from photoark.media.jpeg_tables import TableCheck

__all__ = [
    "PASSTHROUGH_MAX_BYTES_PER_PIXEL",
    "PASSTHROUGH_MAX_QUALITY",
    "StrippedJpeg",
    "ijg_luma_sum",
    "passthrough_thumbnail",
    "strip_metadata",
]

PASSTHROUGH_MAX_QUALITY = 85
"""The finest compression passed through, as the IJG quality of an equally coarse luma table.
Re-saved at quality 75/80/85 (4:2:0), 60 corpus photos came out at 0.87-0.89, 1.00 and
1.10-1.15x the size of their quality-80 re-encode; at 90 and 95, 1.34-1.41 and 1.8-3.1x."""

PASSTHROUGH_MAX_BYTES_PER_PIXEL = 0.5
"""The largest stripped JPEG passed through, per pixel (4 bits/px: 194 KB at 720x540). The
quality-80 thumbnails of the corpus' 210 pictures (over 0.1 MP) measured 0.22 B/px median,
0.41 at the 99th percentile, 0.51 at most; noisy 560-720 px camera-like pictures 0.35. With
the quality bound above, this only refuses the unusual: 4:4:4 noise, padding, junk."""

_METADATA_ALLOWANCE = 256 * 1024
"""Bytes of metadata a passed-through file may carry on top of its picture (EXIF is at most
64 KiB, XMP and ICC profiles rarely more); a larger file is not even read."""

_SOI = b"\xff\xd8"
_EOI = 0xD9
_SOS = 0xDA
_FRAMES = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended sequential, progressive (Huffman)
_DHT = 0xC4
_DQT = 0xDB
_TABLES = frozenset({_DHT, _DQT, 0xDD})  # DHT, DQT, DRI
_JFIF = 0xE0
_ADOBE = 0xEE
_COM = 0xFE
_JFIF_HEADER_LENGTH = 14  # "JFIF\0", version, units, densities: up to the preview's size
_ADOBE_LENGTH = 12  # "Adobe", version, flags0, flags1, transform
# the end of a scan's entropy-coded data: a marker, i.e. 0xFF (after any fill bytes) followed
# by neither a stuffed 0x00 nor a restart marker RST0-7 (spelt with a literal first byte, which
# lets the regex engine skip to each 0xFF: 30x faster than ``\xff+``)
_SCAN_END = re.compile(rb"\xff\xff*[^\x00\xd0-\xd7\xff]")
# fmt: off
_IJG_LUMA = (  # libjpeg's luma table at quality 50 (JPEG standard, Annex K)
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)
# fmt: on


@dataclass(frozen=True)
class StrippedJpeg:
    """A JPEG without its metadata segments, and its frame header's figures."""

    data: bytes
    width: int
    height: int
    components: int
    luma_sum: int | None = None  # quantisation table 0's sum, as defined before the first scan


def passthrough_thumbnail(path: Path, max_px: int) -> bytes | None:
    """The JPEG at ``path`` without its metadata when it can be its own thumbnail, else ``None``.

    Never raises for the file's content or an unreadable file (``None``: render normally).
    """
    limit = int(PASSTHROUGH_MAX_BYTES_PER_PIXEL * max_px * max_px) + _METADATA_ALLOWANCE
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    stripped = strip_metadata(data)
    if stripped is None or max(stripped.width, stripped.height) > max_px:
        return None
    if len(stripped.data) > PASSTHROUGH_MAX_BYTES_PER_PIXEL * stripped.width * stripped.height:
        return None
    if not _upright_and_coarse(data, stripped.luma_sum):
        return None
    return stripped.data


def strip_metadata(data: bytes) -> StrippedJpeg | None:
    """``data`` (a whole JPEG) with only what decoding needs, or ``None`` when it is not a
    single plain 8-bit baseline/progressive picture of 1 or 3 components ending at its EOI,
    or when libjpeg would refuse one of its tables or scan headers (:mod:`.jpeg_tables`)."""
    if not data.startswith(_SOI):
        return None
    out = [_SOI]
    frame: tuple[int, int, int] | None = None
    scans = 0
    luma_sum: int | None = None
    jfif = False
    tables = TableCheck()
    pos, size = 2, len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            return None
        while pos < size and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= size:
            return None
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            if frame is None or scans == 0 or pos != size:
                return None  # no picture, or something after it (MPO, trailer, video)
            out.append(b"\xff\xd9")
            return StrippedJpeg(b"".join(out), *frame, luma_sum)
        end = pos + int.from_bytes(data[pos : pos + 2], "big")
        if end < pos + 2 or end > size:
            return None
        body = data[pos + 2 : end]
        if marker == _SOS:
            scan_end = _SCAN_END.search(data, end)
            if frame is None or scan_end is None or not tables.scan(body):
                return None
            out.append(b"\xff\xda" + data[pos : scan_end.start()])  # header + entropy-coded data
            if scans == 0:  # Pillow reads the tables up to the first scan
                luma_sum = tables.quant.get(0)
            scans += 1
            pos = scan_end.start()
            continue
        if marker in _FRAMES:
            if frame is not None:
                return None
            frame = _frame(body)
            if frame is None or not tables.frame(marker, body):
                return None
            out.append(data[pos - 2 : end])
        elif marker in _TABLES:
            if marker == _DHT and not tables.huffman_tables(body):
                return None
            if marker == _DQT and not tables.quant_tables(body):
                return None
            out.append(data[pos - 2 : end])
        elif marker == _JFIF and not jfif and body.startswith(b"JFIF\x00"):
            if len(body) < _JFIF_HEADER_LENGTH:
                return None
            jfif = True
            header = body[: _JFIF_HEADER_LENGTH - 2] + b"\x00\x00"  # no embedded preview
            out.append(b"\xff\xe0" + (len(header) + 2).to_bytes(2, "big") + header)
        elif marker == _ADOBE and body.startswith(b"Adobe"):
            if len(body) != _ADOBE_LENGTH:
                return None
            out.append(data[pos - 2 : end])
        elif marker == 0xE2 and body.startswith(b"MPF\x00"):
            return None  # a multi-picture file (MPO): not a single picture
        elif not (0xE0 <= marker <= 0xEF or marker == _COM):
            return None  # arithmetic coding, lossless, hierarchical, DNL, JPEG extensions...
        pos = end


def _frame(body: bytes) -> tuple[int, int, int] | None:
    """Width, height and component count of an 8-bit frame of 1 or 3 components."""
    if len(body) < 6:
        return None
    precision, height, width, components = (
        body[0],
        int.from_bytes(body[1:3], "big"),
        int.from_bytes(body[3:5], "big"),
        body[5],
    )
    if precision != 8 or components not in (1, 3) or len(body) != 6 + 3 * components:
        return None
    if width == 0 or height == 0:  # height 0: defined later by a DNL marker
        return None
    return width, height, components


def ijg_luma_sum(quality: int) -> int:
    """The sum of libjpeg's luma quantisation table at ``quality`` (1-100): a table with a
    sum at least this is at least as coarse, by the usual rough measure."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return sum(min(255, max(1, (v * scale + 50) // 100)) for v in _IJG_LUMA)


_COARSE_ENOUGH = ijg_luma_sum(PASSTHROUGH_MAX_QUALITY)


def _upright_and_coarse(data: bytes, luma_sum: int | None) -> bool:
    """Upright (EXIF orientation none or 1), its luma table coarse enough. ``data`` was walked
    by :func:`strip_metadata` (one RGB/L picture, no MPO index); ``luma_sum`` is from that walk.
    The orientation is Pillow's EXIF as :mod:`.jpeg_header` reads it, or Pillow's own where
    that walk steps aside."""
    header = read_jpeg_header(data)
    exif = None if header is None else exif_of(header)
    try:
        orientation = None if exif is None else exif.get(0x0112)
    except Exception:  # a tag Pillow decodes only when asked, and cannot: Pillow decides
        exif = None
    if exif is None:
        return _upright_and_coarse_by_pillow(data)
    upright = orientation in (None, 1)
    return upright and luma_sum is not None and luma_sum >= _COARSE_ENOUGH


def _upright_and_coarse_by_pillow(data: bytes) -> bool:
    """Pillow reads it as a single RGB/L JPEG, upright, its luma table coarse enough."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "JPEG" or im.mode not in ("RGB", "L"):
                return False
            orientation = im.getexif().get(0x0112)
            luma = getattr(im, "quantization", {}).get(0)  # JpegImageFile's tables
    except Exception:  # an EXIF or header Pillow cannot read: the normal path decides
        return False
    return orientation in (None, 1) and luma is not None and sum(luma) >= _COARSE_ENOUGH
