"""Turn photos into the model's input: upright, decoded small, centre-cropped to 224x224 RGB.

Decoding a 12 MP JPEG in full costs more than running the model, so JPEGs are decoded with
Pillow's ``draft`` (libjpeg's DCT scaling) at the smallest scale that still covers twice the
model's input; EXIF orientation is applied before cropping, so a photo and its rotated copy
show the model the same pixels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from photoark.ml.errors import ImageDecodeError
from photoark.ml.identity import INPUT_SIZE

__all__ = ["DRAFT_SIZE", "load_image", "load_image_bytes", "to_pixels", "to_square"]

DRAFT_SIZE: Final = (INPUT_SIZE * 2, INPUT_SIZE * 2)


def load_image(path: Path) -> Image.Image:
    """Open ``path``, decode at reduced size when the format allows, apply EXIF orientation.

    Returns an RGB image of at least the draft size (when the original is that large). Raises
    :class:`ImageDecodeError` when Pillow cannot open or decode the file.
    """
    return _upright(path, str(path))


def load_image_bytes(data: bytes, what: str = "the image") -> Image.Image:
    """:func:`load_image` of an encoded image in memory (a thumbnail); ``what`` names it in
    the error."""
    return _upright(io.BytesIO(data), what)


def _upright(source: Path | io.BytesIO, what: str) -> Image.Image:
    try:
        with Image.open(source) as opened:
            if opened.format == "JPEG":
                opened.draft("RGB", DRAFT_SIZE)
            upright = ImageOps.exif_transpose(opened)
            return upright.convert("RGB")
    except (
        OSError,
        UnidentifiedImageError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as err:
        raise ImageDecodeError(f"cannot decode {what}: {err}") from err


def to_square(image: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Centre-crop to a square and resize to ``size`` (reducing first for speed). Pure."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 2
    box = (left, top, left + side, top + side)
    return rgb.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)


def to_pixels(images: Sequence[Image.Image]) -> npt.NDArray[np.uint8]:
    """Stack images as the model's ``pixels`` input: uint8 ``(N, 224, 224, 3)``. Pure."""
    batch = np.empty((len(images), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        batch[i] = np.asarray(to_square(image), dtype=np.uint8)
    return batch
