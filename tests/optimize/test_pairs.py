"""Close pairs kept between runs (photoark.optimize.pairs): whatever happened since the last
run (photos added, deleted, re-embedded, another model, a damaged or missing index file, a
looser threshold, a run killed half-way), the answer is the pairs an exact comparison of the
library as it is now gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from photoark.client.state.db import StateDB
from photoark.client.state.similarpairs import IndexRecord, SimilarPairs
from photoark.optimize import pairs as pairs_module
from photoark.optimize.neighbours import (
    ArraySource,
    IndexParams,
    Pair,
    close_pairs,
    fingerprints,
    two_hop,
)
from photoark.optimize.pairs import FOLDER, library_pairs

DIM = 256
INDEXED = IndexParams(exact_below=0, threads=1)  # the index path, whatever the size
# planted pairs, at these cosine distances (none within 0.01 of a threshold used below)
DISTANCES = (0.01, 0.03, 0.05, 0.07, 0.085, 0.12, 0.14, 0.18)

Vectors = npt.NDArray[np.float16]


def _library(n: int, planted: int, seed: int = 0) -> Vectors:
    """``n`` unit vectors shaped like embeddings (most variance in a few dozen directions),
    far apart, except ``planted`` pairs at :data:`DISTANCES` (in turn), spread over the ids:
    photo ``order[2k]`` and ``order[2k + 1]`` for a random order."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((48, DIM))
    x = rng.standard_normal((n, 48)) @ mixing + 0.3 * rng.standard_normal((n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(n)
    for k in range(planted):
        a, b = order[2 * k], order[2 * k + 1]
        x[b] = _at_distance(x[a], DISTANCES[k % len(DISTANCES)], rng)
    return x.astype(np.float16)


def _at_distance(x: npt.NDArray[np.floating], d: float, rng: np.random.Generator) -> Any:
    u = rng.standard_normal(len(x))
    u -= (u @ x) * x
    u /= np.linalg.norm(u)
    y = x + np.sqrt(1.0 / (1.0 - d) ** 2 - 1.0) * u
    return y / np.linalg.norm(y)


def _exact(ids: list[int], vectors: Vectors, threshold: float) -> dict[tuple[int, int], float]:
    found = close_pairs(ArraySource(ids, vectors), threshold, IndexParams(exact_below=10**9))
    return {(p.a, p.b): p.distance for p in found}


def _same(found: list[Pair], ids: list[int], vectors: Vectors, threshold: float) -> None:
    """``found`` is exactly what an exact comparison of the library gives, in (a, b) order."""
    exact = _exact(ids, vectors, threshold)
    assert [(p.a, p.b) for p in found] == sorted(exact)
    assert all(abs(exact[(p.a, p.b)] - p.distance) < 1e-4 for p in found)


def _run(
    db: StateDB,
    ids: list[int],
    vectors: Vectors,
    threshold: float = 0.1,
    model: str = "m",
    params: IndexParams = INDEXED,
    pair_threshold: float | None = None,
) -> list[Pair]:
    return library_pairs(
        db,
        ArraySource(ids, vectors, page=300),
        model,
        vectors.shape[1],
        threshold,
        params,
        pair_threshold=pair_threshold,
    )


def _record(db: StateDB, model: str = "m") -> IndexRecord:
    record = SimilarPairs(db).record(model)
    assert record is not None
    return record


def _files(db: StateDB) -> list[str]:
    return sorted(p.name for p in (db.path.parent / FOLDER).iterdir())


@pytest.fixture
def db(tmp_path: Path) -> Any:
    opened = StateDB(tmp_path / "state.db")
    yield opened
    opened.close()


def test_a_first_run_builds_the_index_and_keeps_it_with_the_pairs(db: StateDB) -> None:
    vectors = _library(1500, 40)
    ids = list(range(1000, 2500))
    found = _run(db, ids, vectors)
    _same(found, ids, vectors, 0.1)
    assert len(found) == 25  # the planted pairs within 0.1 (5 of each 8)
    record = _record(db)
    assert (record.generation, record.built, record.changed) == (1, 1500, 0)
    assert json.loads(record.settings)["threshold"] == 0.1
    assert _files(db) == [record.file]
    assert len(SimilarPairs(db).pairs("m", 1.0)) == 25


def test_added_photos_are_compared_without_a_new_build(
    db: StateDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = _library(2000, 120, seed=1)  # planted pairs straddle the first 1 700 and the rest
    ids = list(range(2000))
    _run(db, ids[:1700], vectors[:1700])
    first = _record(db)

    def no_build(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a full build")

    monkeypatch.setattr(pairs_module, "close_pairs", no_build)
    found = _run(db, ids, vectors)
    _same(found, ids, vectors, 0.1)
    assert any(p.a < 1700 <= p.b for p in found) and any(p.a >= 1700 for p in found)
    record = _record(db)
    assert (record.generation, record.built, record.changed) == (2, 1700, 300)
    assert _files(db) == [record.file] and record.file != first.file
    # nothing new: the kept pairs, nothing written
    assert _run(db, ids, vectors) == found
    assert _record(db) == record


def test_deleted_and_re_embedded_photos_drop_out_and_come_back(db: StateDB) -> None:
    vectors = _library(2000, 120, seed=2)
    ids = list(range(2000))
    before = _run(db, ids, vectors)
    a, b = before[0].a, before[0].b  # a planted pair
    c, d = before[1].a, before[1].b
    # b deleted (trashed, or now an exact copy left to dedup): its pair goes
    # d re-embedded far from c (its pair goes) and close to a photo of no pair (one comes)
    loner = next(i for i in ids if all(i not in (p.a, p.b) for p in before))
    changed = vectors.copy()
    changed[d] = _at_distance(vectors[loner].astype(np.float64), 0.04, np.random.default_rng(5))
    live = [i for i in ids if i != b]
    found = _run(db, live, changed[live])
    _same(found, live, changed[live], 0.1)
    assert (a, b) not in {(p.a, p.b) for p in found}
    assert (c, d) not in {(p.a, p.b) for p in found}
    assert (min(d, loner), max(d, loner)) in {(p.a, p.b) for p in found}
    assert _record(db).built == 2000  # incremental
    # b restored: its pair is back
    found = _run(db, ids, changed)
    _same(found, ids, changed, 0.1)
    assert (a, b) in {(p.a, p.b) for p in found}
    assert _record(db).built == 2000


def test_many_changes_mean_a_new_build(db: StateDB) -> None:
    vectors = _library(2000, 60, seed=3)
    ids = list(range(2000))
    _run(db, ids[:1000], vectors[:1000])
    found = _run(db, ids, vectors)  # doubled: the projection was fitted on half of it
    _same(found, ids, vectors, 0.1)
    record = _record(db)
    assert (record.generation, record.built, record.changed) == (2, 2000, 0)


def test_another_model_or_dimension_or_tuning_never_uses_the_kept_index(db: StateDB) -> None:
    vectors = _library(1500, 40, seed=4)
    ids = list(range(1500))
    _run(db, ids, vectors)
    kept = _record(db)
    # another model: its own state, the first one's untouched
    other = _library(1500, 40, seed=5)
    _same(_run(db, ids, other, model="m2"), ids, other, 0.1)
    assert _record(db) == kept and _record(db, "m2").generation == 1
    assert len(_files(db)) == 2
    # the same model name with another dimension (a changed graph): a new build
    wider = np.concatenate([vectors, np.zeros((1500, 64), np.float16)], axis=1)
    _same(_run(db, ids, wider), ids, wider, 0.1)
    assert (_record(db).generation, json.loads(_record(db).settings)["dim"]) == (2, 320)
    # other index parameters: a new build
    tuned = IndexParams(exact_below=0, threads=1, connectivity=12)
    _same(_run(db, ids, wider, params=tuned), ids, wider, 0.1)
    assert _record(db).generation == 3 and _record(db).built == 1500


@pytest.mark.parametrize(
    "damage", ["missing", "truncated", "one byte", "garbage", "an older generation", "empty"]
)
def test_a_missing_or_damaged_index_file_means_a_new_build(db: StateDB, damage: str) -> None:
    vectors = _library(1800, 60, seed=6)
    ids = list(range(1800))
    _run(db, ids[:1600], vectors[:1600])
    older = (db.path.parent / FOLDER / _record(db).file).read_bytes()
    _run(db, ids[:1700], vectors[:1700])
    path = db.path.parent / FOLDER / _record(db).file
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "one byte":
        at = len(data) - 1000  # inside usearch's graph
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x40]) + data[at + 1 :])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif damage == "an older generation":
        path.write_bytes(older)
    else:
        path.write_bytes(b"")
    found = _run(db, ids, vectors)
    _same(found, ids, vectors, 0.1)
    record = _record(db)
    assert (record.built, record.changed) == (1800, 0)
    assert _files(db) == [record.file]


def test_a_damaged_record_means_a_new_build(db: StateDB) -> None:
    vectors = _library(1500, 40, seed=7)
    ids = list(range(1500))
    _run(db, ids, vectors)
    db.execute("UPDATE similar_index SET settings = '{not json'")
    _same(_run(db, ids, vectors), ids, vectors, 0.1)
    assert _record(db).generation == 2


def test_a_threshold_above_the_kept_one_means_a_new_build(db: StateDB) -> None:
    vectors = _library(1500, 64, seed=8)
    ids = list(range(1500))
    found = _run(db, ids, vectors, threshold=0.1)
    _same(found, ids, vectors, 0.1)
    assert all(p.distance <= 0.1 for p in found)
    found = _run(db, ids, vectors, threshold=0.15)
    _same(found, ids, vectors, 0.15)
    assert any(p.distance > 0.1 for p in found)
    record = _record(db)
    assert record.generation == 2 and json.loads(record.settings)["threshold"] == 0.15
    # below the kept threshold: the kept pairs, filtered
    _same(_run(db, ids, vectors, threshold=0.06), ids, vectors, 0.06)
    assert _record(db) == record


def test_the_pairs_are_kept_within_the_loosest_threshold_asked_for(db: StateDB) -> None:
    more = _library(1700, 80, seed=9)
    vectors = more[:1500]
    ids = list(range(1500))
    tight = _run(db, ids, vectors, threshold=0.06, pair_threshold=0.2)
    _same(tight, ids, vectors, 0.06)
    record = _record(db)
    assert json.loads(record.settings)["threshold"] == 0.2
    _same(_run(db, ids, vectors, threshold=0.2, pair_threshold=0.2), ids, vectors, 0.2)
    assert _record(db) == record  # no new build
    # new photos: their pairs kept within 0.2 as well
    ids = list(range(1700))
    _same(_run(db, ids, more, threshold=0.06, pair_threshold=0.2), ids, more, 0.06)
    _same(_run(db, ids, more, threshold=0.2, pair_threshold=0.2), ids, more, 0.2)
    assert _record(db).built == 1500


def test_a_photo_that_cannot_be_read_back_is_left_for_the_next_run(db: StateDB) -> None:
    vectors = _library(1800, 120, seed=13)
    ids = list(range(1800))
    first = _run(db, ids[:1600], vectors[:1600])
    old = next(a for a, b in _exact(ids, vectors, 0.1) if a < 1600 <= b)

    class Vanishing(ArraySource):  # the row went (or changed) after the pass over the library
        def fetch(self, wanted: Any) -> Any:
            if old in wanted:
                raise KeyError(old)
            return super().fetch(wanted)

    found = library_pairs(db, Vanishing(ids, vectors), "m", DIM, 0.1, INDEXED)
    exact = _exact(ids, vectors, 0.1)
    assert {(p.a, p.b) for p in found} == {pair for pair in exact if old not in pair} | {
        (p.a, p.b) for p in first
    }


def test_a_small_library_is_compared_exactly_and_keeps_nothing(db: StateDB) -> None:
    vectors = _library(500, 20, seed=10)
    ids = list(range(500))
    found = _run(db, ids, vectors, params=IndexParams(exact_below=600))
    _same(found, ids, vectors, 0.1)
    assert SimilarPairs(db).record("m") is None
    assert not (db.path.parent / FOLDER).exists()


def test_an_index_file_that_cannot_be_written_leaves_the_last_state(
    db: StateDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = _library(1800, 60, seed=11)
    ids = list(range(1800))
    _run(db, ids[:1600], vectors[:1600])
    kept = _record(db)

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)  # the rename of the written index file
    _same(_run(db, ids, vectors), ids, vectors, 0.1)  # the answer is right all the same
    assert _record(db) == kept and _files(db) == [kept.file]  # no temporary file left
    monkeypatch.undo()
    _same(_run(db, ids, vectors), ids, vectors, 0.1)
    assert _record(db).generation == 2


_KILLED_RUN = """
import os, signal, sys
from pathlib import Path
import numpy as np
from photoark.client.state.db import StateDB
from photoark.client.state import similarpairs
from photoark.optimize import pairs
from photoark.optimize.neighbours import ArraySource, IndexParams

where, folder = sys.argv[1], Path(sys.argv[2])

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if where == "writing the index file":
    real_crc = pairs.zlib.crc32
    calls = []
    def crc32(data, value=0):  # killed with part of the file written
        calls.append(1)
        if len(calls) == 3:
            die()
        return real_crc(data, value)
    pairs.zlib.crc32 = crc32
elif where == "before the pairs are committed":
    similarpairs.SimilarPairs.update = die
else:  # after the commit, before the old file is deleted
    pairs._sweep = die
vectors = np.load(folder / "vectors.npy")
db = StateDB(folder / "state.db")
pairs.library_pairs(
    db, ArraySource(range(len(vectors)), vectors), "m", vectors.shape[1], 0.1,
    IndexParams(exact_below=0, threads=1),
)
"""


@pytest.mark.parametrize(
    "where",
    [
        "writing the index file",
        "before the pairs are committed",
        "after the commit, before the old file is deleted",
    ],
)
def test_a_run_killed_at_any_point_leaves_a_usable_state(tmp_path: Path, where: str) -> None:
    vectors = _library(1800, 60, seed=12)
    ids = list(range(1800))
    db = StateDB(tmp_path / "state.db")
    _run(db, ids[:1600], vectors[:1600])
    db.close()
    np.save(tmp_path / "vectors.npy", vectors)
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_RUN), where, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    db = StateDB(tmp_path / "state.db")
    assert len(_files(db)) == 2  # what the killed run left: a temporary or an older file
    found = _run(db, ids, vectors)
    _same(found, ids, vectors, 0.1)
    record = _record(db)
    assert _files(db) == [record.file]
    if where.startswith("after the commit"):
        assert record.generation == 2  # the killed run's work was kept: nothing new to do
    _same(_run(db, ids, vectors), ids, vectors, 0.1)
    db.close()


