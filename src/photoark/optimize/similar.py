"""Similar photos: groups of live photos whose embeddings are close, for the user to review.

- **Who takes part**: live still photos (``image`` and ``live`` items) with an embedding of the
  model. Exact duplicates are ``photoark dedup``'s business: of several files with one content
  only the copy dedup would keep is considered, so a group never offers two identical files.
- **Groups** (:func:`find_similar`): every pair within ``threshold`` (cosine distance) is found
  (:mod:`.neighbours`) and groups are the connected components of those pairs.
- **Keeper** (:func:`keeper_order`): highest resolution, then the most metadata (taken-at,
  GPS, camera, …), then the oldest (taken, else uploaded). Each member's ``distance`` is to
  the suggested keeper.
- **Review**: the plan prints as JSON; the user flips ``keep`` and passes it back
  (:func:`plan_from_json`), checked against the library as it is then: live files, none
  twice, at least one kept per group.
- **Apply** (:func:`apply_similar`): *smart albums*: when removing a photo would leave one of
  its albums with no photo of the group, the first kept photo is added there first; then the
  others go to the trash (:mod:`.removal`).
"""

from __future__ import annotations

import errno
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

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
from photoark.ml.identity import DEFAULT_THRESHOLD, EMBEDDING_DIM, model_name
from photoark.optimize.neighbours import IndexParams, Pair, close_pairs
from photoark.optimize.removal import CleanupResult, Removal, add_then_trash

__all__ = [
    "DEFAULT_THRESHOLD",
    "CachedVectors",
    "InvalidSimilarPlan",
    "Member",
    "NoSpaceForScan",
    "Photo",
    "SimilarGroup",
    "SimilarScan",
    "apply_similar",
    "find_similar",
    "group_pairs",
    "keeper_order",
    "plan_from_json",
    "plan_json",
    "scan_similar",
]

_GROUP_PAGE: Final = 4096  # vectors fetched at a time for a group's distances
_METADATA_FIELDS: Final = ("taken_at", "gps", "make", "model", "orientation", "width", "height")


@dataclass(frozen=True)
class Photo:
    id: int
    name: str
    hash: str
    albums: tuple[int, ...]
    pixels: int
    metadata_fields: int
    taken: float | None  # seconds since the epoch (UTC), when known
    created_at: float  # uploaded
    stored: int  # encrypted content + thumbnail: what removing it frees


@dataclass(frozen=True)
class Member:
    photo: Photo
    distance: float  # cosine distance to the group's first keeper
    keep: bool


@dataclass(frozen=True)
class SimilarGroup:
    members: tuple[Member, ...]  # the suggested keeper first, then by distance

    @property
    def kept(self) -> list[Photo]:
        return [m.photo for m in self.members if m.keep]

    @property
    def removed(self) -> list[Photo]:
        return [m.photo for m in self.members if not m.keep]


@dataclass(frozen=True)
class SimilarScan:
    threshold: float
    groups: list[SimilarGroup]
    photos: int  # photos compared
    exact_duplicates: int  # left out: a copy of another photo (see `photoark dedup`)


def keeper_order(photos: Sequence[Photo]) -> list[Photo]:
    """The keep rule, best first: the most pixels, the most metadata, the oldest, lowest id."""
    return sorted(
        photos,
        key=lambda p: (
            -p.pixels,
            -p.metadata_fields,
            math.inf if p.taken is None else p.taken,
            p.created_at,
            p.id,
        ),
    )


