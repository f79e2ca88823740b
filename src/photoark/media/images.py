"""Metadata of still images: Pillow first, exiv2 and LibRaw for what Pillow cannot read.

* Pillow (with pillow-heif for HEIC) reads EXIF, XMP and dimensions of JPEG, PNG, GIF,
  WebP, TIFF, BMP, HEIC and AVIF without decoding pixels.
* pyexiv2 reads the EXIF of RAW files (CR2, NEF, DNG, ...) and is the fallback when Pillow
  cannot open a file (JPEG XL, metadata-only stubs, images above Pillow's pixel limit).
* rawpy (LibRaw) gives a RAW's pixel dimensions.

A small file the caller already holds in memory (read once to hash it) is parsed from those
bytes (``data``): Pillow, the Samsung trailer and the HEIF box walks read nothing again, and
the result is the same as from the path. exiv2 and LibRaw, the rare fallbacks, read the path.
A JPEG held in memory has its header read by :mod:`.jpeg_header` instead of ``Image.open``
(the same size, tags and XMP, at a third of the cost); Pillow opens those it doubts.

HEIC note: pillow-heif applies the container's rotation (``irot``/``imir``) while decoding
and reports the *displayed* size, keeping the EXIF value as ``original_orientation``. When
the file has such transforms, the size is swapped back for orientations 5..8 so
``width``/``height`` always mean "before orientation", as for JPEG.
"""

from __future__ import annotations

import io
import warnings as pywarnings
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from photoark.media import markers
from photoark.media._bmff import heif_has_transform
from photoark.media._heif import ensure_heif_registered
from photoark.media.exif import (
    ExifTags,
    interpret_gps,
    interpret_taken_at,
    tags_from_exiv2,
    tags_from_pillow,
    to_int,
    to_text,
)
from photoark.media.formats import MediaFormat
from photoark.media.jpeg_header import exif_of, read_jpeg_header
from photoark.media.metadata import MediaMetadata

__all__ = ["read_image_metadata"]

_XMP_INFO_KEYS = ("xmp", "XML:com.adobe.xmp")
_ISO_BMFF = {"heic", "heif", "avif", "cr3"}


def read_image_metadata(
    path: Path, fmt: MediaFormat, meta: MediaMetadata, data: bytes | None = None
) -> None:
    """Fill ``meta`` from the image at ``path``; problems become ``meta.warnings``. ``data``:
    the file's whole content, when the caller has it (then parsed from there)."""
    source: Path | bytes = path if data is None else data
    tags: ExifTags = {}
    xmp: bytes | str | None = None
    pillow_ok = False
    if not fmt.raw:
        pillow_ok, xmp = _read_pillow(path, source, meta, tags)
    if fmt.raw or not pillow_ok:
        _read_exiv2(path, meta, tags)
    if fmt.raw:
        _read_raw_size(path, meta)
    _apply_tags(tags, meta)
    meta.motion_photo = _is_motion_photo(source, fmt, xmp)


def _read_pillow(
    path: Path, source: Path | bytes, meta: MediaMetadata, tags: ExifTags
) -> tuple[bool, Any]:
    if isinstance(source, bytes):
        read = _read_jpeg_header(source, meta, tags)
        if read is not None:
            return read
    ensure_heif_registered()
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else path) as im:
                width, height = im.size
                tags.update(tags_from_pillow(im.getexif(), meta.warnings))
                original = im.info.get("original_orientation")
                xmp = next((im.info[k] for k in _XMP_INFO_KEYS if im.info.get(k)), None)
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        if isinstance(err, UnidentifiedImageError) and isinstance(source, bytes):
            # Pillow names what it could not identify: the file, not the bytes read from it
            err = UnidentifiedImageError(f"cannot identify image file {str(path)!r}")
        meta.warnings.append(f"pillow: {err}")
        return False, None
    except Exception as err:  # corrupt headers raise anything from struct to SyntaxError
        meta.warnings.append(f"pillow: {type(err).__name__}: {err}")
        return False, None
    if isinstance(original, int) and 1 <= original <= 8:
        tags["Orientation"] = original
        if original >= 5 and heif_has_transform(source):
            width, height = height, width
    meta.width, meta.height = width, height
    return True, xmp


def _read_jpeg_header(
    source: bytes, meta: MediaMetadata, tags: ExifTags
) -> tuple[bool, Any] | None:
    """:func:`_read_pillow`'s result for a JPEG whose header :mod:`.jpeg_header` reads, or
    ``None`` (then Pillow opens it): nothing is recorded unless all of it was read."""
    header = read_jpeg_header(source)
    if header is None:
        return None
    warnings: list[str] = []
    with pywarnings.catch_warnings():  # as around Image.open: Pillow warns of bad tags
        pywarnings.simplefilter("ignore")
        exif = exif_of(header)
        if exif is None:
            return None
        try:
            found = tags_from_pillow(exif, warnings)
        except Exception:  # as inside Image.open: Pillow decides what to make of it
            return None
    tags.update(found)
    meta.warnings.extend(warnings)
    meta.width, meta.height = header.width, header.height
    return True, header.xmp or None


def _read_exiv2(path: Path, meta: MediaMetadata, tags: ExifTags) -> None:
    try:
        import pyexiv2
    except ImportError:  # pragma: no cover - optional in principle
        meta.warnings.append("exiv2: pyexiv2 unavailable")
        return
    pyexiv2.set_log_level(4)  # mute: failures are reported through the exception
    try:
        with pyexiv2.Image(str(path)) as img:
            exif = img.read_exif()
    except Exception as err:
        meta.warnings.append(f"exiv2: {str(err).strip()}")
        return
    for key, value in tags_from_exiv2(exif).items():
        tags.setdefault(key, value)
    if meta.width is None:
        meta.width = to_int(exif.get("Exif.Photo.PixelXDimension"))
        meta.height = to_int(exif.get("Exif.Photo.PixelYDimension"))


def _read_raw_size(path: Path, meta: MediaMetadata) -> None:
    try:
        import rawpy

        with rawpy.imread(str(path)) as raw:
            meta.width, meta.height = int(raw.sizes.width), int(raw.sizes.height)
    except Exception as err:
        meta.warnings.append(f"libraw: {type(err).__name__}: {err}")


def _apply_tags(tags: ExifTags, meta: MediaMetadata) -> None:
    meta.make = to_text(tags.get("Make"))
    meta.model = to_text(tags.get("Model"))
    orientation = to_int(tags.get("Orientation"))
    if orientation is not None and 1 <= orientation <= 8:
        meta.orientation = orientation
    elif orientation:  # 0 means "unset" to many writers: not worth a warning
        meta.warnings.append(f"exif: invalid orientation {orientation}")
    taken = interpret_taken_at(tags, meta.warnings)
    if taken is not None:
        meta.taken_at, meta.taken_at_utc = taken
    meta.gps = interpret_gps(tags, meta.warnings)
    note = tags.get("MakerNote")
    if isinstance(note, bytes):
        meta.content_identifier = markers.apple_content_identifier(note)
    if meta.width is None:
        meta.width = to_int(tags.get("PixelXDimension"))
        meta.height = to_int(tags.get("PixelYDimension"))


def _is_motion_photo(source: Path | bytes, fmt: MediaFormat, xmp: bytes | str | None) -> bool:
    if markers.xmp_says_motion_photo(xmp):
        return True
    if "MotionPhoto_Data" in markers.samsung_trailer_names(source):
        return True
    return fmt.name in _ISO_BMFF and markers.has_mpvd_box(source)
