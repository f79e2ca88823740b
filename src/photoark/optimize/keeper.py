"""Which photo of a group to keep, and why: a rule people agree with.

Best first: the most pixels; then the camera's own format over a re-encode (RAW, then HEIC or
HEIF, then AVIF/JXL, then JPEG, then TIFF, before PNG, WebP, GIF and BMP copies: a JPEG made
from a HEIC is never preferred to it, however many bytes it has); then the most metadata
(date taken, location, camera); then the most albums; then the original name over a copy's
(``IMG_1.JPG`` over ``IMG_1 copy.JPG``, ``IMG_1 (1).JPG``, ``Copy of IMG_1.JPG``…, see
:func:`copy_marks`); then the oldest (taken, else uploaded); then the lowest id, so the order is
total and stable.

:func:`why_first` says in a few words what made the keeper win over the next best
("more pixels", "original format", "has location"…), :func:`why_not` what the keeper has
that another member lacks: both are shown to the user beside the suggestion.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from photoark.media.formats import FORMATS

__all__ = ["Candidate", "copy_marks", "format_rank", "keeper_order", "why_first", "why_not"]

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


# what copying adds to a name (the extension left aside), as file managers and browsers spell
# it: at the end of the stem…
_COPY_SUFFIX: Final = re.compile(
    r"(?: copy(?: \d+)?"  # macOS Finder: "IMG copy", "IMG copy 2"
    r"| - copy(?: \(\d+\))?"  # Windows Explorer: "IMG - Copy", "IMG - Copy (2)"
    r"|[-_]copy(?:[-_ ]?\d+)?"  # "IMG-copy", "IMG_copy", "IMG_copy2"
    r"| ?\(\d{1,3}\)"  # browsers and Windows: "IMG (1)", "IMG(2)" (not "Party (2019)")
    r"|~\d+(?:-\d+)?"  # "IMG~2", and export's own clash names "IMG~1234", "IMG~1234-2"
    r")$",
    re.IGNORECASE,
)
# …or at its start: Windows XP's "Copy of IMG", "Copy (2) of IMG"
_COPY_PREFIX: Final = re.compile(r"^copy (?:\(\d+\) )?of ", re.IGNORECASE)


def copy_marks(name: str) -> int:
    """How many copy markers ``name`` carries (``IMG_1.JPG`` 0, ``IMG_1 copy.JPG`` 1,
    ``Copy of IMG_1 (1).JPG`` 2): fewer is likelier the original's name."""
    stem = name.rpartition(".")[0] if "." in name.lstrip(".") else name
    marks = 0
    while stem:
        cut = _COPY_SUFFIX.sub("", stem, count=1)
        if cut == stem:
            cut = _COPY_PREFIX.sub("", stem, count=1)
        if cut == stem or not cut.strip():  # a name that is only a marker is a name
            break
        stem, marks = cut, marks + 1
    return marks


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
    # the file's name: an original's is preferred to a copy's (keyword-only, so a subclass may
    # add fields without defaults)
    name: str = field(default="", kw_only=True)


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
    ("original name", lambda c: copy_marks(c.name)),
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
