"""The catalogue of media formats photoark recognises.

A :class:`MediaFormat` is what :func:`photoark.media.sniff.sniff` answers: a short stable
name (stored in encrypted metadata, so never rename one), whether the file is an image or a
video, its MIME type and whether it is a camera RAW. The table is data, not logic, so the
sniffer, the metadata extractor and the thumbnailer all agree on one spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FORMATS",
    "SIDE_CAR_EXTENSIONS",
    "MediaFormat",
    "MediaKind",
    "get_format",
]

MediaKind = Literal["image", "video"]


@dataclass(frozen=True)
class MediaFormat:
    """One container/codec family, detected from a file's content."""

    name: str
    kind: MediaKind
    mime: str
    raw: bool = False

    @property
    def is_video(self) -> bool:
        return self.kind == "video"


def _image(name: str, mime: str, raw: bool = False) -> MediaFormat:
    return MediaFormat(name=name, kind="image", mime=mime, raw=raw)


def _video(name: str, mime: str) -> MediaFormat:
    return MediaFormat(name=name, kind="video", mime=mime)


_ALL: tuple[MediaFormat, ...] = (
    _image("jpeg", "image/jpeg"),
    _image("png", "image/png"),
    _image("gif", "image/gif"),
    _image("webp", "image/webp"),
    _image("heic", "image/heic"),
    _image("heif", "image/heif"),
    _image("avif", "image/avif"),
    _image("jxl", "image/jxl"),
    _image("tiff", "image/tiff"),
    _image("bmp", "image/bmp"),
    _image("dng", "image/x-adobe-dng", raw=True),
    _image("cr2", "image/x-canon-cr2", raw=True),
    _image("cr3", "image/x-canon-cr3", raw=True),
    _image("crw", "image/x-canon-crw", raw=True),
    _image("nef", "image/x-nikon-nef", raw=True),
    _image("arw", "image/x-sony-arw", raw=True),
    _image("orf", "image/x-olympus-orf", raw=True),
    _image("rw2", "image/x-panasonic-rw2", raw=True),
    _image("raf", "image/x-fuji-raf", raw=True),
    _image("pef", "image/x-pentax-pef", raw=True),
    _image("srw", "image/x-samsung-srw", raw=True),
    _video("mp4", "video/mp4"),
    _video("mov", "video/quicktime"),
    _video("m4v", "video/x-m4v"),
    _video("3gp", "video/3gpp"),
    _video("mkv", "video/x-matroska"),
    _video("webm", "video/webm"),
    _video("avi", "video/x-msvideo"),
    _video("mts", "video/mp2t"),
)

FORMATS: dict[str, MediaFormat] = {f.name: f for f in _ALL}
"""Every known format by name."""

SIDE_CAR_EXTENSIONS: frozenset[str] = frozenset({".xmp", ".aae"})
"""Lower-case extensions of metadata sidecars that travel with a media file (XMP, Apple edits)."""


def get_format(name: str) -> MediaFormat:
    """The format called ``name``; ``KeyError`` when unknown."""
    return FORMATS[name]
