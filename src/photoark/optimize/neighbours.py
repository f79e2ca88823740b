"""Every pair of embeddings closer than a cosine distance: exactly, in bounded memory.

Embeddings are L2-normalised, so cosine distance ``d = 1 - x·y`` and ``|x - y|² = 2d``.

- **Small libraries** (at most ``exact_below`` photos): every pair is compared, a block of rows
  at a time (a matrix product).
- **Large ones**: a neighbour index (usearch HNSW) proposes candidates and the full vectors
  decide. The index works on a projection to ``dims`` principal components (fitted on an even
  sample of the library): an orthogonal projection never lengthens ``x - y``, so every pair
  within ``d`` stays within squared distance ``2d`` there and the candidate filter loses no
  true pair by itself; the approximate search does lose some, and each photo keeps at most
  ``neighbours`` candidates (``bench/similar_group.py``: 0.96 of planted close pairs at
  100 000 synthetic photos, 0.99 at 20 000). The full vectors are read once, a page at a time,
  into a temporary file mapped back for the projection and the confirmation (the page cache
  holds them, not the heap), so memory holds the projection (``dims`` float32 per photo) and
  the index, not the 1280-d vectors.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["ArraySource", "IndexParams", "Pair", "VectorSource", "close_pairs"]

_BLOCK: Final = 1024  # rows per block of the exact comparison (block x n float32 at once)
_SAMPLE: Final = 8192  # rows the projection is fitted on
_UNIT_ROUNDOFF: Final = {"f16": 2.0**-11, "bf16": 2.0**-8, "f32": 2.0**-24, "f64": 2.0**-53}
_REGIONS: Final = 16  # regions the candidates are confirmed in, one after another
_HELD: Final = 16384  # distinct full vectors held while confirming (80 MiB float32 at 1280-d)
_FETCH: Final = 4096  # rows converted to float32 at a time
_SCATTERED: Final = 512  # scattered rows read from the spill file between releases
_COMPARE: Final = 1024  # pairs compared at a time
# float16 -> float32 by table: exact, and 3-4x faster than numpy's cast on embeddings (half
# their values are zero, interleaved with the others: numpy's cast is 3x slower on such data)
_HALF_TO_SINGLE: Final = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)

Vectors = npt.NDArray[np.floating]


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
    # 100 000 photos: 32/64/64 finds 0.96 of the planted close pairs; 16/48/48 0.92 in ~20 % less
    # time (bench/similar_group.py)
    connectivity: int = 32
    expansion_add: int = 64
    expansion_search: int = 64
    threads: int = 2
    dtype: str = "auto"  # the index's: "auto" (bf16 where the CPU computes it, else f16) or any


@dataclass(frozen=True)
class Pair:
    a: int  # id, a < b
    b: int
    distance: float  # cosine distance


def close_pairs(
    source: VectorSource,
    threshold: float,
    params: IndexParams = IndexParams(),
    spill_dir: Path | None = None,
) -> list[Pair]:
    """Every pair of distinct ids whose embeddings are within cosine ``threshold``.
    (``source.count()`` only chooses the method: it may be an estimate.) A large library's
    vectors are read once and kept in a temporary file under ``spill_dir`` (default: the
    system's temporary directory) while they are compared."""
    n = source.count()
    if n < 2:
        return []
    if n <= params.exact_below:
        return _exact_pairs(source, threshold)
    return _indexed_pairs(source, threshold, params, spill_dir)


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


def _indexed_pairs(
    source: VectorSource,
    threshold: float,
    params: IndexParams,
    spill_dir: Path | None,
) -> list[Pair]:
    from usearch.index import Index  # imported here: only large libraries need it

    with _spilled(source, spill_dir) as spill:
        if spill is None or len(spill.ids) < 2:
            return []
        filled = len(spill.ids)
        step = max(1, math.ceil(filled / _SAMPLE))
        basis = _principal_axes(spill.take(np.arange(0, filled, step)), params.dims)
        reduced = np.empty((filled, basis.shape[1]), dtype=np.float32)
        for start in range(0, filled, _FETCH):
            reduced[start : start + _FETCH] = _single(spill.rows[start : start + _FETCH]) @ basis
            spill.release()  # a block at a time: mapped pages count in the RSS
        dtype = _index_dtype(params.dtype, reduced.shape[1])
        index = Index(
            ndim=reduced.shape[1],
            metric="l2sq",
            dtype=dtype,
            connectivity=params.connectivity,
            expansion_add=params.expansion_add,
            expansion_search=params.expansion_search,
        )
        positions = np.arange(filled, dtype=np.uint64)
        index.add(positions, reduced, threads=params.threads)
        found = index.search(reduced, params.neighbours + 1, threads=params.threads)
        keys = np.asarray(found.keys, dtype=np.int64)
        squared = np.asarray(found.distances, dtype=np.float32)
        del index, found
        # the projection never lengthens a difference: a true pair is within 2d here, give or
        # take the index's rounding (see _slack)
        rows = np.broadcast_to(np.arange(filled, dtype=np.int64)[:, None], keys.shape)
        near = (keys >= 0) & (keys < filled) & (keys != rows)
        near &= squared <= 2.0 * threshold + _slack(threshold, dtype)
        a, b = rows[near], keys[near]
        codes = np.unique(np.minimum(a, b) * filled + np.maximum(a, b))
        del keys, squared, rows, near, a, b
        candidates = np.stack(np.divmod(codes, filled), axis=1)
        del codes
        # confirmed a block of rows at a time: candidates of one region of the space share rows
        order = np.argsort(_region_rank(reduced)[candidates].min(axis=1), kind="stable")
        del reduced
        pairs = _confirm(spill, candidates[order], threshold)
    pairs.sort(key=lambda p: (p.a, p.b))
    return pairs


class _Spill:
    """Vectors written to an (unlinked) temporary file and mapped back read-only: the page
    cache holds them, and :meth:`release` drops them from this process's mapping (its RSS)
    once a phase is done with them; they are read back from the cache when next touched."""

    def __init__(self, ids: npt.NDArray[np.int64], file: BinaryIO, dtype: np.dtype[Any], dim: int):
        self.ids = ids
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
        dtype: np.dtype[Any] | None = None
        dim = 0
        for page_ids, vectors in source.pages():
            if not len(page_ids):
                continue
            if dtype is None:
                dtype = np.dtype(np.float16 if vectors.dtype == np.float16 else np.float32)
                dim = vectors.shape[1]
            file.write(np.ascontiguousarray(vectors, dtype=dtype).data)
            id_pages.append(np.asarray(page_ids, dtype=np.int64))
        if dtype is None or not dim:
            yield None
            return
        file.flush()
        spill = _Spill(np.concatenate(id_pages), file, dtype, dim)
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


def _slack(threshold: float, dtype: str) -> float:
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
    """The ``dims`` leading principal axes (columns) of ``rows`` (an even sample)."""
    sample = _single(rows)
    centred = sample - sample.mean(axis=0)
    covariance = centred.T @ centred
    _, axes = np.linalg.eigh(covariance)  # ascending eigenvalues
    dims = min(dims, axes.shape[1])
    return np.ascontiguousarray(axes[:, ::-1][:, :dims], dtype=np.float32)


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
            held[f : f + len(piece)] = _single(piece)  # once per row, not once per pair
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


def _single(vectors: Vectors) -> npt.NDArray[np.float32]:
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
