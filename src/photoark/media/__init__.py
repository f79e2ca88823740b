"""Media: what a photo or video is, what it says about itself, and how it looks small.

* :func:`sniff` - the format by content (magic bytes, ftyp brands, TIFF RAW checks).
* :func:`extract_metadata` - capture time, GPS, camera, orientation, size, duration,
  Live Photo / motion photo markers, as a :class:`MediaMetadata`; never raises on content.
* :func:`make_thumbnail` / :func:`render_thumbnail` - a <= 720 px JPEG, oriented.

This package depends on Pillow, pillow-heif, rawpy, pyexiv2 and pymediainfo only; it never
imports the server, client or cli packages.

The thumbnail names are loaded at first use (PEP 562): they bring Pillow and its decoders,
which a command that settles everything from its stat cache (an unchanged re-run) never needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from photoark.media.formats import FORMATS, SIDE_CAR_EXTENSIONS, MediaFormat, MediaKind, get_format
from photoark.media.metadata import MediaMetadata, extract_metadata
from photoark.media.sniff import sniff, sniff_bytes, sniff_content

if TYPE_CHECKING:
    from photoark.media.thumbnails import (
        MAX_PIXELS,
        ThumbnailResult,
        make_thumbnail,
        render_thumbnail,
    )

_LAZY = frozenset({"MAX_PIXELS", "ThumbnailResult", "make_thumbnail", "render_thumbnail"})

__all__ = [
    "FORMATS",
    "MAX_PIXELS",
    "SIDE_CAR_EXTENSIONS",
    "MediaFormat",
    "MediaKind",
    "MediaMetadata",
    "ThumbnailResult",
    "extract_metadata",
    "get_format",
    "make_thumbnail",
    "render_thumbnail",
    "sniff",
    "sniff_bytes",
    "sniff_content",
]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.thumbnails"), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value
