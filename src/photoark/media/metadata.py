"""What photoark records about a photo or video, and the one entry point that reads it.

:class:`MediaMetadata` is stored (encrypted) next to every file, so its JSON form is part
of the format: :meth:`MediaMetadata.to_json` omits ``None`` values and
:meth:`MediaMetadata.from_json` ignores unknown keys, so fields can be added later.

:func:`extract_metadata` never raises on bad content: corrupt, truncated or hostile files
yield whatever could be read plus human-readable ``warnings``. Images are read by
:mod:`photoark.media.images`, videos by :mod:`photoark.media.video`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from photoark.media.formats import MediaFormat

__all__ = ["MediaMetadata", "extract_metadata"]


@dataclass
class MediaMetadata:
    """Metadata of one media file.

    ``taken_at`` is ISO 8601 local date-time, with its UTC offset when known;
    ``taken_at_utc`` is epoch seconds, set only when the offset is known (always for
    videos, whose container times are UTC). ``width``/``height`` are the stored pixel
    dimensions, before ``orientation`` (EXIF 1..8) is applied. ``content_identifier`` pairs
    Apple Live Photos; ``motion_photo`` flags a still with an embedded video.
    """

    taken_at: str | None = None
    taken_at_utc: float | None = None
    gps: dict[str, float | None] | None = None
    make: str | None = None
    model: str | None = None
    orientation: int | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    content_identifier: str | None = None
    motion_photo: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict without the ``None`` fields (and without empty warnings)."""
        data = {f.name: getattr(self, f.name) for f in _FIELDS}
        data = {k: v for k, v in data.items() if v is not None}
        if self.gps is not None:  # copies, as dataclasses.asdict made (at 6x the cost)
            data["gps"] = dict(self.gps)
        if self.warnings:
            data["warnings"] = list(self.warnings)
        else:
            data.pop("warnings", None)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaMetadata:
        """Inverse of :meth:`to_json`; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("warnings"), list):
            values["warnings"] = list(values["warnings"])
        return cls(**values)


_FIELDS = fields(MediaMetadata)


def extract_metadata(
    path: str | os.PathLike[str], fmt: MediaFormat, data: bytes | None = None
) -> MediaMetadata:
    """Read the metadata of the file at ``path`` whose (sniffed) format is ``fmt``.

    ``data``: the file's whole content, when the caller holds it already (a small file read
    once to hash it): an image's is parsed from there instead of opening the file again, with
    the same result. Videos are read from ``path`` regardless.

    Never raises for bad content; an unreadable file (``OSError``) is reported as a warning
    too, so a caller can store the result regardless.
    """
    from photoark.media import images, video  # local: keeps import of this module light

    meta = MediaMetadata()
    target = Path(path)
    try:
        if fmt.kind == "video":
            video.read_video_metadata(target, fmt, meta)
        else:
            images.read_image_metadata(target, fmt, meta, data)
    except Exception as err:  # last line of defence: metadata must never fail a backup
        meta.warnings.append(f"metadata: {type(err).__name__}: {err}")
    return meta
