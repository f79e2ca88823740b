"""Grouping similar photos without the model: close pairs (exact and indexed paths agree), the
smart-album adds and a full disk (the grouping and the keeper rule: tests/optimize)."""

from __future__ import annotations

import contextlib
import errno
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from photoark.client.state.db import StateDB
from photoark.client.state.embeddings import EmbeddingCache
from photoark.client.state.mirror import Album, LibraryFile, Mirror
from photoark.optimize import neighbours
from photoark.optimize.grouping import Thresholds
from photoark.optimize.neighbours import ArraySource, IndexParams, Pair, close_pairs
from photoark.optimize.similar import (
    Member,
    NoSpaceForScan,
    Photo,
    SimilarGroup,
    find_similar,
    smart_adds,
)
from tests.ml.builders import encoded
from tests.optimize.builders import file_metadata


def _planted(
    n: int, groups: int, seed: int = 0
) -> tuple[npt.NDArray[np.float16], set[tuple[int, int]]]:
    """``n`` unit vectors in 256-d with a structure like image embeddings' (most variance in
    a few dozen directions), far apart, but the first ``2 * groups`` in close pairs."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((48, 256)).astype(np.float32)
    x = rng.standard_normal((n, 48)).astype(np.float32) @ mixing
    x += 0.3 * rng.standard_normal((n, 256)).astype(np.float32)
    for i in range(0, 2 * groups, 2):
        x[i + 1] = x[i] + rng.uniform(1.0, 2.5) * rng.standard_normal(256)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float16), {(i, i + 1) for i in range(0, 2 * groups, 2)}


def _pairs(pairs: list[Pair]) -> set[tuple[int, int]]:
    return {(p.a, p.b) for p in pairs}


def test_exact_and_indexed_paths_find_the_same_pairs() -> None:
    vectors, truth = _planted(3000, 100)
    source = ArraySource(range(3000), vectors, page=700)
    exact = close_pairs(source, 0.1, IndexParams(exact_below=10**9))
    indexed = close_pairs(source, 0.1, IndexParams(exact_below=0, threads=1))
    assert _pairs(exact) == truth
    assert _pairs(indexed) == truth
    assert all(0 <= p.distance <= 0.1 for p in indexed)
    by_pair = {(p.a, p.b): p.distance for p in exact}
    for p in indexed:
        assert abs(by_pair[(p.a, p.b)] - p.distance) < 1e-3


@pytest.mark.parametrize("dtype", ["f16", "bf16", "f32"])
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_indexed_path_spills_to_the_given_directory_and_cleans_up(
    dtype: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # float32 vectors stay float32 in the spill; every index precision finds every pair;
    # confirmed in several windows of held rows
    monkeypatch.setattr(neighbours, "_HELD", 16)
    vectors, truth = _planted(2000, 60, seed=3)
    source = ArraySource(range(2000), vectors.astype(np.float32), page=512)
    params = IndexParams(exact_below=0, threads=1, dtype=dtype)
    seen: list[list[Path]] = []
    spilled: list[str] = []
    real_confirm = neighbours._confirm

    def confirm(*args: Any) -> Any:
        seen.append(list(tmp_path.iterdir()))
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own descriptor is gone
                target = os.readlink(f"/proc/self/fd/{fd}")
                if target.startswith(str(tmp_path)):
                    spilled.append(target)
        return real_confirm(*args)

    monkeypatch.setattr(neighbours, "_confirm", confirm)
    pairs = close_pairs(source, 0.1, params, spill_dir=tmp_path)
    assert _pairs(pairs) == truth
    exact = {(p.a, p.b): p.distance for p in close_pairs(source, 0.1, IndexParams(10**9))}
    assert all(abs(exact[(p.a, p.b)] - p.distance) < 1e-6 for p in pairs)
    # an unlinked temporary file in that directory, open while comparing, gone after
    assert len(set(spilled)) == 1 and "deleted" in spilled[0]  # (the map holds a dup)
    assert seen == [[]] and list(tmp_path.iterdir()) == []


def test_pairs_use_ids_and_respect_the_threshold() -> None:
    vectors, _ = _planted(10, 2)
    ids = [100 + 7 * i for i in range(10)]
    pairs = close_pairs(ArraySource(ids, vectors), 0.1)
    assert _pairs(pairs) == {(100, 107), (114, 121)}
    assert close_pairs(ArraySource(ids, vectors), 0.0) == []
    assert close_pairs(ArraySource([], np.zeros((0, 256), dtype=np.float16)), 0.5) == []


def _photo(i: int, albums: tuple[int, ...] = (1,)) -> Photo:
    return Photo(
        id=i,
        pixels=100,
        format="jpeg",
        has_date=False,
        has_gps=False,
        metadata_fields=2,
        album_count=len(albums),
        taken=None,
        created_at=float(i),
        name=f"p{i}.jpg",
        hash=f"h{i}",
        album_ids=albums,
        width=10,
        height=10,
        size=10,
        taken_at=None,
        stored=10,
    )


def test_smart_adds_cover_every_album_of_a_removed_photo() -> None:
    keep = _photo(1, albums=(1,))
    other_keep = _photo(2, albums=(2,))
    gone = _photo(3, albums=(1, 2, 3, 4))
    group = SimilarGroup(
        (Member(keep, 0.0, True), Member(other_keep, 0.1, True), Member(gone, 0.2, False))
    )
    # albums 1 and 2 still show a kept photo; 3 and 4 get the first keeper
    assert smart_adds(group) == [(3, 1), (4, 1)]
    only = SimilarGroup((Member(keep, 0.0, True), Member(_photo(4, albums=(1,)), 0.1, False)))
    assert smart_adds(only) == []


def test_a_full_disk_during_the_scan_says_so_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors, _ = _planted(40, 5)
    db = StateDB(tmp_path / "state.db")
    mirror = Mirror(db)
    with db.transaction() as conn:
        mirror.put_album(conn, Album(1, "Camera", b"\0" * 32, 1))
        for i in range(1, 41):
            mirror.put_file(
                conn,
                LibraryFile(
                    id=i, hash=f"{i:064x}", name=f"IMG_{i}.jpg", size=10, type="image",
                    taken_at=None, taken_at_utc=None, file_key=b"\1" * 32,
                    metadata=file_metadata(name=f"IMG_{i}.jpg", hash=f"{i:064x}", size=10),
                    content_size=10, thumbnail_size=1, created_at=1.7e9 + i,
                ),
            )  # fmt: skip
            mirror.put_entry(conn, 1, i)
        rows = [(i, encoded(vectors[i - 1], i)) for i in range(1, 41)]
        EmbeddingCache.put(conn, "m", rows, sent=True)
    params = IndexParams(exact_below=0, threads=1)
    tiers = Thresholds(0.1, 0.1)

    class FullDisk(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    # the tempfile module neighbours spills to (the global one: patched for this test only);
    # a first scan (nothing kept yet from an earlier one) is a full build, which spills
    with monkeypatch.context() as patched:
        patched.setattr(
            "photoark.optimize.neighbours.tempfile.TemporaryFile", lambda **kw: FullDisk()
        )
        with pytest.raises(NoSpaceForScan, match=str(tmp_path)) as caught:
            find_similar(db, mirror, "m", 256, tiers, params)
    assert caught.value.hint
    assert EmbeddingCache(db).counts("m")["embedded"] == 40
    # nothing was changed: with room again, the scan finds the planted groups
    assert len(find_similar(db, mirror, "m", 256, tiers, params).groups) == 5
    db.close()
