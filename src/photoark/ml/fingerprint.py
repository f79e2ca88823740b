"""A photo's pixel fingerprint, made from the same decoded thumbnail as its embedding.

The embedding cannot tell another shot of the same moment (a tin turned on a table between two
shots: 0.02 apart) from a copy of the picture (re-encoded, turned, greyscale: up to 0.25 or
more). Pixels can: ``bench/similar_quality.py`` found every other shot >= 16 bits of pHash from
its neighbours in all 8 turns and mirror images, and near every copy <= 12. So a near-identical
pair must be within :data:`NEAR_IDENTICAL_MAX_BITS` of :func:`d8_distance` as well
(held out: precision 1.000, F1 0.995 at a cosine distance of 0.25).

A **plain** picture (a sky, a wall, a dark frame, a white page) has a pHash of noise and looks
like every other plain picture to the model: :func:`is_plain` says when, and a pair with one
then groups only within :data:`PLAIN_MAX_DISTANCE` (the bench: the farthest copies of one plain
picture 0.056 apart, the nearest different ones 0.091).

The measures are the bench's, exactly (same resizes, same arithmetic), so its thresholds hold:

- **pHash** (``imagehash.phash``'s definition): grey (``convert("L")``), resized to 32x32 with
  LANCZOS, the unnormalised 2-D DCT-II (scipy.fftpack's, here a cosine matrix), the top-left
  8x8 coefficients, each bit = coefficient > their median; 64 bits, row-major, the first the
  most significant (``int(str(imagehash.phash(image)), 16)``).
- **d8**: the pHash of the picture in each of the 8 turns / mirror images (Pillow's transposes
  in :data:`TRANSFORMS` order, the upright one first, each resized from the turned picture);
  the distance of two pictures is the fewest differing bits between one's upright hash and any
  of the other's 8, the smaller of the two ways round.
- **detail**: the fraction of the 8x8 blocks of the picture (grey, reduced to <= 128 px by
  ``Image.thumbnail`` with the box filter) whose standard deviation is above 4 grey levels:
  ~0 for a sky or a wall, 0.2-0.3 for a word on a white page, >= 0.4 for almost every photo.
- **side**: the longer side of the picture, in pixels.

Cost: two resizes to 32x32 (the other six views are their mirror images), 8 tiny DCTs and a
128 px reduction: ~3 ms for a 720 px thumbnail, beside ~17 ms for the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = [
    "NEAR_IDENTICAL_MAX_BITS",
    "PLAIN_MAX_DISTANCE",
    "PLAIN_MIN_DETAIL",
    "PLAIN_MIN_SIDE",
    "TRANSFORMS",
    "Fingerprint",
    "d8_distance",
    "fingerprint",
    "is_plain",
    "phash",
]

NEAR_IDENTICAL_MAX_BITS: Final = 10
"""A near-identical pair's thumbnails are at most this many bits apart (:func:`d8_distance`),
unless one of them is plain (its pHash is noise: :data:`PLAIN_MAX_DISTANCE` decides)."""
PLAIN_MIN_SIDE: Final = 64
"""px: a smaller picture shows too little to tell pictures apart (plain)."""
PLAIN_MIN_DETAIL: Final = 0.30
"""A picture with a smaller fraction of detailed blocks is plain."""
PLAIN_MAX_DISTANCE: Final = 0.074
"""Cosine distance within which a pair involving a plain picture may group."""

_HASH: Final = 8  # bits per side of the hash
_HASH_INPUT: Final = _HASH * 4  # px: the square the DCT is taken of (imagehash's default)
_DETAIL_SIZE: Final = 128  # px: the longest side the picture is reduced to for ``detail``
_BLOCK: Final = 8  # px
_BLOCK_STD: Final = 4.0  # grey levels: a block "varies" above this standard deviation
_MAX_SIDE: Final = 0xFFFF  # stored as uint16

TRANSFORMS: Final[tuple[Image.Transpose | None, ...]] = (
    None,  # upright
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)
"""The 8 turns / mirror images a pHash is taken in, in the order they are stored."""


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    """``C`` with ``C @ x`` = scipy.fftpack.dct(x) (type II, unnormalised): ``2 cos(pi k (2j +
    1) / 2n)``."""
    k = np.arange(n, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    return 2.0 * np.cos(np.pi * k * (2.0 * j + 1.0) / (2.0 * n))


_DCT: Final = _dct_matrix(_HASH_INPUT)[:_HASH]  # only the 8 lowest frequencies are kept
_WEIGHTS: Final = np.array([1 << (63 - i) for i in range(64)], dtype=np.uint64)


@dataclass(frozen=True)
class Fingerprint:
    """What the grouping needs of a picture's pixels, beside its embedding."""

    phashes: tuple[int, ...]  # 8 pHashes (64-bit), in TRANSFORMS order: the upright one first
    detail: float  # fraction of the 8x8 blocks varying by more than 4 grey levels, 0..1
    side: int  # the picture's longer side, px

    def __post_init__(self) -> None:
        if len(self.phashes) != len(TRANSFORMS):
            raise ValueError(f"{len(self.phashes)} pHashes, {len(TRANSFORMS)} expected")
        if not all(0 <= h < 1 << 64 for h in self.phashes):
            raise ValueError("a pHash is not a 64-bit unsigned integer")
        if not (math.isfinite(self.detail) and 0.0 <= self.detail <= 1.0):
            raise ValueError(f"detail {self.detail} is not a fraction")
        if not 0 <= self.side <= _MAX_SIDE:
            raise ValueError(f"side {self.side} out of range")


