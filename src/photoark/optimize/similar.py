"""Similar photos: groups of live photos whose embeddings are close, for the user to review.

- **Who takes part**: live still photos (``image`` and ``live`` items) with an embedding of the
  model. Exact duplicates are ``photoark dedup``'s business: of several files with one content
  only the copy dedup would keep is considered, so a group never offers two identical files.
- **Groups** (:func:`find_similar`): every pair within the loosest threshold is found
  (:mod:`.neighbours`), then grouped without chaining, in two tiers (:mod:`.grouping`):
  ``near_identical`` (the same picture transformed or re-encoded: removal suggested) and
  ``similar`` (other shots of the moment: nothing pre-selected). Every member of a group is
  within the group's threshold of every other, so ``distance`` (to the keeper) never exceeds it.
- **Keeper** (:mod:`.keeper`): the most pixels, the camera's own format, the most metadata, the
  most albums, the oldest; each file says why (``reason``).
- **Review**: the plan prints as JSON; the user flips ``keep`` and passes it back
  (:func:`plan_from_json`), checked against the library as it is then: live files, none
  twice, at least one kept per group.
- **Apply** (:func:`apply_similar`): *smart albums*: when removing a photo would leave one of
  its albums with no photo of the group, the first kept photo is added there first; then the
  others go to the trash (:mod:`.removal`). ``--keep-suggested`` acts on the
  ``near_identical`` tier only.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from photoark.client.errors import InvalidSimilarPlan, NoSpaceForScan
from photoark.client.library import sync
from photoark.client.library.embedder import EmbedReport, embed_library
from photoark.client.session import Session
from photoark.client.state.db import StateDB
from photoark.client.state.embeddings import EmbeddingCache
from photoark.client.state.mirror import Mirror
from photoark.ml.codec import decode_embedding, decode_embeddings, encoded_size
from photoark.ml.identity import (
    EMBEDDING_DIM,
    NEAR_IDENTICAL_THRESHOLD,
    SIMILAR_THRESHOLD,
    model_name,
)
from photoark.optimize.duplicates import extra_copies
from photoark.optimize.grouping import Cluster, Thresholds, Tier, tiered_by_fingerprints
from photoark.optimize.keeper import Candidate, keeper_order, why_first, why_not
from photoark.optimize.neighbours import IndexParams
from photoark.optimize.pairs import library_pairs
from photoark.optimize.removal import CleanupResult, Removal, add_then_trash

__all__ = [
    "DEFAULT_THRESHOLDS",
    "CachedVectors",
    "InvalidSimilarPlan",
    "Member",
    "NoSpaceForScan",
    "Photo",
    "SimilarGroup",
    "SimilarScan",
    "TierFilter",
    "apply_similar",
    "find_similar",
    "plan_from_json",
    "plan_json",
    "scan_similar",
    "thresholds_for",
]

DEFAULT_THRESHOLDS: Final = Thresholds(NEAR_IDENTICAL_THRESHOLD, SIMILAR_THRESHOLD)
TierFilter = Literal["near_identical", "similar", "all"]
_METADATA_FIELDS: Final = ("taken_at", "gps", "make", "model", "orientation", "width", "height")


@dataclass(frozen=True)
class Photo(Candidate):
    hash: str
    album_ids: tuple[int, ...]
    width: int | None
    height: int | None
    size: int  # bytes of the original
    taken_at: str | None  # as the camera wrote it
    stored: int  # encrypted content + thumbnail: what removing it frees


@dataclass(frozen=True)
class Member:
    photo: Photo
    distance: float  # cosine distance to the group's keeper (never above its threshold)
    keep: bool
    reason: str = ""  # the keeper: why it was chosen; the others: what the keeper has more of


@dataclass(frozen=True)
class SimilarGroup:
    members: tuple[Member, ...]  # the suggested keeper first, then by distance
    tier: Tier = "near_identical"
    threshold: float = NEAR_IDENTICAL_THRESHOLD

    @property
    def kept(self) -> list[Photo]:
        return [m.photo for m in self.members if m.keep]

    @property
    def removed(self) -> list[Photo]:
        return [m.photo for m in self.members if not m.keep]


@dataclass(frozen=True)
class SimilarScan:
    thresholds: Thresholds
    tier: TierFilter
    groups: list[SimilarGroup]
    photos: int  # photos compared
    exact_duplicates: int  # left out: a copy of another photo (see `photoark dedup`)

    @property
    def threshold(self) -> float:
        """The loosest threshold shown."""
        return (
            self.thresholds.near_identical
            if self.tier == "near_identical"
            else (self.thresholds.similar)
        )


class CachedVectors:
    """The cached embeddings of a model as a :class:`~.neighbours.VectorSource`, leaving out
    ``excluded`` ids; a row that does not decode is left out too (and counted)."""

    def __init__(self, db: StateDB, model: str, dim: int, excluded: set[int]) -> None:
        self._cache = EmbeddingCache(db)
        self._model = model
        self._dim = dim
        self._excluded = excluded
        self.unreadable = 0

    def count(self) -> int:
        return self._cache.counts(self._model)["embedded"] - len(self._excluded)

    def pages(self) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float16]]]:
        self.unreadable = 0
        ids: list[int] = []
        blobs: list[bytes] = []
        for row in self._cache.live_vectors(self._model):
            if row.file_id in self._excluded:
                continue
            ids.append(row.file_id)
            blobs.append(row.vector)
            if len(ids) == 4096:
                yield self._decoded(ids, blobs)
                ids, blobs = [], []
        if ids:
            yield self._decoded(ids, blobs)

    def _decoded(
        self, ids: list[int], blobs: list[bytes]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float16]]:
        valid, vectors = decode_embeddings(blobs, self._dim)
        self.unreadable += int(len(blobs) - valid.sum())
        return np.asarray(ids, dtype=np.int64)[valid], vectors

    def fetch(self, ids: Sequence[int]) -> npt.NDArray[np.float16]:
        found = self._cache.vectors_of(self._model, ids)
        valid, vectors = decode_embeddings([found[i] for i in ids], self._dim)
        if not valid.all():  # changed since it was read: one at a time, to say which and why
            return np.stack([decode_embedding(found[i], self._dim) for i in ids])
        return vectors


def _photos(mirror: Mirror, ids: Iterable[int]) -> dict[int, Photo]:
    out: dict[int, Photo] = {}
    for file_id in ids:
        f = mirror.file(file_id)
        if f is None:
            continue
        meta = f.metadata
        width, height = meta.width, meta.height
        albums = tuple(sorted(mirror.albums_of_file(f.id)))
        out[file_id] = Photo(
            id=f.id,
            pixels=width * height if width is not None and height is not None else 0,
            format=meta.format,
            has_date=bool(meta.taken_at) or meta.taken_at_utc is not None,
            has_gps=bool(meta.gps),
            metadata_fields=sum(
                1 for k in _METADATA_FIELDS if getattr(meta, k) not in (None, "", {})
            ),
            album_count=len(albums),
            taken=f.taken_at_utc,
            created_at=f.created_at,
            name=f.name,
            hash=f.hash,
            album_ids=albums,
            width=width,
            height=height,
            size=f.size,
            taken_at=meta.taken_at,
            stored=f.content_size + f.thumbnail_size,
        )
    return out


def _group(
    cluster: Cluster, photos: dict[int, Photo], distance: dict[tuple[int, int], float], limit: float
) -> SimilarGroup | None:
    members = [photos[i] for i in cluster.ids if i in photos]
    if len(members) < 2:
        return None
    ordered = keeper_order(members)
    keeper = ordered[0]

    def to_keeper(p: Photo) -> float:
        d = distance.get((min(p.id, keeper.id), max(p.id, keeper.id)), 0.0)
        return min(round(d, 4), limit)

    suggest = cluster.tier == "near_identical"
    rest = sorted(ordered[1:], key=lambda p: (to_keeper(p), p.id))
    return SimilarGroup(
        (
            Member(keeper, 0.0, True, why_first(ordered)),
            *(Member(p, to_keeper(p), not suggest, _lacks(keeper, p)) for p in rest),
        ),
        cluster.tier,
        limit,
    )


def _lacks(keeper: Photo, other: Photo) -> str:
    why = why_not(keeper, other)
    return f"the keeper: {why}" if why else "as good as the keeper"


def find_similar(
    session_db: StateDB,
    mirror: Mirror,
    model: str,
    dim: int,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    params: IndexParams = IndexParams(),
    tier: TierFilter = "all",
) -> SimilarScan:
    """Groups of similar photos among those with an embedding of ``model`` (reads only the
    local state: compute the missing embeddings first, see
    :mod:`photoark.client.library.embedder`)."""
    copies = extra_copies(mirror)
    source = CachedVectors(session_db, model, dim, copies)
    spill_dir = session_db.path.parent
    loosest = thresholds.near_identical if tier == "near_identical" else thresholds.similar
    try:
        pairs = library_pairs(
            session_db,
            source,
            model,
            dim,
            loosest,
            params,
            spill_dir=spill_dir,
            pair_threshold=max(loosest, DEFAULT_THRESHOLDS.similar),
        )
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        needed = source.count() * encoded_size(dim)
        raise NoSpaceForScan(
            f"no space left in {spill_dir} for the comparison's temporary copy of the "
            f"embeddings (~{needed / 1e6:.0f} MB)"
        ) from err
    ids = sorted({i for p in pairs for i in (p.a, p.b)})
    photos = _photos(mirror, ids)
    distance = {(min(p.a, p.b), max(p.a, p.b)): p.distance for p in pairs}
    prints = EmbeddingCache(session_db).fingerprints_of(model, ids)

    def keeper(ids: Sequence[int]) -> int:
        known = [photos[i] for i in ids if i in photos]
        return keeper_order(known)[0].id if known else min(ids)

    groups: list[SimilarGroup] = []
    clusters = tiered_by_fingerprints(pairs, thresholds, keeper, prints)
    for cluster in clusters:
        if tier != "all" and cluster.tier != tier:
            continue
        group = _group(cluster, photos, distance, thresholds.of(cluster.tier))
        if group is not None:
            groups.append(group)
    return SimilarScan(thresholds, tier, groups, max(0, source.count()), len(copies))


def plan_json(scan: SimilarScan, mirror: Mirror) -> dict[str, Any]:
    names = {a.id: a.name for a in mirror.albums()}

    def album_names(photo: Photo) -> list[str]:
        return sorted(names.get(a, str(a)) for a in photo.album_ids)

    def file_json(m: Member) -> dict[str, Any]:
        p = m.photo
        return {
            "id": p.id,
            "album": (album_names(p) or [""])[0],
            "albums": album_names(p),
            "name": p.name,
            "distance": m.distance,
            "keep": m.keep,
            "reason": m.reason,
            "width": p.width,
            "height": p.height,
            "size": p.size,
            "format": p.format,
            "taken_at": p.taken_at,
            "has_gps": p.has_gps,
        }

    return {
        "threshold": scan.threshold,
        "thresholds": {
            "near_identical": scan.thresholds.near_identical,
            "similar": scan.thresholds.similar,
        },
        "tier": scan.tier,
        "groups": [
            {
                "tier": g.tier,
                "threshold": g.threshold,
                "files": [file_json(m) for m in g.members],
            }
            for g in scan.groups
        ],
        "photos": scan.photos,
        "exact_duplicates_left_to_dedup": scan.exact_duplicates,
        "bytes_freed": sum(p.stored for g in scan.groups for p in g.removed),
    }


def plan_from_json(document: Any, mirror: Mirror) -> list[SimilarGroup]:
    """Groups from a (possibly edited) plan, checked against the library as it is now: live
    files, none twice, each group keeping at least one."""
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise InvalidSimilarPlan('a plan is a JSON object with a "groups" list')
    seen: set[int] = set()
    out: list[SimilarGroup] = []
    for n, group in enumerate(document["groups"], 1):
        files = group.get("files") if isinstance(group, dict) else None
        if not isinstance(files, list) or not files:
            raise InvalidSimilarPlan(f'group {n}: needs a "files" list')
        chosen: list[tuple[int, bool, float]] = []
        for item in files:
            if not isinstance(item, dict) or not isinstance(item.get("keep"), bool):
                raise InvalidSimilarPlan(
                    f'group {n}: each file needs an integer "id" and "keep": true/false'
                )
            try:
                file_id = int(item["id"])
            except (KeyError, TypeError, ValueError) as err:
                raise InvalidSimilarPlan(f'group {n}: each file needs an integer "id"') from err
            distance = item.get("distance", 0.0)
            chosen.append(
                (
                    file_id,
                    item["keep"],
                    float(distance) if isinstance(distance, int | float) else 0.0,
                )
            )
        ids = [i for i, _, _ in chosen]
        if len(set(ids)) != len(ids) or seen & set(ids):
            raise InvalidSimilarPlan(f"group {n}: a file appears twice in the plan")
        seen.update(ids)
        if not any(keep for _, keep, _ in chosen):
            raise InvalidSimilarPlan(
                f"group {n}: keeps no photo; keep at least one (to delete them all, use "
                "`photoark delete`)"
            )
        photos = _photos(mirror, ids)
        gone = [i for i in ids if i not in photos or _trashed(mirror, i)]
        if gone:
            raise InvalidSimilarPlan(
                f"group {n}: file(s) {gone} are not live photos in the library (any more)"
            )
        members = [Member(photos[i], d, keep) for i, keep, d in chosen]
        kept_first = sorted(members, key=lambda m: not m.keep)
        tier = group.get("tier")
        if any(not m.keep for m in members):
            out.append(
                SimilarGroup(
                    tuple(kept_first),
                    "similar" if tier == "similar" else "near_identical",
                    max(m.distance for m in members),
                )
            )
    return out


def _trashed(mirror: Mirror, file_id: int) -> bool:
    f = mirror.file(file_id)
    return f is None or f.is_trashed


def smart_adds(group: SimilarGroup) -> list[tuple[int, int]]:
    """``(album, kept photo)`` adds so that no album of a removed photo is left without a
    photo of the group: the first kept photo goes where no kept one is."""
    kept = group.kept
    covered = {a for p in kept for a in p.album_ids}
    needed = sorted({a for p in group.removed for a in p.album_ids} - covered)
    return [(album_id, kept[0].id) for album_id in needed]


def apply_similar(session: Session, groups: Sequence[SimilarGroup]) -> CleanupResult:
    """Add kept photos where removing the others would leave an album without the scene, then
    trash the others (their contents marked deleted, so no backup brings them back)."""
    kept_hashes = {p.hash for g in groups for p in g.kept}
    return add_then_trash(
        session,
        [
            Removal(
                adds=tuple(smart_adds(g)),
                trash=tuple(p.id for p in g.removed),
                hashes=tuple(p.hash for p in g.removed if p.hash not in kept_hashes),
                bytes=sum(p.stored for p in g.removed),
            )
            for g in groups
            if g.removed
        ],
    )


def scan_similar(
    session: Session,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    tier: TierFilter = "all",
    on_total: Callable[[int], None] = lambda n: None,
    on_done: Callable[[int], None] = lambda n: None,
    on_stage: Callable[[str], None] = lambda what: None,
    params: IndexParams = IndexParams(),
) -> tuple[SimilarScan, EmbedReport]:
    """Sync, make the missing embeddings, then group the whole library."""
    sync.pull(session)
    report = embed_library(session, on_total=on_total, on_done=on_done, on_stage=on_stage)
    on_stage("grouping photos")
    scan = find_similar(
        session.db, session.mirror, model_name(), EMBEDDING_DIM, thresholds, params, tier
    )
    return scan, report


def thresholds_for(tier: TierFilter, threshold: float | None) -> Thresholds:
    """The tiers' thresholds when the user sets ``threshold`` for the loosest tier shown
    (``None``: the calibrated defaults)."""
    if threshold is None:
        return DEFAULT_THRESHOLDS
    if tier == "near_identical":
        return Thresholds(threshold, max(threshold, DEFAULT_THRESHOLDS.similar))
    return Thresholds(min(threshold, DEFAULT_THRESHOLDS.near_identical), threshold)
