"""Which photo of a group to keep, and why: a rule people agree with.

Best first: the most pixels; then the camera's own format over a re-encode (RAW, then HEIC or
HEIF, then AVIF/JXL, then JPEG, then TIFF, before PNG, WebP, GIF and BMP copies: a JPEG made
from a HEIC is never preferred to it, however many bytes it has); then the most metadata
(date taken, location, camera); then the most albums; then the oldest (taken, else
uploaded); then the lowest id, so the order is total and stable.

:func:`why_first` says in a few words what made the keeper win over the next best
("more pixels", "original format", "has location"…), :func:`why_not` what the keeper has
that another member lacks: both are shown to the user beside the suggestion.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from photoark.media.formats import FORMATS

__all__ = ["Candidate", "format_rank", "keeper_order", "why_first", "why_not"]

C = TypeVar("C", bound="Candidate")

# lower is better: the camera's own formats first, lossless/lossy conversions last
_FORMAT_RANKS: Final = {
    **{f.name: 0 for f in FORMATS.values() if f.raw},
    **dict.fromkeys(("heic", "heif"), 1),
    **dict.fromkeys(("avif", "jxl"), 2),
    "jpeg": 3,
    "tiff": 4,
    **dict.fromkeys(("png", "webp", "gif", "bmp"), 5),
}
_UNKNOWN_FORMAT: Final = 6


def format_rank(name: str | None) -> int:
    """How close a format is to what a camera writes (0: RAW … 5: a PNG/WebP/GIF/BMP copy)."""
    return _FORMAT_RANKS.get(name or "", _UNKNOWN_FORMAT)


@dataclass(frozen=True)
class Candidate:
    """What the rule looks at in a photo."""

    id: int
    pixels: int
    format: str | None
    has_date: bool
    has_gps: bool
    metadata_fields: int  # date, location, camera, orientation, size…: how much is known
    album_count: int
    taken: float | None  # seconds since the epoch (UTC), when known
    created_at: float  # uploaded


def _taken_or_uploaded(c: Candidate) -> tuple[float, float]:
    return (math.inf if c.taken is None else c.taken, c.created_at)


# (what the keeper has, the sort key: smaller is better)
_CRITERIA: Final[tuple[tuple[str, Callable[[Candidate], Any]], ...]] = (
    ("more pixels", lambda c: -c.pixels),
    ("original format", lambda c: format_rank(c.format)),
    ("has date taken", lambda c: not c.has_date),
    ("has location", lambda c: not c.has_gps),
    ("more metadata", lambda c: -c.metadata_fields),
    ("in more albums", lambda c: -c.album_count),
    ("oldest", _taken_or_uploaded),
    ("lowest id", lambda c: c.id),
)


def _key(c: Candidate) -> tuple[Any, ...]:
    return tuple(key(c) for _, key in _CRITERIA)


def keeper_order(candidates: Sequence[C]) -> list[C]:
    """The candidates, best to keep first."""
    return sorted(candidates, key=_key)


def why_not(keeper: Candidate, other: Candidate) -> str:
    """The first criterion on which ``keeper`` beats ``other`` (``""`` if it does not)."""
    for reason, key in _CRITERIA:
        a, b = key(keeper), key(other)
        if a != b:
            return reason if a < b else ""
    return ""


def why_first(ordered: Sequence[Candidate]) -> str:
    """Why the first of a best-first order was chosen over the second."""
    return why_not(ordered[0], ordered[1]) if len(ordered) > 1 else ""