def phash(image: Image.Image) -> int:
    """imagehash.phash of ``image`` as a 64-bit integer (``int(str(imagehash.phash(image)),
    16)``); any mode, converted to grey first as imagehash does."""
    return _hashes(_small(image.convert("L"))[None])[0]


def _small(grey: Image.Image) -> npt.NDArray[np.float64]:
    """``grey`` as imagehash's pHash sees it: 32x32, LANCZOS."""
    return np.asarray(grey.resize((_HASH_INPUT, _HASH_INPUT), Image.Resampling.LANCZOS), np.float64)


def _hashes(views: npt.NDArray[np.float64]) -> tuple[int, ...]:
    """The pHash of each of ``views`` (n, 32, 32)."""
    low = (_DCT @ views @ _DCT.T).reshape(len(views), -1)  # dct(dct(x, axis=0), axis=1)[:8, :8]
    bits = low > np.median(low, axis=1, keepdims=True)
    return tuple(int(h) for h in np.where(bits, _WEIGHTS, 0).sum(axis=1, dtype=np.uint64))


def _detail(grey: Image.Image) -> float:
    """The fraction of 8x8 blocks of ``grey`` (reduced to <= 128 px, box filter) whose standard
    deviation is above 4 grey levels (0 for a picture smaller than one block)."""
    small = grey.copy()
    small.thumbnail((_DETAIL_SIZE, _DETAIL_SIZE), Image.Resampling.BOX)
    a = np.asarray(small, dtype=np.float32)
    h, w = (a.shape[0] // _BLOCK) * _BLOCK, (a.shape[1] // _BLOCK) * _BLOCK
    if not h or not w:
        return 0.0
    blocks = a[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK)
    return float((blocks.std(axis=(1, 3)) > _BLOCK_STD).mean())


def fingerprint(image: Image.Image) -> Fingerprint:
    """The fingerprint of ``image`` (the decoded, upright thumbnail the embedding is made
    from). Pure."""
    grey = image.convert("L")
    # Pillow's resize commutes exactly with a mirror image (its filter taps are symmetric and
    # summed in integers; checked on the corpus and 3 000 random sizes, and by the tests), not
    # with a quarter turn (it resizes across, then down): two resizes give the 8 views that
    # resizing each turned picture would.
    upright = _small(grey)
    across = _small(grey.transpose(Image.Transpose.TRANSPOSE))
    views = np.stack(
        [
            upright,  # upright
            across[::-1],  # ROTATE_90 (anticlockwise)
            upright[::-1, ::-1],  # ROTATE_180
            across[:, ::-1],  # ROTATE_270
            upright[:, ::-1],  # FLIP_LEFT_RIGHT
            upright[::-1],  # FLIP_TOP_BOTTOM
            across,  # TRANSPOSE
            across[::-1, ::-1],  # TRANSVERSE
        ]
    )
    return Fingerprint(_hashes(views), _detail(grey), min(max(image.size), _MAX_SIDE))


def d8_distance(a: Fingerprint, b: Fingerprint) -> int:
    """Bits between the two pictures' pHashes in the best of the 8 turns / mirror images: 0
    for a picture and its turned copy, ~32 for unrelated pictures."""
    return min(_upright_to_any(a.phashes, b.phashes), _upright_to_any(b.phashes, a.phashes))


def _upright_to_any(a: Sequence[int], b: Sequence[int]) -> int:
    return min((a[0] ^ h).bit_count() for h in b)


def is_plain(fp: Fingerprint) -> bool:
    """Whether the picture is featureless (or too small) to be told apart from another such
    one: its pHash is noise, and the model sees all of them alike."""
    return fp.side < PLAIN_MIN_SIDE or fp.detail < PLAIN_MIN_DETAIL