def group_pairs(pairs: Sequence[Pair]) -> list[list[int]]:
    """Connected components (of two or more ids) of the pairs, each sorted; by first id."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        a, b = root(pair.a), root(pair.b)
        if a != b:
            parent[max(a, b)] = min(a, b)
    components: dict[int, list[int]] = {}
    for x in parent:
        components.setdefault(root(x), []).append(x)
    return sorted((sorted(c) for c in components.values() if len(c) > 1), key=lambda c: c[0])


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


def _photos(mirror: Mirror, ids: Sequence[int]) -> dict[int, Photo]:
    out: dict[int, Photo] = {}
    for file_id in ids:
        f = mirror.file(file_id)
        if f is None:
            continue
        meta = f.metadata
        width, height = meta.width, meta.height
        pixels = width * height if width is not None and height is not None else 0
        out[file_id] = Photo(
            id=f.id,
            name=f.name,
            hash=f.hash,
            albums=tuple(sorted(mirror.albums_of_file(f.id))),
            pixels=pixels,
            metadata_fields=sum(
                1 for k in _METADATA_FIELDS if getattr(meta, k) not in (None, "", {})
            ),
            taken=f.taken_at_utc,
            created_at=f.created_at,
            stored=f.content_size + f.thumbnail_size,
        )
    return out


def _distances_to_first(source: CachedVectors, ids: Sequence[int]) -> npt.NDArray[np.float32]:
    """Cosine distance of each of ``ids`` to the first, fetched a page at a time (a chained
    group can hold thousands of photos)."""
    page = source.fetch(ids[:_GROUP_PAGE]).astype(np.float32)
    first = page[0].copy()
    out = np.empty(len(ids), dtype=np.float32)
    for start in range(0, len(ids), _GROUP_PAGE):
        if start:
            page = source.fetch(ids[start : start + _GROUP_PAGE]).astype(np.float32)
        out[start : start + len(page)] = np.maximum(0.0, 1.0 - page @ first)
    out[0] = 0.0  # the keeper itself (float16 rounding would say ~1e-4)
    return out


def find_similar(
    session_db: StateDB,
    mirror: Mirror,
    model: str,
    dim: int,
    threshold: float = DEFAULT_THRESHOLD,
    params: IndexParams = IndexParams(),
) -> SimilarScan:
    """Groups of similar photos among those with an embedding of ``model`` (reads only the
    local state: compute the missing embeddings first, see
    :mod:`photoark.client.library.embedder`)."""
    copies = Mirror(session_db).extra_photo_copies()
    source = CachedVectors(session_db, model, dim, copies)
    spill_dir = session_db.path.parent
    try:
        pairs = close_pairs(source, threshold, params, spill_dir=spill_dir)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        needed = source.count() * encoded_size(dim)
        raise NoSpaceForScan(
            f"no space left in {spill_dir} for the comparison's temporary copy of the "
            f"embeddings (~{needed / 1e6:.0f} MB)"
        ) from err
    groups: list[SimilarGroup] = []
    for component in group_pairs(pairs):
        photos = _photos(mirror, component)
        if len(photos) < 2:
            continue
        ordered = keeper_order(list(photos.values()))
        distances = _distances_to_first(source, [p.id for p in ordered])
        members = [
            Member(p, round(float(d), 4), keep=i == 0)
            for i, (p, d) in enumerate(zip(ordered, distances.tolist(), strict=True))
        ]
        members[1:] = sorted(members[1:], key=lambda m: (m.distance, m.photo.id))
        groups.append(SimilarGroup(tuple(members)))
    return SimilarScan(threshold, groups, max(0, source.count()), len(copies))


def plan_json(scan: SimilarScan, mirror: Mirror) -> dict[str, Any]:
    names = {a.id: a.name for a in mirror.albums()}

    def album_names(photo: Photo) -> list[str]:
        return sorted(names.get(a, str(a)) for a in photo.albums)

    return {
        "threshold": scan.threshold,
        "groups": [
            {
                "files": [
                    {
                        "id": m.photo.id,
                        "album": (album_names(m.photo) or [""])[0],
                        "albums": album_names(m.photo),
                        "name": m.photo.name,
                        "distance": m.distance,
                        "keep": m.keep,
                    }
                    for m in g.members
                ]
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
        if any(not m.keep for m in members):
            out.append(SimilarGroup(tuple(kept_first)))
    return out


def _trashed(mirror: Mirror, file_id: int) -> bool:
    f = mirror.file(file_id)
    return f is None or f.is_trashed


def smart_adds(group: SimilarGroup) -> list[tuple[int, int]]:
    """``(album, kept photo)`` adds so that no album of a removed photo is left without a
    photo of the group: the first kept photo goes where no kept one is."""
    kept = group.kept
    covered = {a for p in kept for a in p.albums}
    needed = sorted({a for p in group.removed for a in p.albums} - covered)
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
    threshold: float = DEFAULT_THRESHOLD,
    *,
    on_total: Callable[[int], None] = lambda n: None,
    on_done: Callable[[int], None] = lambda n: None,
    params: IndexParams = IndexParams(),
) -> tuple[SimilarScan, EmbedReport]:
    """Sync, make the missing embeddings, then group the whole library."""
    sync.pull(session)
    report = embed_library(session, on_total=on_total, on_done=on_done)
    scan = find_similar(session.db, session.mirror, model_name(), EMBEDDING_DIM, threshold, params)
    return scan, report
