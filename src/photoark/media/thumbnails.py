"""JPEG thumbnails of photos and videos, small enough to encrypt and sync everywhere.

:func:`render_thumbnail` returns a :class:`ThumbnailResult`: the JPEG bytes (quality 80,
at most ``max_px`` on the long side, EXIF orientation applied, no metadata kept) or
``data=None`` with ``error`` saying why (undecodable, unsupported, decompression bomb,
no ffmpeg). :func:`make_thumbnail` is the bytes-or-``None`` shortcut. Neither raises for
bad content.

* Cost first: the decoder is asked for the smallest picture still at least the final size
  (:func:`_draft_request`): JPEG decodes at 1/2, 1/4 or 1/8 scale (libjpeg DCT scaling) and
  HEIF decodes an embedded thumbnail instead of the image when pillow-heif finds one that is a
  scaled copy at least that large. Phones embed 320-512 px ones: a preview of at least
  :data:`HEIF_EMBEDDED_MIN_PX` is taken even below the requested size, because the full HEVC
  decode it saves costs ~300 ms per photo (the largest single cost of a backup). The rest
  is shrunk by an integer box ``reduce`` then LANCZOS (Pillow's ``reducing_gap=1.0``), the
  orientation is applied to the small picture, and the JPEG is encoded without ``optimize``
  (the ~5 % smaller output was not worth 2-3x the encode time).
* HEIC through pillow-heif, which applies the container's rotation (``irot``/``imir``)
  itself; a HEIC without those but with an EXIF orientation is rotated by EXIF. AVIF natively.
* RAW through LibRaw: the embedded preview (``extract_thumb``) when there is one, else a
  half-size demosaic; LibRaw's ``flip`` supplies the orientation of the preview.
* A JPEG already thumbnail-sized, upright and compressed about as hard as the thumbnail is
  its own thumbnail, its metadata removed (:mod:`.jpeg_passthrough`): no decode, no encode.
* Video through ``ffmpeg`` when it is on ``PATH``: a key frame near 1 s, scaled by ffmpeg
  after its rotation (:mod:`.video_frames`).
* Memory: decodes of big pictures (a HEIC without a usable preview, a large WebP/AVIF/PNG, a
  RAW demosaic) share a pixel budget (:mod:`.decode_budget`), held until the picture is
  shrunk, so two render threads do not hold two of them at once.

Decompression bombs: images above :data:`MAX_PIXELS` are refused before any decoding.
Pillow's own global limit is raised to the same figure at import (its default, 89 MP with
an error at 179 MP, would refuse the 200 MP photos of current phones); Pillow still errors
at twice the limit, and that error is caught as "no thumbnail".
"""

from __future__ import annotations

import io
import warnings as pywarnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from photoark.media._bmff import heif_has_transform
from photoark.media._heif import ensure_heif_registered
from photoark.media.decode_budget import DECODES
from photoark.media.formats import MediaFormat
from photoark.media.jpeg_passthrough import passthrough_thumbnail
from photoark.media.video_frames import NoVideoFrame, video_frame

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
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

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
        if fmt.name == "jpeg":
            passthrough = passthrough_thumbnail(target, max_px)
            if passthrough is not None:
                return ThumbnailResult(passthrough)
        # a big decode's share of the pixel budget is held until the picture is shrunk
        with ExitStack() as held:
            if fmt.kind == "video":
                image, orientation = video_frame(target, max_px), 1
            elif fmt.raw:
                image, orientation = _raw_image(target, max_px, held)
            else:
                image, orientation = _open_image(target, max_px, held=held)
            with image:  # PIL keeps some files open (GIF, MPO) until the image is closed
                return ThumbnailResult(_encode(image, orientation, max_px))
    except (_NoThumbnail, NoVideoFrame) as err:
        return ThumbnailResult(None, str(err))
    except Image.DecompressionBombError as err:
        return ThumbnailResult(None, f"decompression bomb: {err}")
    except Exception as err:  # decoders raise OSError, ValueError, SyntaxError, struct.error...
        return ThumbnailResult(None, f"cannot decode: {type(err).__name__}: {err}")


def _open_image(
    source: Path | io.BytesIO,
    max_px: int,
    orientation: int | None = None,
    held: ExitStack | None = None,
) -> tuple[Image.Image, int]:
    """The decoded picture, as small as the decoder can cheaply make it, and its orientation.

    The orientation (EXIF 1-8) is *not* applied yet: :func:`_encode` applies it after
    shrinking, where it costs a fraction. A big decode's reservation in the pixel budget
    goes on ``held`` (the caller releases it once the picture is shrunk); without ``held`` it
    lasts for the decode only.
    """
    ensure_heif_registered()
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("error", Image.DecompressionBombWarning)
        im = Image.open(source)
    try:
        if held is None:
            with ExitStack() as decoding:
                return _decoded(im, source, max_px, orientation, decoding)
        return _decoded(im, source, max_px, orientation, held)
    except BaseException:
        im.close()  # its file too: a failed decode must not leave it open
        raise


