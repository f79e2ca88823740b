"""Interpret EXIF values, whichever library read them.

Pillow (JPEG, HEIC, AVIF, WebP, PNG, TIFF) and pyexiv2 (RAW, and files Pillow cannot open)
hand EXIF over in different shapes: Pillow as tag numbers with ``IFDRational`` values,
exiv2 as ``Exif.Group.Name`` keys with ``"52/1 12/1 3484/100"`` strings. Both are first
normalised into :class:`ExifTags` (tag name -> raw value), then one interpreter turns them
into dates, GPS and camera fields. Every conversion is defensive: a value that does not
parse is dropped with a warning, never an exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from PIL import Image

__all__ = [
    "ExifTags",
    "GpsFix",
    "TakenAt",
    "format_taken_at",
    "interpret_gps",
    "interpret_taken_at",
    "parse_datetime",
    "parse_offset",
    "tags_from_exiv2",
    "tags_from_pillow",
    "to_float",
    "to_int",
    "to_text",
]

ExifTags = dict[str, Any]
GpsFix = dict[str, float | None]
TakenAt = tuple[str, float | None]

_IFD0 = {0x010F: "Make", 0x0110: "Model", 0x0112: "Orientation", 0x0132: "DateTime"}
_EXIF_IFD = {
    0x9003: "DateTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal",
    0x9012: "OffsetTimeDigitized",
    0xA002: "PixelXDimension",
    0xA003: "PixelYDimension",
    0x927C: "MakerNote",
}
_GPS_IFD = {
    1: "GPSLatitudeRef",
    2: "GPSLatitude",
    3: "GPSLongitudeRef",
    4: "GPSLongitude",
    5: "GPSAltitudeRef",
    6: "GPSAltitude",
}
_EXIV2_GROUPS = ("Exif.Image.", "Exif.Photo.", "Exif.GPSInfo.")
_WANTED = set(_IFD0.values()) | set(_EXIF_IFD.values()) | set(_GPS_IFD.values())

_DATE_RE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def tags_from_pillow(exif: Image.Exif, warnings: list[str]) -> ExifTags:
    """Normalise a Pillow ``Exif`` (IFD0, Exif IFD and GPS IFD) into :class:`ExifTags`."""
    tags: ExifTags = {}
    for table, ifd_id in ((_IFD0, None), (_EXIF_IFD, 0x8769), (_GPS_IFD, 0x8825)):
        try:
            source: Mapping[int, Any] = exif if ifd_id is None else exif.get_ifd(ifd_id)
        except Exception as err:  # hostile IFD pointers: Pillow raises many kinds
            warnings.append(f"exif: cannot read IFD {ifd_id:#x}: {err}" if ifd_id else str(err))
            continue
        for tag, name in table.items():
            if tag in source:
                tags[name] = source[tag]
    return tags


def tags_from_exiv2(exif: Mapping[str, Any]) -> ExifTags:
    """Normalise pyexiv2's ``read_exif()`` dict into :class:`ExifTags`."""
    tags: ExifTags = {}
    for key, value in exif.items():
        for group in _EXIV2_GROUPS:
            if key.startswith(group) and key[len(group) :] in _WANTED:
                tags.setdefault(key[len(group) :], value)
    return tags


def to_text(value: Any) -> str | None:
    """A string field (Make, Model, dates) as clean text, ``None`` when empty."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None


def to_float(value: Any) -> float | None:
    """One number from a rational, tuple, ``"a/b"`` string, int or float; ``None`` if bad."""
    try:
        if isinstance(value, tuple) and len(value) == 2:
            result = float(value[0]) / float(value[1])
        elif isinstance(value, str):
            num, _, den = value.strip().partition("/")
            result = float(num) / float(den) if den else float(num)
        else:
            result = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def to_int(value: Any) -> int | None:
    """An integer field (orientation, dimensions) from any reader's representation."""
    if isinstance(value, bytes):
        value = value[0] if len(value) == 1 else None
    number = to_float(value)
    if number is None or number != int(number):
        return None
    return int(number)


def _to_floats(value: Any) -> list[float | None]:
    if isinstance(value, str):
        return [to_float(part) for part in value.split()]
    if isinstance(value, (tuple, list)):
        return [to_float(part) for part in value]
    return [to_float(value)]


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    parts = _to_floats(value)
    if not parts or any(p is None for p in parts) or len(parts) > 3:
        return None
    deg = 0.0
    for part, scale in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        deg += (part or 0.0) / scale
    if (to_text(ref) or "").upper().startswith(negative):
        deg = -deg
    return deg


def interpret_gps(tags: ExifTags, warnings: list[str]) -> GpsFix | None:
    """``{"lat", "lon", "alt"}`` from the GPS tags, or ``None`` when absent or invalid."""
    if "GPSLatitude" not in tags or "GPSLongitude" not in tags:
        return None
    lat = _degrees(tags["GPSLatitude"], tags.get("GPSLatitudeRef"), "S")
    lon = _degrees(tags["GPSLongitude"], tags.get("GPSLongitudeRef"), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        warnings.append("exif: GPS position present but unreadable or out of range")
        return None
    if lat == 0.0 and lon == 0.0:
        return None  # "null island": cameras write zeros when they have no fix
    alt = to_float(tags["GPSAltitude"]) if "GPSAltitude" in tags else None
    if alt is not None and to_int(tags.get("GPSAltitudeRef")) == 1:
        alt = -alt
    return {"lat": round(lat, 7), "lon": round(lon, 7), "alt": alt}


def parse_offset(value: Any) -> timezone | None:
    """An EXIF OffsetTime (``"+02:00"``) as a ``timezone``; ``None`` when absent or bad."""
    match = _OFFSET_RE.match(to_text(value) or "")
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def parse_datetime(value: Any) -> datetime | None:
    """``"YYYY:MM:DD HH:MM:SS"`` (also with dashes or a ``T``) as a naive datetime."""
    match = _DATE_RE.match(to_text(value) or "")
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        parsed = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return parsed if parsed.year >= 1800 else None


def format_taken_at(local: datetime, tz: timezone | None) -> TakenAt:
    """ISO 8601 local time (with offset when known) and epoch seconds when the offset is."""
    if tz is None:
        return local.isoformat(), None
    aware = local.replace(tzinfo=tz)
    return aware.isoformat(), aware.timestamp()


def interpret_taken_at(tags: ExifTags, warnings: list[str]) -> TakenAt | None:
    """Capture time from DateTimeOriginal, else DateTimeDigitized, else DateTime."""
    for date_tag, offset_tag in (
        ("DateTimeOriginal", "OffsetTimeOriginal"),
        ("DateTimeDigitized", "OffsetTimeDigitized"),
        ("DateTime", "OffsetTime"),
    ):
        if date_tag not in tags:
            continue
        local = parse_datetime(tags[date_tag])
        if local is None:
            warnings.append(f"exif: unreadable {date_tag} {to_text(tags[date_tag])!r}")
            continue
        return format_taken_at(local, parse_offset(tags.get(offset_tag)))
    return None
