"""Every close pair of a library, kept between runs, so that a few new photos cost a few
seconds instead of a new comparison of the whole library.

:func:`library_pairs` is what the grouping calls. For a library of at most
``params.exact_below`` photos it simply compares every pair again (:func:`.close_pairs`: well
under a second at 6 000, and nothing to keep consistent). A larger one keeps, per model:

- the **pairs**: every pair found within the *kept threshold*, the loosest the grouping asks
  for (its ``pair_threshold``), in the state DB (:mod:`photoark.client.state.similarpairs`);
- the **index** they were found with, in a file beside the state DB (``similar/``): the
  usearch HNSW graph over the PCA projection, the projection's basis, and the ids it holds with
  a *fingerprint* of each one's vector (:func:`.fingerprints`). The ids and fingerprints are
  the watermark: what the index holds, and of which vectors;
- a **record** tying them together: the file's name, checksum and generation, the settings
  (dimension, kept threshold, index parameters) and how much changed since the last full build.

A run reads the library's vectors once (``source.pages()``, as a full build does), so it
sees exactly what a full comparison would: the live, decodable embeddings of the photos that
take part. Against the watermark, each is *known* (same id, same fingerprint) or *new*
(added, restored, no longer an excluded copy, or re-embedded); an indexed id that is not
known any more is *gone* (deleted, trashed, now an excluded copy, or re-embedded). Then:

1. gone ids are removed from the index and their pairs deleted;
2. new vectors are projected, added to the index and searched (twice the neighbours and the
   search expansion of a full build: there are few of them); candidates within ``2·threshold``
   in the index (the projection never lengthens a difference, see :mod:`.neighbours`) and,
   as in a full build, photos close to one same photo (:func:`.two_hop`), a new one among
   them, are confirmed on the full vectors (the new ones in memory, the others fetched);
3. the new index file is written under a new name (temporary file, then rename), then the
   pairs and the record change in one transaction, then the old file is deleted.

A kill at any point leaves the previous record, its file and its pairs whole (or the new
ones). A record that cannot be used (no file, a checksum or a header that does not match,
other settings, a kept threshold below the one asked for, a file usearch refuses) or an index
that drifted too far (more than a quarter of it added or removed since it was built, so the
projection fitted then may no longer suit) means a full build, like the first one: never a
crash and never an answer from a state that does not match the library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from photoark.client.state.db import StateDB
from photoark.client.state.similarpairs import IndexRecord, PairRow, SimilarPairs
from photoark.ml.errors import ModelError
from photoark.optimize.neighbours import (
    BuiltIndex,
    IndexParams,
    Pair,
    VectorSource,
    candidate_slack,
    close_pairs,
    fingerprints,
    new_index,
    to_float32,
    two_hop,
)

__all__ = ["FOLDER", "library_pairs"]

FOLDER: Final = "similar"  # beside the state DB: the index files
_FORMAT: Final = 1  # of the index file and the settings; a change means a full build
_MAGIC: Final = b"photoark-pairs\x00\x01"
_REBUILD_AFTER: Final = 0.25  # share of the built index added or removed since: build again
_BOOST: Final = 2  # new photos' searches: this many times the neighbours and the expansion
_FETCH: Final = 4096  # vectors fetched by id at a time
_COMPARE: Final = 1024  # pairs compared at a time
_ALIGN: Final = 64


def library_pairs(
    db: StateDB,
    source: VectorSource,
    model: str,
    dim: int,
    threshold: float,
    params: IndexParams = IndexParams(),
    spill_dir: Path | None = None,
    *,
    pair_threshold: float | None = None,
) -> list[Pair]:
    """Every pair of ``source``'s ids within cosine ``threshold``, sorted by (a, b), found
    incrementally against what the state DB kept from the last run. ``pair_threshold``: the
    loosest threshold the caller will ask for (what is kept; default ``threshold``): asking for
    more than what was kept means a full build. ``spill_dir``: where a full build keeps its
    temporary copy of the vectors (default: the system's temporary directory)."""
    n = source.count()
    if n <= params.exact_below:
        return sorted(close_pairs(source, threshold, params, spill_dir), key=_order)
    kept = max(threshold, pair_threshold if pair_threshold is not None else threshold)
    state = SimilarPairs(db)
    record = state.record(model)
    loaded = _load(db, record, dim, params, kept)
    if loaded is not None and record is not None:
        pairs = _update(db, state, record, loaded, source, params)
        if pairs is not None:
            return [p for p in pairs if p.distance <= threshold]
    return _build(db, state, record, source, model, dim, kept, params, spill_dir, threshold)


@dataclass
class _Loaded:
    index: Any  # usearch.index.Index
    basis: npt.NDArray[np.float32]
    ids: npt.NDArray[np.int64]  # sorted
    prints: npt.NDArray[np.uint64]  # aligned with ids
    settings: dict[str, Any]
    dtype: str


def _settings(dim: int, threshold: float, params: IndexParams) -> dict[str, Any]:
    tuning = dataclasses.asdict(params)
    tuning.pop("threads")  # neither changes the index nor the pairs
    tuning.pop("exact_below")
    return {"format": _FORMAT, "dim": dim, "threshold": threshold, "index": tuning}


def _folder(db: StateDB) -> Path:
    return db.path.parent / FOLDER


def _stem(model: str) -> str:
    """A file-name-safe, collision-free stem for ``model``'s files."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model)[:48]
    return f"{safe}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


# -- a full build ----------------------------------------------------------------------------


def _build(
    db: StateDB,
    state: SimilarPairs,
    record: IndexRecord | None,
    source: VectorSource,
    model: str,
    dim: int,
    kept: float,
    params: IndexParams,
    spill_dir: Path | None,
    threshold: float,
) -> list[Pair]:
    generation = record.generation + 1 if record is not None else 1
    settings = _settings(dim, kept, params)
    saved: list[tuple[str, str, int]] = []  # (file, checksum, photos)

    def keep(built: BuiltIndex) -> None:
        order = np.argsort(built.ids, kind="stable")
        with contextlib.suppress(OSError):  # not kept (no space?): the pairs are right anyway
            name, checksum = _save(
                db, model, generation, settings, built.dtype, built.index, built.basis,
                built.ids[order], built.fingerprints[order],
            )  # fmt: skip
            saved.append((name, checksum, len(order)))

    params = dataclasses.replace(params, exact_below=0)  # a count under it was an estimate
    pairs = close_pairs(source, kept, params, spill_dir, keep=keep)
    if saved:
        name, checksum, photos = saved[0]
        fresh = IndexRecord(model, generation, name, json.dumps(settings), checksum, photos, 0)
        state.replace(fresh, [(p.a, p.b, p.distance) for p in pairs])
        _sweep(db, model, keep=name)
    return [p for p in pairs if p.distance <= threshold]


# -- an incremental run ----------------------------------------------------------------------


def _update(
    db: StateDB,
    state: SimilarPairs,
    record: IndexRecord,
    loaded: _Loaded,
    source: VectorSource,
    params: IndexParams,
) -> list[Pair] | None:
    """Bring the kept index and pairs up to date with ``source``; the pairs (all of them,
    within the kept threshold), or None when a full build is due."""
    kept = float(loaded.settings["threshold"])
    known_ids: list[npt.NDArray[np.int64]] = []
    new_ids: list[npt.NDArray[np.int64]] = []
    new_prints: list[npt.NDArray[np.uint64]] = []
    new_rows: list[npt.NDArray[np.float32]] = []
    for page_ids, vectors in source.pages():
        ids = np.asarray(page_ids, dtype=np.int64)
        if not len(ids):
            continue
        prints = fingerprints(vectors)
        where = np.minimum(np.searchsorted(loaded.ids, ids), len(loaded.ids) - 1)
        known = (loaded.ids[where] == ids) & (loaded.prints[where] == prints)
        known_ids.append(ids[known])
        if not known.all():
            new_ids.append(ids[~known])
            new_prints.append(prints[~known])
            new_rows.append(to_float32(vectors[~known]).copy())
    known = _joined(known_ids, np.int64)
    gone = loaded.ids[~np.isin(loaded.ids, known)]
    added = _joined(new_ids, np.int64)
    if not len(gone) and not len(added):
        _sweep(db, record.model, keep=record.file)  # what a run killed before it left
        return _stored(state, record.model, kept)
    changed = record.changed + len(gone) + len(added)
    if changed > _REBUILD_AFTER * max(record.built, 1) or len(known) + len(added) < 2:
        return None
    index = loaded.index
    if len(gone):
        index.remove(gone.astype(np.uint64))
    found: list[PairRow] = []
    if len(added):
        vectors = np.concatenate(new_rows)
        del new_rows
        found = _search_new(loaded, added, vectors, source, kept, params)
        found += _hop_new(state, record.model, found, gone, added, vectors, source, kept)
    ids = np.concatenate([known, added])
    prints = np.concatenate(
        [loaded.prints[np.searchsorted(loaded.ids, known)], _joined(new_prints, np.uint64)]
    )
    order = np.argsort(ids, kind="stable")
    generation = record.generation + 1
    try:
        name, checksum = _save(
            db, record.model, generation, loaded.settings, loaded.dtype, index, loaded.basis,
            ids[order], prints[order],
        )  # fmt: skip
    except OSError:  # not kept (no space?): this run's answer is right all the same
        kept_pairs = [*_stored(state, record.model, kept, without=gone), *_pairs(found)]
        return sorted(kept_pairs, key=_order)
    fresh = dataclasses.replace(
        record, generation=generation, file=name, checksum=checksum, changed=changed
    )
    state.update(fresh, gone.tolist(), found)
    _sweep(db, record.model, keep=name)
    return _stored(state, record.model, kept)


def _search_new(
    loaded: _Loaded,
    added: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    source: VectorSource,
    kept: float,
    params: IndexParams,
) -> list[PairRow]:
    """Add the new photos to the index, and their pairs within ``kept`` (with each other and
    with the photos already there), confirmed on the full vectors."""
    index = loaded.index
    reduced = np.ascontiguousarray(vectors @ loaded.basis)
    index.add(added.astype(np.uint64), reduced, threads=params.threads)
    index.expansion_search = params.expansion_search * _BOOST
    count = min(len(index), (params.neighbours + 1) * _BOOST)
    found = index.search(reduced, count, threads=params.threads)
    keys = np.asarray(found.keys).reshape(len(added), -1)
    squared = np.asarray(found.distances, dtype=np.float32).reshape(keys.shape)
    valid = keys < np.uint64(2**63)  # unused slots hold a sentinel
    others = np.where(valid, keys, 0).astype(np.int64)
    rows = np.broadcast_to(added[:, None], keys.shape)
    near = valid & (others != rows)
    near &= squared <= 2.0 * kept + candidate_slack(kept, loaded.dtype)
    candidates = np.unique(
        np.sort(np.stack([rows[near], others[near]], axis=1), axis=1).reshape(-1, 2), axis=0
    )
    return _confirm_new(candidates, added, vectors, source, kept) if len(candidates) else []


def _hop_new(
    state: SimilarPairs,
    model: str,
    found: list[PairRow],
    gone: npt.NDArray[np.int64],
    added: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    source: VectorSource,
    kept: float,
) -> list[PairRow]:
    """A round of :func:`.two_hop` around the new pairs, as the full build does: photos close
    to one same photo, a new one among them."""
    touched = sorted({i for a, b, _ in found for i in (a, b)})
    dropped = set(gone.tolist())
    rows = [r for r in state.pairs_of(model, touched) if not dropped & {r[0], r[1]}] + found
    if not rows:
        return []
    a, b, d = (np.array(column) for column in zip(*rows, strict=True))
    hop = two_hop(a.astype(np.int64), b.astype(np.int64), d.astype(np.float32))
    hop = hop[np.isin(hop, added).any(axis=1)]
    return _confirm_new(hop, added, vectors, source, kept) if len(hop) else []


def _confirm_new(
    candidates: npt.NDArray[np.int64],
    added: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    source: VectorSource,
    kept: float,
) -> list[PairRow]:
    """The candidate pairs (ids, each touching a new photo) within ``kept`` on the full
    vectors: the new ones' are in memory, the others' fetched ``_FETCH`` at a time (each pair
    is compared with the chunk that holds its other photo; pairs of two new ones, first)."""
    order = np.argsort(added, kind="stable")
    new_ids, new_rows = added[order], vectors[order]
    theirs = np.where(np.isin(candidates[:, 0], new_ids), candidates[:, 1], candidates[:, 0])
    both_new = np.isin(theirs, new_ids)
    outside = np.unique(theirs[~both_new])
    found: list[PairRow] = []
    for start in range(0, len(outside) + 1, _FETCH):
        got_ids, got = _fetch(source, outside[start : start + _FETCH], vectors.shape[1])
        held_ids = np.concatenate([new_ids, got_ids])
        mine = np.isin(theirs, got_ids) | (both_new if start == 0 else False)
        by_id = np.argsort(held_ids, kind="stable")
        at = by_id[np.searchsorted(held_ids[by_id], candidates[mine])]
        _within(found, candidates[mine], np.concatenate([new_rows, got]), at, kept)
    return found


def _within(
    out: list[PairRow],
    pairs: npt.NDArray[np.int64],
    held: npt.NDArray[np.float32],
    at: npt.NDArray[np.int64],
    kept: float,
) -> None:
    """Append the ``pairs`` whose vectors (rows ``at`` of ``held``) are within ``kept``,
    ``_COMPARE`` at a time."""
    for start in range(0, len(pairs), _COMPARE):
        rows = at[start : start + _COMPARE]
        distances = 1.0 - np.einsum("ij,ij->i", held[rows[:, 0]], held[rows[:, 1]])
        close = np.flatnonzero(distances <= kept)
        pairs_close = pairs[start : start + _COMPARE][close].tolist()
        out += [
            (p, q, max(0.0, d))
            for (p, q), d in zip(pairs_close, distances[close].astype(float).tolist(), strict=True)
        ]


def _fetch(
    source: VectorSource, ids: npt.NDArray[np.int64], dim: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The vectors of ``ids`` (sorted) that can still be read: a row that changed or went
    since the pass over the library is left out (the next run sees it as changed)."""
    if not len(ids):
        return ids, np.zeros((0, dim), np.float32)
    try:
        return ids, to_float32(source.fetch(ids.tolist())).reshape(len(ids), dim)
    except (LookupError, ValueError, ModelError):
        readable: list[tuple[int, npt.NDArray[np.float32]]] = []
        for one in ids.tolist():
            with contextlib.suppress(LookupError, ValueError, ModelError):
                readable.append((one, to_float32(source.fetch([one])).reshape(dim)))
        got = np.array([i for i, _ in readable], dtype=np.int64)
        return got, np.array([v for _, v in readable], np.float32).reshape(len(got), dim)


def _order(pair: Pair) -> tuple[int, int]:
    return pair.a, pair.b


def _joined(parts: Sequence[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _pairs(rows: Iterable[PairRow]) -> list[Pair]:
    return [Pair(a, b, d) for a, b, d in rows]


def _stored(
    state: SimilarPairs, model: str, kept: float, without: npt.NDArray[np.int64] | None = None
) -> list[Pair]:
    rows = state.pairs(model, kept)
    if without is not None and len(without):
        drop = set(without.tolist())
        rows = [r for r in rows if r[0] not in drop and r[1] not in drop]
    return _pairs(rows)


# -- the index file --------------------------------------------------------------------------


def _save(
    db: StateDB,
    model: str,
    generation: int,
    settings: dict[str, Any],
    dtype: str,
    index: Any,
    basis: npt.NDArray[np.float32],
    ids: npt.NDArray[np.int64],
    prints: npt.NDArray[np.uint64],
) -> tuple[str, str]:
    """Write the index file of ``generation`` (a temporary file renamed into place); its name
    and checksum."""
    folder = _folder(db)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{_stem(model)}.{generation}.{secrets.token_hex(4)}.index"
    sections: list[tuple[str, npt.NDArray[Any]]] = [
        ("basis", np.ascontiguousarray(basis, dtype="<f4")),
        ("ids", np.ascontiguousarray(ids, dtype="<i8")),
        ("prints", np.ascontiguousarray(prints, dtype="<u8")),
        ("index", np.frombuffer(index.save(), dtype=np.uint8)),
    ]
    table: dict[str, list[Any]] = {}
    offset = 0
    for key, array in sections:
        table[key] = [array.dtype.str, list(array.shape), offset, array.nbytes]
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    about = {"model": model, "generation": generation, "settings": settings, "dtype": dtype}
    header = json.dumps(about | {"sections": table}).encode()
    head = _MAGIC + len(header).to_bytes(8, "little") + header
    head += bytes(-len(head) % _ALIGN)
    temporary = folder / f"{name}.tmp"
    pieces: list[bytes | memoryview] = [head]
    for _, array in sections:
        pieces += [array.reshape(-1).view(np.uint8).data, bytes(-array.nbytes % _ALIGN)]
    crc, size = 0, 0
    try:
        with open(temporary, "wb") as out:
            for piece in pieces:
                out.write(piece)
                crc = zlib.crc32(piece, crc)
                size += len(piece)
        os.replace(temporary, folder / name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return name, f"{size}:{crc:08x}"


def _load(
    db: StateDB,
    record: IndexRecord | None,
    dim: int,
    params: IndexParams,
    kept: float,
) -> _Loaded | None:
    """The kept index, when ``record`` can be used for a request within ``kept`` with these
    settings; None otherwise (and for a file that is missing, damaged or not the record's)."""
    if record is None:
        return None
    try:
        settings = json.loads(record.settings)
        threshold = float(settings["threshold"])
        if settings != _settings(dim, threshold, params) or threshold < kept:
            return None
        data = (_folder(db) / record.file).read_bytes()
        if f"{len(data)}:{zlib.crc32(data):08x}" != record.checksum or not data.startswith(_MAGIC):
            return None
        start = len(_MAGIC) + 8
        length = int.from_bytes(data[len(_MAGIC) : start], "little")
        header = json.loads(data[start : start + length])
        mine = (record.model, record.generation, settings)
        if (header["model"], header["generation"], header["settings"]) != mine:
            return None
        base = start + length + (-(start + length) % _ALIGN)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for key, (kind, shape, offset, nbytes) in header["sections"].items():
            array = np.frombuffer(
                data, dtype=np.dtype(kind), count=int(np.prod(shape)), offset=base + offset
            )
            if array.nbytes != nbytes:
                return None
            arrays[key] = array.reshape(shape)
        basis = arrays["basis"].astype(np.float32)
        ids = arrays["ids"].astype(np.int64)
        prints = arrays["prints"].astype(np.uint64)
        index = new_index(params, basis.shape[1], str(header["dtype"]))
        index.load(arrays["index"])
        del data, arrays
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None  # RuntimeError: usearch refused the index
    sound = basis.shape[0] == dim and index.ndim == basis.shape[1] and len(ids) > 0
    if not sound or not len(index) == len(ids) == len(prints) or np.any(ids[1:] <= ids[:-1]):
        return None
    return _Loaded(index, basis, ids, prints, settings, str(header["dtype"]))


def _sweep(db: StateDB, model: str, keep: str) -> None:
    """Delete the model's index files other than ``keep`` (older generations, and what an
    interrupted run left)."""
    with contextlib.suppress(OSError):
        for path in _folder(db).iterdir():
            if path.name.startswith(f"{_stem(model)}.") and path.name != keep:
                path.unlink(missing_ok=True)
