"""Photos into groups whose members all look alike: no chaining, two tiers.

The input is every pair of photos within the loosest threshold (:mod:`.neighbours`,
:mod:`.pairs`), each with its cosine distance. A pair that is absent is farther apart than
that threshold.

**No chaining** (:func:`complete_linkage`). Single linkage (connected components) joins A and
C because both are close to B, and a long enough chain joins a waterfall to a forest path.
Here a group only ever grows by merging two groups when *every* member of one is within the
threshold of *every* member of the other, so any two members of a group, the keeper and each
other, are within the threshold. Pairs are taken closest first (ties by id), so the tightest
groups form first and the result does not depend on the order pairs were found in.

**Two tiers** (:func:`tiered`):

- ``near_identical``: the same picture rotated, mirrored, re-encoded, resized, converted or
  lightly edited. Removal may be suggested. The embedding alone cannot tell another shot of
  the moment (a tin turned between two shots: 0.02 apart) from a copy (up to 0.4 apart), so a
  near-identical pair must also pass ``same_picture`` (the thumbnails' perceptual hashes, in
  any of the 8 orientations, within a few bits: :mod:`photoark.ml.fingerprint`).
- ``similar``: other shots of the same moment (bursts, reframings). A near-identical group
  takes part through its keeper only (the copies are that group's business), so the similar
  tier offers distinct shots, and nothing in it is pre-selected.

**Plain pictures** (a white page, a dark frame, a grey wall) look alike to the model whatever
they show: a pair with a ``plain`` photo counts only when it is within ``plain_max``, the
distance of two copies of one plain picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from photoark.ml.fingerprint import (
    NEAR_IDENTICAL_MAX_BITS,
    PLAIN_MAX_DISTANCE,
    Fingerprint,
    d8_distance,
    is_plain,
)
from photoark.optimize.neighbours import Pair

__all__ = ["Cluster", "Thresholds", "Tier", "complete_linkage", "tiered", "tiered_by_fingerprints"]

Tier = Literal["near_identical", "similar"]


@dataclass(frozen=True)
class Thresholds:
    near_identical: float
    similar: float

    def __post_init__(self) -> None:
        if not 0 <= self.near_identical <= self.similar:
            raise ValueError("thresholds must satisfy 0 <= near_identical <= similar")

    def of(self, tier: Tier) -> float:
        return self.near_identical if tier == "near_identical" else self.similar


@dataclass(frozen=True)
class Cluster:
    tier: Tier
    ids: tuple[int, ...]  # sorted


def complete_linkage(
    pairs: Iterable[Pair], threshold: float, among: set[int] | None = None
) -> list[list[int]]:
    """Groups (two or more ids, each sorted; by first id) in which every two members form a
    pair within ``threshold``. ``among``: only these ids take part (default: all)."""
    close: dict[tuple[int, int], float] = {}
    for p in pairs:
        if p.distance <= threshold and (among is None or (p.a in among and p.b in among)):
            key = (p.a, p.b) if p.a < p.b else (p.b, p.a)
            close[key] = p.distance
    group_of: dict[int, list[int]] = {}
    for (a, b), _ in sorted(close.items(), key=lambda item: (item[1], item[0])):
        first, second = group_of.get(a, [a]), group_of.get(b, [b])
        if first is second:
            continue
        if all((min(x, y), max(x, y)) in close for x in first for y in second):
            merged = first + second
            for x in merged:
                group_of[x] = merged
    unique = {id(g): g for g in group_of.values()}
    return sorted((sorted(g) for g in unique.values()), key=lambda g: g[0])


def tiered(
    pairs: Sequence[Pair],
    thresholds: Thresholds,
    keeper: Callable[[Sequence[int]], int],
    *,
    same_picture: Callable[[int, int], bool] = lambda a, b: True,
    plain: Callable[[int], bool] = lambda i: False,
    plain_max: float = 0.0,
) -> list[Cluster]:
    """Near-identical groups, then similar groups among the photos left and the keepers
    (``keeper(ids)`` names a group's keeper) of the near-identical groups."""
    pairs = [p for p in pairs if p.distance <= plain_max or not (plain(p.a) or plain(p.b))]
    near = complete_linkage(
        (p for p in pairs if p.distance <= thresholds.near_identical and same_picture(p.a, p.b)),
        thresholds.near_identical,
    )
    in_near = {i for g in near for i in g}
    present = {i for p in pairs for i in (p.a, p.b)}
    among = (present - in_near) | {keeper(g) for g in near}
    similar = complete_linkage(pairs, thresholds.similar, among)
    return [Cluster("near_identical", tuple(g)) for g in near] + [
        Cluster("similar", tuple(g)) for g in similar
    ]


def tiered_by_fingerprints(
    pairs: Sequence[Pair],
    thresholds: Thresholds,
    keeper: Callable[[Sequence[int]], int],
    prints: Mapping[int, Fingerprint],
) -> list[Cluster]:
    """:func:`tiered` with the thumbnails' fingerprints deciding: a photo without one counts
    as plain (it groups only when very close); two photos are the same picture when their
    perceptual hashes agree within ``NEAR_IDENTICAL_MAX_BITS`` in some orientation, or, if one
    is plain (its hash is noise), when the plain guard kept the pair at all (within
    ``PLAIN_MAX_DISTANCE``: copies of one plain picture are that close)."""

    def plain(i: int) -> bool:
        fp = prints.get(i)
        return fp is None or is_plain(fp)

    def same_picture(a: int, b: int) -> bool:
        if plain(a) or plain(b):
            return True
        return d8_distance(prints[a], prints[b]) <= NEAR_IDENTICAL_MAX_BITS

    return tiered(
        pairs,
        thresholds,
        keeper,
        same_picture=same_picture,
        plain=plain,
        plain_max=PLAIN_MAX_DISTANCE,
    )
