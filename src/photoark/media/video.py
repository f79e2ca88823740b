"""Metadata of videos through pymediainfo (libmediainfo, bundled in its wheel).

libmediainfo reads the container headers with bounded, seeking reads, so a multi-GB video
is never loaded into memory. From the general track: the capture time (Apple's
``com.apple.quicktime.creationdate`` keeps local time and offset; otherwise the container's
``encoded_date``, which is UTC), the duration, the position (ISO 6709, from QuickTime
``©xyz`` or ``com.apple.quicktime.location.ISO6709``), make/model and Apple's Live Photo
``content.identifier``; from the first video track: the stored width/height and the
rotation matrix, mapped to an EXIF orientation (90° -> 6, 180° -> 3, 270° -> 8).

When libmediainfo is unavailable, :mod:`photoark.media.mp4` reads ``mvhd`` directly so
time and duration still work for MP4/MOV.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from photoark.media.exif import to_float, to_int, to_text
from photoark.media.formats import MediaFormat
from photoark.media.metadata import MediaMetadata

__all__ = ["parse_iso6709", "read_video_metadata"]

_ROTATION_TO_ORIENTATION = {0: 1, 90: 6, 180: 3, 270: 8}
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)?")
_MIN_YEAR = 1971  # an unset QuickTime time is 1904-01-01; 1970 is an unset Unix time


def read_video_metadata(path: Path, fmt: MediaFormat, meta: MediaMetadata) -> None:
    """Fill ``meta`` from the video at ``path``; problems become ``meta.warnings``."""
    general, track = _mediainfo_tracks(path, meta)
    if general is None:
        from photoark.media import mp4

        if fmt.name in {"mp4", "mov", "m4v", "3gp"}:
            mp4.read_mvhd(path, meta)
        return
    _apply_general(general, meta)
    if track is not None:
        meta.width = to_int(track.get("width"))
        meta.height = to_int(track.get("height"))
        rotation = to_float(track.get("rotation"))
        if rotation is not None:
            meta.orientation = _ROTATION_TO_ORIENTATION.get(int(rotation) % 360)


def _mediainfo_tracks(
    path: Path, meta: MediaMetadata
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    try:
        from pymediainfo import MediaInfo

        if not MediaInfo.can_parse():
            meta.warnings.append("mediainfo: libmediainfo unavailable")
            return None, None
        info = MediaInfo.parse(str(path))
    except Exception as err:
        meta.warnings.append(f"mediainfo: {type(err).__name__}: {err}")
        return None, None
    general = next((t.to_data() for t in info.tracks if t.track_type == "General"), None)
    track = next((t.to_data() for t in info.tracks if t.track_type == "Video"), None)
    return general, track


def _apply_general(general: dict[str, Any], meta: MediaMetadata) -> None:
    duration_ms = to_float(general.get("duration"))
    if duration_ms is not None:
        meta.duration = round(duration_ms / 1000.0, 3)
    meta.make = to_text(general.get("comapplequicktimemake")) or to_text(general.get("make"))
    meta.model = to_text(general.get("comapplequicktimemodel")) or to_text(general.get("model"))
    meta.content_identifier = to_text(general.get("comapplequicktimecontentidentifier"))
    when = _creation_time(general)
    if when is not None:
        meta.taken_at, meta.taken_at_utc = when.isoformat(), when.timestamp()
    position = to_text(general.get("comapplequicktimelocationiso6709")) or to_text(
        general.get("xyz")
    )
    if position:
        meta.gps = parse_iso6709(position)
        if meta.gps is None:
            meta.warnings.append(f"video: unreadable ISO 6709 position {position!r}")


def _creation_time(general: dict[str, Any]) -> datetime | None:
    """Apple's local creation date if present, else the container's UTC dates."""
    local = _parse_date(to_text(general.get("comapplequicktimecreationdate")))
    if local is not None and local.tzinfo is not None:
        return local
    for key in ("encoded_date", "tagged_date", "recorded_date"):
        when = _parse_date(to_text(general.get(key)), assume_utc=True)
        if when is not None:
            return when
    return None


def _parse_date(text: str | None, assume_utc: bool = False) -> datetime | None:
    if not text:
        return None
    cleaned = text.replace("UTC", "").strip()
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if when.tzinfo is None:
        if not assume_utc:
            return None
        when = when.replace(tzinfo=UTC)
    return when if when.year >= _MIN_YEAR else None


def _iso6709_degrees(text: str, degree_digits: int) -> float:
    sign = -1.0 if text[0] == "-" else 1.0
    body = text[1:]
    whole, _, _ = body.partition(".")
    if len(whole) <= degree_digits:  # plain decimal degrees, the usual case
        return sign * float(body)
    degrees = float(whole[:degree_digits])
    rest = body[degree_digits:]
    if len(whole) <= degree_digits + 2:  # DDMM.mmm
        return sign * (degrees + float(rest) / 60.0)
    return sign * (degrees + float(rest[:2]) / 60.0 + float(rest[2:]) / 3600.0)  # DDMMSS.s


def parse_iso6709(text: str) -> dict[str, float | None] | None:
    """``{"lat", "lon", "alt"}`` from an ISO 6709 string such as ``+52.2097-000.8955+103.6/``."""
    match = _ISO6709.match(text.strip())
    if not match:
        return None
    try:
        lat = _iso6709_degrees(match.group(1), 2)
        lon = _iso6709_degrees(match.group(2), 3)
        alt = float(match.group(3)) if match.group(3) else None
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return {"lat": lat, "lon": lon, "alt": alt}