def test_photos_close_to_one_same_photo_are_compared_even_when_the_index_misses_them(
    db: StateDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 50 clusters of 4 photos within 0.1 of each other; the index hands each photo 1 neighbour
    rng = np.random.default_rng(14)
    vectors = _library(1550, 0, seed=14).astype(np.float64)
    for c in range(50):
        for member in (4 * c + 1, 4 * c + 2, 1500 + c):  # the fourth comes later
            vectors[member] = _at_distance(vectors[4 * c], 0.03, rng)
    grown = vectors.astype(np.float16)
    one = IndexParams(exact_below=0, threads=1, neighbours=1)
    ids = list(range(1500))
    _same(_run(db, ids, grown[:1500], params=one), ids, grown[:1500], 0.1)
    assert len(_exact(ids, grown[:1500], 0.1)) == 50 * 3
    monkeypatch.setattr(pairs_module, "_BOOST", 1)  # a new photo finds 1 of its 3 as well
    ids = list(range(1550))
    _same(_run(db, ids, grown, params=one), ids, grown, 0.1)
    assert len(_exact(ids, grown, 0.1)) == 50 * 6
    assert _record(db).built == 1500


def test_two_hop_proposes_the_pairs_of_a_photo_s_closest_neighbours() -> None:
    a = np.array([1, 1, 2, 5, 7], dtype=np.int64)
    b = np.array([2, 3, 4, 6, 8], dtype=np.int64)
    d = np.array([0.1, 0.2, 0.1, 0.1, 0.1], dtype=np.float32)
    assert two_hop(a, b, d).tolist() == [[1, 4], [2, 3]]  # via 2, via 1
    assert two_hop(a[:1], b[:1], d[:1]).shape == (0, 2)
    # a crowded photo: only its 16 closest neighbours' pairs
    hub = np.zeros(20, dtype=np.int64)
    others = np.arange(1, 21, dtype=np.int64)
    proposed = two_hop(hub, others, np.linspace(0.01, 0.2, 20, dtype=np.float32))
    assert len(proposed) == 16 * 15 // 2 and proposed.max() == 16


def test_a_version_6_state_db_gets_the_tables(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    db.execute("DROP TABLE similar_pairs")
    db.execute("DROP TABLE similar_index")
    db.set_meta("schema_version", "6")
    db.close()
    db = StateDB(tmp_path / "state.db")
    assert db.get_meta("schema_version") == "7"
    assert SimilarPairs(db).record("m") is None and SimilarPairs(db).pairs("m", 1.0) == []
    db.close()


def test_fingerprints_tell_a_changed_vector() -> None:
    vectors = _library(50, 0)
    prints = fingerprints(vectors)
    assert len(set(prints.tolist())) == 50
    assert np.array_equal(prints, fingerprints(vectors.copy()))
    nudged = vectors.copy()
    nudged[7, 100] = np.nextafter(nudged[7, 100], np.float16(1))
    assert (fingerprints(nudged) != prints).tolist() == [i == 7 for i in range(50)]
    assert not np.array_equal(fingerprints(vectors.astype(np.float32)), prints)
