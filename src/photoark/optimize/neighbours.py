"""Every pair of embeddings closer than a cosine distance: exactly, in bounded memory.

Embeddings are L2-normalised, so cosine distance ``d = 1 - x·y`` and ``|x - y|² = 2d``.

- **Small libraries** (at most ``exact_below`` photos): every pair is compared, a block of rows
  at a time (a matrix product).
- **Large ones**: a neighbour index (usearch HNSW) proposes candidates and the full vectors
  decide. The index works on a projection to ``dims`` principal components (fitted on an even
  sample of the library): an orthogonal projection never lengthens ``x - y``, so every pair
  within ``d`` stays within squared distance ``2d`` there and the candidate filter loses no
  true pair by itself (only the approximate search can, rarely: see ``bench/similar_group.py``
  for its measured recall). The full vectors are read twice, a page at a time, so memory holds
  the projection (``dims`` float32 per photo) and the index, not the 1280-d vectors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["ArraySource", "IndexParams", "Pair", "VectorSource", "close_pairs"]

_BLOCK: Final = 1024  # rows per block of the exact comparison (block x n float32 at once)
_SAMPLE: Final = 8192  # rows the projection is fitted on

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
    connectivity: int = 16
    expansion_add: int = 48
    expansion_search: int = 48
    threads: int = 2


@dataclass(frozen=True)
class Pair:
    a: int  # id, a < b
    b: int
    distance: float  # cosine distance


def close_pairs(
    source: VectorSource, threshold: float, params: IndexParams = IndexParams()
) -> list[Pair]:
    """Every pair of distinct ids whose embeddings are within cosine ``threshold``.
    (``source.count()`` only chooses the method: it may be an estimate.)"""
    n = source.count()
    if n < 2:
        return []
    if n <= params.exact_below:
        return _exact_pairs(source, threshold)
    return _indexed_pairs(source, n, threshold, params)


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
    source: VectorSource, n: int, threshold: float, params: IndexParams
) -> list[Pair]:
    from usearch.index import Index  # imported here: only large libraries need it

    basis = _principal_axes(source, n, params.dims)
    id_pages: list[npt.NDArray[np.int64]] = []
    reduced_pages: list[npt.NDArray[np.float32]] = []
    for page_ids, vectors in source.pages():
        id_pages.append(page_ids)
        reduced_pages.append(vectors.astype(np.float32) @ basis)
    ids = np.concatenate(id_pages)
    reduced = np.concatenate(reduced_pages)
    del reduced_pages
    filled = len(ids)
    index = Index(
        ndim=reduced.shape[1],
        metric="l2sq",
        dtype="f16",
        connectivity=params.connectivity,
        expansion_add=params.expansion_add,
        expansion_search=params.expansion_search,
    )
    positions = np.arange(filled, dtype=np.uint64)
    index.add(positions, reduced, threads=params.threads)
    found = index.search(reduced, params.neighbours + 1, threads=params.threads)
    keys = np.asarray(found.keys, dtype=np.int64)
    squared = np.asarray(found.distances, dtype=np.float32)
    # the projection never lengthens a difference: a true pair is within 2d here (+ f16 slack)
    rows, cols = np.nonzero((squared <= 2.0 * threshold + 1e-3) & (keys >= 0))
    candidates = {
        (min(r, int(keys[r, c])), max(r, int(keys[r, c])))
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        if int(keys[r, c]) != r
    }
    return _confirm(source, ids, sorted(candidates), threshold)


def _principal_axes(source: VectorSource, n: int, dims: int) -> npt.NDArray[np.float32]:
    """The ``dims`` leading principal axes (columns) of an even sample of the vectors."""
    step = max(1, math.ceil(n / _SAMPLE))
    rows: list[Vectors] = []
    seen = 0
    for _, vectors in source.pages():
        take = np.arange((-seen) % step, len(vectors), step)
        rows.append(vectors[take].astype(np.float32))
        seen += len(vectors)
    sample = np.concatenate(rows)
    centred = sample - sample.mean(axis=0)
    covariance = centred.T @ centred
    _, axes = np.linalg.eigh(covariance)  # ascending eigenvalues
    dims = min(dims, axes.shape[1])
    return np.ascontiguousarray(axes[:, ::-1][:, :dims], dtype=np.float32)


def _confirm(
    source: VectorSource,
    ids: npt.NDArray[np.int64],
    candidates: Sequence[tuple[int, int]],
    threshold: float,
) -> list[Pair]:
    """The candidates (positions into ``ids``) whose full vectors are within ``threshold``."""
    pairs: list[Pair] = []
    for start in range(0, len(candidates), 8192):
        chunk = candidates[start : start + 8192]
        members = sorted({p for pair in chunk for p in pair})
        where = {p: i for i, p in enumerate(members)}
        full = source.fetch([int(ids[p]) for p in members]).astype(np.float32)
        left = full[[where[a] for a, _ in chunk]]
        right = full[[where[b] for _, b in chunk]]
        distances = 1.0 - np.einsum("ij,ij->i", left, right)
        for (a, b), d in zip(chunk, distances.tolist(), strict=True):
            if d <= threshold:
                x, y = int(ids[a]), int(ids[b])
                pairs.append(Pair(min(x, y), max(x, y), max(0.0, d)))
    return pairs


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
