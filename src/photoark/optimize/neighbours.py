"""Every pair of embeddings closer than a cosine distance: exactly, in bounded memory.

Embeddings are L2-normalised, so cosine distance ``d = 1 - x·y`` and ``|x - y|² = 2d``.

- **Small libraries** (at most ``exact_below`` photos): every pair is compared, a block of rows
  at a time (a matrix product).
- **Large ones**: a neighbour index (usearch HNSW) proposes candidates and the full vectors
  decide. The index works on a projection to ``dims`` principal components (fitted on an even
  sample of the library): an orthogonal projection never lengthens ``x - y``, so every pair
  within ``d`` stays within squared distance ``2d`` there and the candidate filter loses no
  true pair by itself; the approximate search does lose some, and each photo keeps at most
  ``neighbours`` candidates (``bench/similar_group.py``, 100 000 synthetic photos: 0.999 of
  the planted pairs within 0.25, 0.987 within 0.30, 0.976 within 0.35); a :func:`two_hop`
  round then compares the photos close to one same photo. The full vectors are read
  once, a page at a time, into a temporary file mapped back for the projection and the
  confirmation (the page cache holds them, not the heap), so memory holds the projection
  (``dims`` float32 per photo) and the index, not the 1280-d vectors. The index is keyed by
  id and can be handed over (``keep``) for :mod:`.pairs` to keep between runs.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "ArraySource",
    "BuiltIndex",
    "IndexParams",
    "Pair",
    "VectorSource",
    "candidate_slack",
    "close_pairs",
    "fingerprints",
    "new_index",
    "to_float32",
    "two_hop",
]

_BLOCK: Final = 1024  # rows per block of the exact comparison (block x n float32 at once)
_SAMPLE: Final = 8192  # rows the projection is fitted on
_OVERSAMPLE: Final = 32  # extra directions in the subspace iteration of the projection
_ITERATIONS: Final = 5  # rounds of it
_UNIT_ROUNDOFF: Final = {"f16": 2.0**-11, "bf16": 2.0**-8, "f32": 2.0**-24, "f64": 2.0**-53}
_REGIONS: Final = 16  # regions the candidates are confirmed in, one after another
_HELD: Final = 16384  # distinct full vectors held while confirming (80 MiB float32 at 1280-d)
_FETCH: Final = 4096  # rows converted to float32 at a time
_SCATTERED: Final = 512  # scattered rows read from the spill file between releases
_COMPARE: Final = 1024  # pairs compared at a time
_HOP_CAP: Final = 16  # closest neighbours of a photo whose pairs are candidates (two_hop)
_HOP_ROUNDS: Final = 2
# float16 -> float32 by table: exact, and 3-4x faster than numpy's cast on embeddings (half
# their values are zero, interleaved with the others: numpy's cast is 3x slower on such data)
_HALF_TO_SINGLE: Final = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)

Vectors = npt.NDArray[np.floating]
_MULTIPLIERS: list[npt.NDArray[np.uint64]] = []  # odd 64-bit factors of :func:`fingerprints`


class VectorSource(Protocol):
    """Embeddings by integer id (the library's file ids), readable a page at a time."""

    def count(self) -> int: ...

    def pages(self) -> Iterator[tuple[npt.NDArray[np.int64], Vectors]]:
        """``(ids, vectors)`` pages covering every embedding once, in a stable order."""
        ...

    def fetch(self, ids: Sequence[int]) -> Vectors:
        """The vectors of ``ids``, in that order."""
        ...


@dataclass(frozen=True)
class IndexParams:
    """Tuning of the approximate path (measured by ``bench/similar_group.py``)."""

    exact_below: int = 6000
    dims: int = 128
    neighbours: int = 10
    # The graph's quality decides (bench/README.md: the index alone, 100 000 photos, planted
    # pairs within 0.25 / 0.30 / 0.35): 32/64/64 finds 0.997 / 0.987 / 0.962; 32/80/16 0.998 /
    # 0.988 / 0.966 in 35 % less CPU (a well-linked graph hands each photo its neighbours: a
    # wider search adds next to nothing); 32/96/16 1.000 / 0.993 / 0.972 for 5 % more.
    connectivity: int = 32
    expansion_add: int = 80
    expansion_search: int = 16
    threads: int = 2
    dtype: str = "auto"  # the index's: "auto" (bf16 where the CPU computes it, else f16) or any


@dataclass(frozen=True)
class Pair:
    a: int  # id, a < b
    b: int
    distance: float  # cosine distance


@dataclass
class BuiltIndex:
    """A large library's neighbour index as the full comparison leaves it, for
    :mod:`.pairs` to keep: keyed by id, over the projection on ``basis``."""

    index: Any  # usearch.index.Index
    basis: npt.NDArray[np.float32]  # (embedding dim, index dims)
    ids: npt.NDArray[np.int64]  # in the index, in the source's order
    fingerprints: npt.NDArray[np.uint64]  # of each id's vector, as read (see fingerprints)
    dtype: str  # the index's precision


def close_pairs(
    source: VectorSource,
    threshold: float,
    params: IndexParams = IndexParams(),
    spill_dir: Path | None = None,
    keep: Callable[[BuiltIndex], None] | None = None,
) -> list[Pair]:
    """Every pair of distinct ids whose embeddings are within cosine ``threshold``.
    (``source.count()`` only chooses the method: it may be an estimate.) A large library's
    vectors are read once and kept in a temporary file under ``spill_dir`` (default: the
    system's temporary directory) while they are compared. ``keep``: a large library's index
    is handed to it once searched (before the confirmation, so that it need not stay in memory
    beside the full vectors)."""
    n = source.count()
    if n < 2:
        return []
    if n <= params.exact_below:
        return _exact_pairs(source, threshold)
    return _indexed_pairs(source, threshold, params, spill_dir, keep)


def _exact_pairs(source: VectorSource, threshold: float) -> list[Pair]:
    pages = list(source.pages())
    if not pages:
        return []
    id_pages, vector_pages = zip(*pages, strict=True)
    ids = np.concatenate(id_pages)
    matrix = np.concatenate(vector_pages).astype(np.float32)
    pairs: list[Pair] = []
    for start in range(0, len(ids), _BLOCK):
        block = matrix[start : start + _BLOCK]
        distances = 1.0 - block @ matrix[start:].T
        rows, cols = np.nonzero(distances <= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if c > r:  # the upper triangle: each pair once, never a photo with itself
                a, b = int(ids[start + r]), int(ids[start + c])
                pairs.append(Pair(min(a, b), max(a, b), max(0.0, float(distances[r, c]))))
    return pairs


def new_index(params: IndexParams, dims: int, dtype: str) -> Any:
    """An empty usearch index over ``dims`` (squared L2) with ``params``' tuning."""
    from usearch.index import Index  # imported here: only large libraries need it

    return Index(
        ndim=dims,
        metric="l2sq",
        dtype=dtype,
        connectivity=params.connectivity,
        expansion_add=params.expansion_add,
        expansion_search=params.expansion_search,
    )


def _indexed_pairs(
    source: VectorSource,
    threshold: float,
    params: IndexParams,
    spill_dir: Path | None,
    keep: Callable[[BuiltIndex], None] | None,
) -> list[Pair]:
    with _spilled(source, spill_dir) as spill:
        if spill is None or len(spill.ids) < 2:
            return []
        filled = len(spill.ids)
        step = max(1, math.ceil(filled / _SAMPLE))
        basis = _principal_axes(spill.take(np.arange(0, filled, step)), params.dims)
        reduced = np.empty((filled, basis.shape[1]), dtype=np.float32)
        for start in range(0, filled, _FETCH):
            reduced[start : start + _FETCH] = to_float32(spill.rows[start : start + _FETCH]) @ basis
            spill.release()  # a block at a time: mapped pages count in the RSS
        dtype = _index_dtype(params.dtype, reduced.shape[1])
        index = new_index(params, reduced.shape[1], dtype)
        index.add(spill.ids.astype(np.uint64), reduced, threads=params.threads)
        found = index.search(reduced, params.neighbours + 1, threads=params.threads)
        keys = _positions(spill.ids, np.asarray(found.keys))
        squared = np.asarray(found.distances, dtype=np.float32)
        del found
        if keep is not None:
            keep(BuiltIndex(index, basis, spill.ids, spill.fingerprints, dtype))
        del index
        # the projection never lengthens a difference: a true pair is within 2d here, give or
        # take the index's rounding (see candidate_slack)
        rows = np.broadcast_to(np.arange(filled, dtype=np.int64)[:, None], keys.shape)
        near = (keys >= 0) & (keys < filled) & (keys != rows)
        near &= squared <= 2.0 * threshold + candidate_slack(threshold, dtype)
        a, b = rows[near], keys[near]
        codes = np.unique(np.minimum(a, b) * filled + np.maximum(a, b))
        del keys, squared, rows, near, a, b
        candidates = np.stack(np.divmod(codes, filled), axis=1)
        del codes
        # confirmed a block of rows at a time: candidates of one region of the space share rows
        order = np.argsort(_region_rank(reduced)[candidates].min(axis=1), kind="stable")
        del reduced
        pairs = _confirm(spill, candidates[order], threshold)
        for _ in range(_HOP_ROUNDS):
            a, b, d = _columns(pairs)
            hop = two_hop(_positions(spill.ids, a), _positions(spill.ids, b), d)
            found = _confirm(spill, hop, threshold) if len(hop) else []
            if not found:
                break
            pairs += found
    pairs.sort(key=lambda p: (p.a, p.b))
    return pairs


def two_hop(
    a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], distance: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    """Pairs ``(x, y)``, ``x < y``, of photos close to one same photo (among its ``_HOP_CAP``
    closest) that are not themselves a pair of ``(a, b)``: where photos crowd, one can have
    more close neighbours than the index hands it, and those it misses are mostly close to
    each other (2 rounds: 0.93 -> 0.99 of all pairs within 0.25 around 3 000 photos of the
    100 000-photo bench, in 0.1 s)."""
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])
    order = np.lexsort((np.concatenate([distance, distance]), src))
    src, dst = src[order], dst[order]
    first = np.flatnonzero(np.r_[True, src[1:] != src[:-1]]) if len(src) else src
    degree = np.minimum(np.diff(np.r_[first, len(src)]), _HOP_CAP)
    found: list[npt.NDArray[np.int64]] = []
    for d in np.unique(degree[degree >= 2]).tolist():
        near = dst[first[degree == d][:, None] + np.arange(d)]
        i, j = np.triu_indices(d, 1)
        x, y = near[:, i].ravel(), near[:, j].ravel()
        found.append(np.stack([np.minimum(x, y), np.maximum(x, y)], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    ids, dense = np.unique(np.concatenate([*found, np.stack([a, b], axis=1)]), return_inverse=True)
    codes = dense.reshape(-1, 2) @ np.array([len(ids), 1], dtype=np.int64)
    known = codes[-len(a) :] if len(a) else codes[:0]
    fresh = np.unique(codes[: len(codes) - len(a)])
    fresh = fresh[~np.isin(fresh, known)]
    out: npt.NDArray[np.int64] = ids[np.stack(np.divmod(fresh, len(ids)), axis=1)]
    return out


def _columns(
    pairs: Sequence[Pair],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    a = np.fromiter((p.a for p in pairs), dtype=np.int64, count=len(pairs))
    b = np.fromiter((p.b for p in pairs), dtype=np.int64, count=len(pairs))
    d = np.fromiter((p.distance for p in pairs), dtype=np.float32, count=len(pairs))
    return a, b, d


def _positions(ids: npt.NDArray[np.int64], keys: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Positions in ``ids`` of the index's ``keys`` (ids); -1 where a key is none of them (a
    search's unused slots)."""
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    flat = keys.reshape(-1)
    valid = flat < np.uint64(2**63) if flat.dtype == np.uint64 else flat >= 0
    signed = np.where(valid, flat, 0).astype(np.int64)
    where = np.minimum(np.searchsorted(ranked, signed), len(ranked) - 1)
    hit = valid & (ranked[where] == signed)
    return np.where(hit, order[where], -1).reshape(keys.shape)


def fingerprints(vectors: Vectors) -> npt.NDArray[np.uint64]:
    """A 64-bit digest of each row's bytes: tells an embedding that changed from the one an
    index holds (a sum of the row's 64-bit words times fixed odd factors, wrapping)."""
    rows = np.ascontiguousarray(vectors)
    raw = rows.reshape(len(rows), -1).view(np.uint8)
    if raw.shape[1] % 8:
        raw = np.pad(raw, ((0, 0), (0, 8 - raw.shape[1] % 8)))
    words = np.ascontiguousarray(raw).view(np.uint64)
    width = words.shape[1]
    if not _MULTIPLIERS or len(_MULTIPLIERS[0]) < width:
        drawn = np.random.default_rng(0x5EED).integers(0, 2**62, max(width, 1024), np.uint64)
        _MULTIPLIERS[:] = [drawn * np.uint64(2) + np.uint64(1)]
    out: npt.NDArray[np.uint64] = (words * _MULTIPLIERS[0][:width]).sum(axis=1, dtype=np.uint64)
    return out ^ np.uint64(width)


class _Spill:
    """Vectors written to an (unlinked) temporary file and mapped back read-only: the page
    cache holds them, and :meth:`release` drops them from this process's mapping (its RSS)
    once a phase is done with them; they are read back from the cache when next touched."""

    def __init__(
        self,
        ids: npt.NDArray[np.int64],
        prints: npt.NDArray[np.uint64],
        file: BinaryIO,
        dtype: np.dtype[Any],
        dim: int,
    ) -> None:
        self.ids = ids
        self.fingerprints = prints
        self._map = mmap.mmap(file.fileno(), len(ids) * dim * dtype.itemsize, prot=mmap.PROT_READ)
        self.rows: Vectors = np.frombuffer(self._map, dtype=dtype).reshape(len(ids), dim)

    def release(self) -> None:
        self._map.madvise(mmap.MADV_DONTNEED)

    def take(self, positions: npt.NDArray[np.int64]) -> Vectors:
        """The rows at ``positions``, released as they are read: each page fault maps the
        pages around it too, so scattered rows would map most of the file at once."""
        out = np.empty((len(positions), self.rows.shape[1]), dtype=self.rows.dtype)
        for start in range(0, len(positions), _SCATTERED):
            np.take(
                self.rows,
                positions[start : start + _SCATTERED],
                axis=0,
                out=out[start : start + _SCATTERED],
            )
            self.release()
        return out

    def close(self) -> None:
        self.rows = np.zeros((0, 0), dtype=np.float32)
        with contextlib.suppress(BufferError):  # a view still alive: the map goes with it
            self._map.close()


@contextmanager
def _spilled(source: VectorSource, spill_dir: Path | None) -> Iterator[_Spill | None]:
    """One read of the source into a :class:`_Spill` under ``spill_dir`` (None when the source
    is empty); the file is gone when the block ends."""
    with tempfile.TemporaryFile(dir=spill_dir, prefix="photoark-vectors-") as file:
        id_pages: list[npt.NDArray[np.int64]] = []
        print_pages: list[npt.NDArray[np.uint64]] = []
        dtype: np.dtype[Any] | None = None
        dim = 0
        for page_ids, vectors in source.pages():
            if not len(page_ids):
                continue
            if dtype is None:
                dtype = np.dtype(np.float16 if vectors.dtype == np.float16 else np.float32)
                dim = vectors.shape[1]
            rows = np.ascontiguousarray(vectors, dtype=dtype)
            file.write(rows.data)
            id_pages.append(np.asarray(page_ids, dtype=np.int64))
            print_pages.append(fingerprints(vectors))
        if dtype is None or not dim:
            yield None
            return
        file.flush()
        spill = _Spill(np.concatenate(id_pages), np.concatenate(print_pages), file, dtype, dim)
        try:
            yield spill
        finally:
            spill.close()


def _index_dtype(requested: str, dims: int) -> str:
    """``requested``, or for ``"auto"`` bfloat16 where this CPU computes it in hardware (a
    third less time than float16 to build and search, same recall), else float16."""
    if requested != "auto":
        return requested
    from usearch.index import Index

    probe = Index(ndim=dims, metric="l2sq", dtype="bf16")
    return "f16" if probe.hardware_acceleration in ("serial", "", None) else "bf16"


def candidate_slack(threshold: float, dtype: str) -> float:
    """How much the index's squared distance may exceed the projection's true one, for a pair
    within ``threshold``: entries of norm <= 1 rounded to ``dtype`` move by at most ``u`` (its
    unit roundoff) each, so ``|x - y|`` by at most 2u and its square by 2u (2 sqrt(2d) + 2u);
    plus 2e-3 for decoded float16 vectors being unit only to ~1e-3 each."""
    unit = _UNIT_ROUNDOFF.get(dtype, 2.0**-8)
    return 2.0 * unit * (2.0 * math.sqrt(2.0 * threshold) + 2.0 * unit) + 2e-3


def _region_rank(reduced: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    """Each row's rank in an order that keeps rows of one region of the space together (a few
    rounds of k-means on the projection, regions one after another)."""
    rng = np.random.default_rng(0)
    centres = reduced[rng.choice(len(reduced), min(_REGIONS, len(reduced)), replace=False)]
    for _ in range(3):
        label = (np.sum(centres**2, axis=1) - 2.0 * (reduced @ centres.T)).argmin(axis=1)
        for c in range(len(centres)):
            members = reduced[label == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    label = (np.sum(centres**2, axis=1) - 2.0 * (reduced @ centres.T)).argmin(axis=1)
    rank = np.empty(len(reduced), dtype=np.int64)
    rank[np.argsort(label, kind="stable")] = np.arange(len(reduced))
    return rank


def _principal_axes(rows: Vectors, dims: int) -> npt.NDArray[np.float32]:
    """The ``dims`` leading principal axes (orthonormal columns) of ``rows`` (an even sample),
    by subspace iteration on the covariance: a few products with a (dim x dims + 32) block
    instead of a full eigendecomposition (0.1-0.2 s instead of 0.4-3 s at 1280-d on this busy
    machine, 0.05 % less variance kept). Any orthonormal basis keeps the candidate filter
    lossless; this one keeps the most of the spread, so the index ranks neighbours well."""
    sample = to_float32(rows)
    centred = sample - sample.mean(axis=0)
    covariance = (centred.T @ centred).astype(np.float64)
    dims = min(dims, covariance.shape[0])
    width = min(dims + _OVERSAMPLE, covariance.shape[0])
    block = np.random.default_rng(0).standard_normal((covariance.shape[0], width))
    for _ in range(_ITERATIONS):
        block = _orthonormal(covariance @ block)
    _, axes = np.linalg.eigh(block.T @ covariance @ block)  # ascending eigenvalues
    return np.ascontiguousarray((block @ axes[:, ::-1])[:, :dims], dtype=np.float32)


def _orthonormal(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Orthonormal columns spanning ``block``: twice through its Gram matrix (a small
    eigendecomposition, where a QR of the whole block is many small steps that OpenBLAS's
    threads make slow on a busy machine); a QR where the block is (nearly) rank-deficient."""
    for _ in range(2):
        values, vectors = np.linalg.eigh(block.T @ block)
        if values[0] <= values[-1] * 1e-10:
            q: npt.NDArray[np.float64] = np.linalg.qr(block)[0]
            return q
        block = block @ (vectors / np.sqrt(values))
    return block


def _confirm(spill: _Spill, candidates: npt.NDArray[np.int64], threshold: float) -> list[Pair]:
    """The candidates (pairs of row positions in ``spill``) within ``threshold``. Consecutive
    candidates are taken while they touch at most ``_HELD`` distinct rows; those are converted
    once each (and released from the mapping), then the pairs compared ``_COMPARE`` at a time."""
    ids = spill.ids
    pairs: list[Pair] = []
    held = np.empty((0, 0), dtype=np.float32)  # reused: a fresh 80 MiB array costs page faults
    start = 0
    while start < len(candidates):
        window = candidates[start : start + 4 * _HELD]
        _, first = np.unique(window.reshape(-1), return_index=True)
        first.sort()
        end = len(window) if len(first) <= _HELD else int(first[_HELD]) // 2
        chunk = window[:end]
        start += end
        members = np.unique(chunk)
        for f in range(0, len(members), _FETCH):
            piece = spill.take(members[f : f + _FETCH])
            if not f and (len(held) < len(members) or held.shape[1] != piece.shape[1]):
                held = np.empty((max(len(members), len(held)), piece.shape[1]), np.float32)
            held[f : f + len(piece)] = to_float32(piece)  # once per row, not once per pair
        converted = held[: len(members)]
        where = np.searchsorted(members, chunk)
        left = np.empty((_COMPARE, converted.shape[1]), dtype=np.float32)
        right = np.empty_like(left)
        for f in range(0, len(chunk), _COMPARE):
            m = len(where[f : f + _COMPARE])
            np.take(converted, where[f : f + m, 0], axis=0, out=left[:m])
            np.take(converted, where[f : f + m, 1], axis=0, out=right[:m])
            distances = 1.0 - np.einsum("ij,ij->i", left[:m], right[:m])
            for k in np.flatnonzero(distances <= threshold).tolist():
                x, y = int(ids[chunk[f + k, 0]]), int(ids[chunk[f + k, 1]])
                pairs.append(Pair(min(x, y), max(x, y), max(0.0, float(distances[k]))))
    return pairs


def to_float32(vectors: Vectors) -> npt.NDArray[np.float32]:
    """``vectors`` as float32 (float16 through an exact table: 3-4x numpy's cast here)."""
    if vectors.dtype == np.float16:
        bits = np.ascontiguousarray(vectors).view(np.uint16)
        out: npt.NDArray[np.float32] = _HALF_TO_SINGLE[bits]
        return out
    return np.asarray(vectors, dtype=np.float32)


class ArraySource:
    """A :class:`VectorSource` over arrays in memory (tests, benchmarks, small sets)."""

    def __init__(self, ids: Sequence[int], vectors: Vectors, page: int = 4096) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._vectors = vectors
        self._page = page
        self._where = {int(i): p for p, i in enumerate(self._ids.tolist())}

    def count(self) -> int:
        return len(self._ids)

    def pages(self) -> Iterator[tuple[npt.NDArray[np.int64], Vectors]]:
        for start in range(0, len(self._ids), self._page):
            yield self._ids[start : start + self._page], self._vectors[start : start + self._page]

    def fetch(self, ids: Sequence[int]) -> Vectors:
        return self._vectors[[self._where[int(i)] for i in ids]]