def _decoded(
    im: Image.Image,
    source: Path | io.BytesIO,
    max_px: int,
    orientation: int | None,
    held: ExitStack,
) -> tuple[Image.Image, int]:
    if im.width * im.height > MAX_PIXELS:
        raise _NoThumbnail(f"decompression bomb: {im.width}x{im.height} exceeds {MAX_PIXELS} px")
    if orientation is None and isinstance(source, Path):
        orientation = _heif_orientation(im, source)  # before draft: HEIF info of the image
    full = im.size
    request = _draft_request(full, max_px)
    if request is not None:
        im.draft("RGB", request)  # JPEG: DCT scaling; HEIF: an embedded thumbnail, if any
        small = _draft_request(full, HEIF_EMBEDDED_MIN_PX)
        if im.size == full and im.format == "HEIF" and small is not None:
            # phones embed a 320-512 px preview: decoding it instead of the full HEVC image is
            # ~100x cheaper (≈300 ms → ≈1 ms), at the price of a smaller thumbnail
            im.draft("RGB", small)
    held.enter_context(DECODES.reserve(_decode_pixels(im, full)))
    im.load()
    if orientation is None:
        orientation = _exif_orientation(im)
    return im, orientation


HEIF_EMBEDDED_MIN_PX = 320
"""A HEIF's embedded preview is used as the thumbnail when its long side is at least this."""


def _decode_pixels(im: Image.Image, full: tuple[int, int]) -> int:
    """The pixels a decode of ``im`` (after ``draft``; ``full`` its size before) weighs in the
    budget: its size, but the full size of a progressive JPEG, whose DCT coefficients libjpeg
    keeps for the whole picture whatever the scale."""
    width, height = full if im.format == "JPEG" and im.info.get("progressive") else im.size
    return width * height


def _draft_request(size: tuple[int, int], max_px: int) -> tuple[int, int] | None:
    """The size to ask ``Image.draft`` for: the final thumbnail's, in the stored orientation.

    ``draft`` picks the smallest scale at least this large on *both* axes, so asking for
    ``(max_px, max_px)`` would over-decode every non-square picture (a 16:9 12 MP JPEG at 1/2
    instead of 1/4). The bound is a square, so rotating by EXIF later keeps it. ``None``
    when the picture already fits.
    """
    width, height = size
    longest = max(width, height)
    if longest <= max_px:
        return None
    return max(1, -(-width * max_px // longest)), max(1, -(-height * max_px // longest))


def _heif_orientation(im: Image.Image, path: Path) -> int | None:
    """EXIF orientation of a HEIF that libheif did not rotate (no ``irot``/``imir``)."""
    original = im.info.get("original_orientation")
    if not isinstance(original, int) or original == 1 or heif_has_transform(path):
        return None
    return original


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation tag (1-8), 1 when absent or unreadable."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block does not stop the thumbnail
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION_TRANSPOSE else 1


def _raw_image(path: Path, max_px: int, held: ExitStack) -> tuple[Image.Image, int]:
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
                return _open_image(io.BytesIO(data), max_px, orientation, held)
            if thumb is not None and thumb.format == rawpy.ThumbFormat.BITMAP:
                return Image.fromarray(data), orientation
            if raw.sizes.width * raw.sizes.height > MAX_PIXELS:
                raise _NoThumbnail("decompression bomb: RAW too large")
            # LibRaw holds the whole mosaic and a half-size 16-bit picture while it works
            held.enter_context(DECODES.reserve(raw.sizes.raw_width * raw.sizes.raw_height))
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
            return Image.fromarray(rgb), 1  # postprocess already applied the flip
    except rawpy.LibRawError as err:
        raise _NoThumbnail(f"libraw: {type(err).__name__}: {err}") from err


def _encode(im: Image.Image, orientation: int, max_px: int) -> bytes:
    if max(im.size) > max_px:
        # reducing_gap=1.0: a box ``reduce`` by the largest integer factor that stays at
        # least max_px, then LANCZOS over the last < 2x (measured ~40 dB PSNR against a
        # full-resolution LANCZOS, at less than half the time of the default gap of 2.0).
        im.thumbnail((max_px, max_px), Image.Resampling.LANCZOS, reducing_gap=1.0)
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    if method is not None:
        im = im.transpose(method)
    buf = io.BytesIO()
    _to_rgb(im).save(buf, "JPEG", quality=THUMBNAIL_QUALITY)
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
