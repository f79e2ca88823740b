"""JPEG thumbnails of photos and videos, small enough to encrypt and sync everywhere.

:func:`render_thumbnail` returns a :class:`ThumbnailResult`: the JPEG bytes (quality 80,
at most ``max_px`` on the long side, EXIF orientation applied, no metadata kept) or
``data=None`` with ``error`` saying why (undecodable, unsupported, decompression bomb,
no ffmpeg). :func:`make_thumbnail` is the bytes-or-``None`` shortcut. Neither raises for
bad content.

* JPEG is decoded at reduced size with ``Image.draft`` (DCT scaling, ~4x faster).
* HEIC through pillow-heif, which applies the container's rotation (``irot``/``imir``)
  itself; a HEIC without those but with an EXIF orientation is rotated by EXIF. AVIF natively.
* RAW through LibRaw: the embedded preview (``extract_thumb``) when there is one, else a
  half-size demosaic; LibRaw's ``flip`` supplies the orientation of the preview.
* Video through ``ffmpeg`` when it is on ``PATH``: a frame at 1 s, else the first frame
  (ffmpeg applies the rotation matrix).

Decompression bombs: images above :data:`MAX_PIXELS` are refused before any decoding.
Pillow's own global limit is raised to the same figure at import (its default, 89 MP with
an error at 179 MP, would refuse the 200 MP photos of current phones); Pillow still errors
at twice the limit, and that error is caught as "no thumbnail".
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings as pywarnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from photoark.media._bmff import heif_has_transform
from photoark.media._heif import ensure_heif_registered
from photoark.media.formats import MediaFormat

__all__ = [
    "MAX_PIXELS",
    "THUMBNAIL_QUALITY",
    "ThumbnailResult",
    "make_thumbnail",
    "render_thumbnail",
]

MAX_PIXELS = 250_000_000
"""Largest image (width x height) photoark will decode for a thumbnail."""

THUMBNAIL_QUALITY = 80
_FFMPEG_TIMEOUT = 60.0
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}

if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class ThumbnailResult:
    """A thumbnail (``data``) or the reason there is none (``error``); one is ``None``."""

    data: bytes | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.data is not None


class _NoThumbnail(Exception):
    """Internal: a thumbnail cannot be made; the message becomes ``ThumbnailResult.error``."""


def make_thumbnail(path: str | Path, fmt: MediaFormat, max_px: int = 720) -> bytes | None:
    """JPEG thumbnail bytes, or ``None``; use :func:`render_thumbnail` to learn why not."""
    return render_thumbnail(path, fmt, max_px).data


def render_thumbnail(path: str | Path, fmt: MediaFormat, max_px: int = 720) -> ThumbnailResult:
    """Render a thumbnail of the file at ``path`` (sniffed as ``fmt``); never raises for content."""
    target = Path(path)
    try:
        if fmt.kind == "video":
            image = _video_frame(target)
        elif fmt.raw:
            image = _raw_image(target, max_px)
        else:
            image = _open_image(target, max_px)
        return ThumbnailResult(_encode(image, max_px))
    except _NoThumbnail as err:
        return ThumbnailResult(None, str(err))
    except Image.DecompressionBombError as err:
        return ThumbnailResult(None, f"decompression bomb: {err}")
    except Exception as err:  # decoders raise OSError, ValueError, SyntaxError, struct.error...
        return ThumbnailResult(None, f"cannot decode: {type(err).__name__}: {err}")


def _open_image(
    source: Path | io.BytesIO, max_px: int, orientation: int | None = None
) -> Image.Image:
    ensure_heif_registered()
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("error", Image.DecompressionBombWarning)
        im = Image.open(source)
    if im.width * im.height > MAX_PIXELS:
        raise _NoThumbnail(f"decompression bomb: {im.width}x{im.height} exceeds {MAX_PIXELS} px")
    if im.format == "JPEG":
        im.draft("RGB", (max_px, max_px))
    im.load()
    if orientation is None and isinstance(source, Path):
        orientation = _heif_orientation(im, source)
    if orientation is not None and orientation != 1:
        return _orient(im, orientation)
    transposed = ImageOps.exif_transpose(im)
    return transposed if transposed is not None else im


def _heif_orientation(im: Image.Image, path: Path) -> int | None:
    """EXIF orientation of a HEIF that libheif did not rotate (no ``irot``/``imir``)."""
    original = im.info.get("original_orientation")
    if not isinstance(original, int) or original == 1 or heif_has_transform(path):
        return None
    return original


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    im.getexif()[0x0112] = orientation
    transposed = ImageOps.exif_transpose(im)
    return transposed if transposed is not None else im


def _raw_image(path: Path, max_px: int) -> Image.Image:
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            orientation = _FLIP_TO_ORIENTATION.get(int(raw.sizes.flip), 1)
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                thumb = None
            data: Any = thumb.data if thumb is not None else None
            if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
                return _open_image(io.BytesIO(data), max_px, orientation)
            if thumb is not None and thumb.format == rawpy.ThumbFormat.BITMAP:
                return _orient(Image.fromarray(data), orientation)
            if raw.sizes.width * raw.sizes.height > MAX_PIXELS:
                raise _NoThumbnail("decompression bomb: RAW too large")
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
            return Image.fromarray(rgb)  # postprocess already applied the flip
    except rawpy.LibRawError as err:
        raise _NoThumbnail(f"libraw: {type(err).__name__}: {err}") from err


def _video_frame(path: Path) -> Image.Image:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise _NoThumbnail("ffmpeg not on PATH: no video thumbnails")
    for seek in ("1", None):
        cmd: list[str] = [ffmpeg, "-nostdin", "-v", "error"]
        if seek:
            cmd += ["-ss", seek]
        cmd += ["-i", str(path), "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as err:
            raise _NoThumbnail("ffmpeg timed out") from err
        if done.returncode == 0 and done.stdout:
            return Image.open(io.BytesIO(done.stdout))
    raise _NoThumbnail(f"ffmpeg could not extract a frame: {done.stderr[-300:]!r}")


def _encode(im: Image.Image, max_px: int) -> bytes:
    im.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    _to_rgb(im).save(buf, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buf.getvalue()


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        scale: Any = 1 / 256 if im.mode.startswith("I;16") or im.mode == "I" else 255
        return im.point(lambda v: v * scale).convert("L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")
