"""Similar-photo pairs at library scale: a full scan of 100 000 photos, then 1 000 more.

What runs is the product's path: :func:`photoark.optimize.pairs.library_pairs` (every close
pair, kept in the state DB and an index file beside it between runs) over a real client state
DB (``StateDB`` + ``Mirror`` + ``EmbeddingCache``, read through ``CachedVectors`` leaving out
exact copies as ``find_similar`` does), then the grouping (``grouping.complete_linkage``, or
``similar.group_pairs`` where that is what the checkout has). Each scan runs in a fresh
process, so its wall time and peak RSS are those of the step alone (building the DB and adding
the photos are setup, not timed):

1. **full scan** of ``--photos`` photos (no kept state: the index is built and kept);
2. **incremental scan** after ``--add`` more photos are put in the DB (as the embedder would);
3. **re-run with nothing new** (the kept pairs are read back).

The library is synthetic, built on real embeddings: the EfficientNet-Lite0 embeddings of the
images of ``../shared/corpus`` (whole, and four crops each; computed once and cached under
``BENCH_ROOT/ml-cache``). Each photo is a Dirichlet mixture of two random real vectors plus
Gaussian noise shaped by the real covariance, minus a part of the mean, ReLU, L2-normalised;
the noise scale and the mean shift are set so the bulk of the all-pair distance distribution
matches the real one (both are printed). On top of that, near-duplicate groups are planted
(5 % of the photos, groups of 2-5: a photo and copies of it with smaller shaped noise, at
distances ~0.05-0.5 from it, those within the threshold are the ground truth), spread over
the initial and the added photos alike, and a few exact copies (same content hash: left out).

Measured per scan: wall time and its split (reading + decoding SQLite rows, PCA, HNSW add,
search, confirmation, index file load / save, pairs in SQLite, grouping), peak RSS of the scan
process, recall of the planted pairs within the threshold (found as a pair), an exact check of
every pair within the threshold around a sample of photos (matrix product against the whole
library), and the groups found.

    python bench/similar_group.py [--photos 100000] [--add 1000] [--threshold T]
        [--json-out FILE] [--noise S] [--check 2000] [--index dims=128,neighbours=10,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_ROOT,
    REPO,
    Table,
    announce_source,
    proc_status,
    scratch,
    use_checkout,
    write_json,
)

use_checkout()

from photoark.client.state.db import StateDB  # noqa: E402
from photoark.client.state.embeddings import EmbeddingCache  # noqa: E402
from photoark.client.state.mirror import Album, LibraryFile, Mirror  # noqa: E402
from photoark.ml import identity  # noqa: E402
from photoark.ml.codec import encode_embedding  # noqa: E402
from photoark.ml.fingerprint import Fingerprint  # noqa: E402
from photoark.ml.identity import EMBEDDING_DIM, model_name  # noqa: E402
from photoark.optimize.neighbours import IndexParams, Pair  # noqa: E402
from photoark.protocol.metadata import FileMetadata  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
CACHE = BENCH_ROOT / "ml-cache"
TARGET_FULL_SECONDS = 30.0
TARGET_INCREMENTAL_SECONDS = 5.0
TARGET_RSS = 400 * 2**20
TARGET_RECALL = 0.98
TARGET_PHOTOS = 100_000
TARGET_ADD = 1000
# the loosest threshold the grouping asks for: what the pairs are kept within
THRESHOLD: float = getattr(
    identity, "SIMILAR_THRESHOLD", getattr(identity, "DEFAULT_THRESHOLD", 0.35)
)
MODEL = model_name()  # what the rows are stored under, as `photoark similar` reads them
# every photo's fingerprint: detailed, and the same pHashes (the near tier is the vectors')
_DETAILED = Fingerprint((0,) * 8, 1.0, 720)
DIM = EMBEDDING_DIM
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".bmp"}

Floats = npt.NDArray[np.float32]

# -- real embeddings -------------------------------------------------------------------------


def real_embeddings(corpus: Path) -> Floats | None:
    """The corpus images' embeddings (whole + 4 crops each), cached; None (with a message)
    when the corpus or the model is not available."""
    cached = CACHE / f"corpus-embeddings-{MODEL}.npy"
    if cached.exists():
        loaded: Floats = np.load(cached).astype(np.float32)
        return loaded
    if not corpus.is_dir():
        print(f"skipped: no corpus at {corpus} (the synthetic library is built on it)")
        return None
    try:
        from photoark.ml import EmbeddingModel, ModelError
        from photoark.ml.preprocess import load_image
    except ImportError as err:
        print(f"skipped: the embedding model is not installed ({err})")
        return None
    try:
        model = EmbeddingModel(CACHE, threads=2)
    except ModelError as err:
        print(f"skipped: the embedding model cannot run here ({err})")
        return None
    paths = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    print(f"embedding {len(paths)} corpus images (+ 4 crops each), cached in {cached} ...")
    vectors: list[Floats] = []
    for path in paths:
        try:
            image = load_image(path)
        except ModelError:
            continue
        if min(image.size) < 32:
            continue
        w, h = image.size
        crops = ((0, 0, w // 2, h // 2), (w // 2, h // 2, w, h), (w // 4, 0, 3 * w // 4, h // 2))
        views = [image, *(image.crop(box) for box in (*crops, (0, h // 2, w // 2, h)))]
        vectors.extend(model.embed(views))
    real = np.asarray(vectors, dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, real)
    return real


# -- the synthetic library -------------------------------------------------------------------


@dataclasses.dataclass
class Library:
    vectors: npt.NDArray[np.float16]  # (n, DIM) as stored (row i = file id i + 1)
    groups: list[list[int]]  # planted near-duplicate groups (file ids)
    copies: dict[int, int]  # exact copy id -> original id (same hash, same embedding)


class Generator:
    """Synthetic photos on the real embeddings (see the module docstring)."""

    def __init__(self, real: Floats, noise: float, shift: float, seed: int) -> None:
        self.real = real.astype(np.float64)
        self.mean = self.real.mean(axis=0)
        eigenvalues, axes = np.linalg.eigh(np.cov(self.real.T))
        keep = eigenvalues > eigenvalues.max() * 1e-9
        self.shape = (axes[:, keep] * np.sqrt(eigenvalues[keep])).T.astype(np.float32)
        self.noise = noise
        self.shift = shift
        self.rng = np.random.default_rng(seed)

    def shaped(self, n: int, scale: npt.NDArray[np.float64] | float) -> Floats:
        z = self.rng.standard_normal((n, self.shape.shape[0]), dtype=np.float32)
        out: Floats = (z @ self.shape) * np.asarray(scale, dtype=np.float32).reshape(-1, 1)
        return out

    def raw(self, n: int) -> Floats:
        """Pre-ReLU photos: mixture of two real vectors + shaped noise - shift x mean."""
        picks = self.rng.integers(0, len(self.real), (n, 2))
        weights = self.rng.dirichlet([0.5, 0.5], n)
        mix = np.einsum("nm,nmd->nd", weights, self.real[picks]) - self.shift * self.mean
        out: Floats = (mix + self.shaped(n, self.noise)).astype(np.float32)
        return out

    def calibrate(self) -> tuple[Floats, Floats]:
        """(median distance, noise scale) of a copy of a photo with smaller noise."""
        raw = self.raw(512)
        scales = self.noise * np.geomspace(0.01, 2.0, 40)
        medians = [
            float(
                np.median(
                    1.0
                    - np.sum(
                        _normalised(raw).astype(np.float32)
                        * _normalised(raw + self.shaped(len(raw), scale)).astype(np.float32),
                        axis=1,
                    )
                )
            )
            for scale in scales
        ]
        return np.maximum.accumulate(np.asarray(medians, dtype=np.float32)), scales.astype(
            np.float32
        )

    def library(self, n: int, planted: float, copies: int, originals_below: int) -> Library:
        # planted groups of 2-5 covering ~`planted` of the photos; their first member is a
        # photo like any other, the others are it with smaller noise, at a distance from it
        # whose median is drawn uniformly in 0.02-0.35 (the spread goes a little beyond)
        sizes: list[int] = []
        while sum(sizes) < planted * n:
            sizes.append(int(self.rng.integers(2, 6)))
        calibration = self.calibrate()
        order = self.rng.permutation(n)
        starts = np.cumsum([0, *sizes])
        bases = {int(order[s]) for s in starts[:-1]}
        out = np.empty((n, DIM), dtype=np.float16)
        raw_of: dict[int, Floats] = {}
        for start in range(0, n, 8192):
            raw = self.raw(min(8192, n - start))
            out[start : start + len(raw)] = _normalised(raw)
            raw_of.update((i, raw[i - start]) for i in bases if start <= i < start + len(raw))
        groups: list[list[int]] = []
        for first, size in zip(starts[:-1].tolist(), sizes, strict=True):
            members = order[first : first + size]
            eps = np.interp(self.rng.uniform(0.02, 0.35, size - 1), *calibration)
            out[members[1:]] = _normalised(raw_of[int(members[0])] + self.shaped(size - 1, eps))
            groups.append(sorted(int(m) + 1 for m in members))
        taken = int(starts[-1])
        rest = order[taken:]
        originals = self.rng.choice(rest[rest < originals_below], size=copies, replace=False)
        copy_of = {n + 1 + i: int(o) + 1 for i, o in enumerate(originals)}
        return Library(out, groups, copy_of)


def _normalised(raw: Floats) -> npt.NDArray[np.float16]:
    x = np.maximum(raw, 0.0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x.astype(np.float16)


def distance_percentiles(vectors: npt.ArrayLike, sample: int, seed: int) -> dict[str, float]:
    """All-pair cosine distance percentiles of (a sample of) the vectors."""
    x = np.asarray(vectors, dtype=np.float32)
    if len(x) > sample:
        x = x[np.random.default_rng(seed).choice(len(x), sample, replace=False)]
    d = 1.0 - x @ x.T
    upper = d[np.triu_indices(len(x), 1)]
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    out = {f"p{p:g}": float(np.percentile(upper, p)) for p in (0.1, 1, 5, 25, 50, 75)}
    out["nearest_p50"] = float(np.median(nearest))
    out["within_threshold"] = float(np.mean(upper <= THRESHOLD))
    return out


# -- the state DB ----------------------------------------------------------------------------


def put_photos(path: Path, lib: Library, ids: Sequence[int], album: bool) -> None:
    """Files ``ids`` (photos, or exact copies of one) in one album, with an embedding row
    each, in one transaction; ``album``: create the album first."""
    db = StateDB(path)
    mirror = Mirror(db)
    rows: list[tuple[int, bytes]] = []
    with db.transaction() as conn:
        if album:
            mirror.put_album(conn, Album(1, "Camera", b"\0" * 32, 1))
        for file_id in ids:
            source = lib.copies.get(file_id, file_id)
            rnd = source * 2654435761 % 2**32
            width, height = (4032, 3024) if rnd % 3 else (3024, 4032)
            name, digest, size = (
                f"IMG_{file_id:06d}.jpg",
                f"{source:064x}",
                2_000_000 + rnd % 3_000_000,
            )
            mirror.put_file(
                conn,
                LibraryFile(
                    id=file_id, hash=digest, name=name, size=size, type="image",
                    taken_at=None, taken_at_utc=None,
                    metadata=FileMetadata(
                        name=name, hash=digest, size=size, type="image",
                        header="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", width=width, height=height,
                    ),
                    file_key=b"\1" * 32, content_size=size + 100,
                    thumbnail_size=30_000 + rnd % 20_000, created_at=1.7e9 + file_id,
                ),
            )  # fmt: skip
            mirror.put_entry(conn, 1, file_id)
            rows.append((file_id, encode_embedding(lib.vectors[source - 1], _DETAILED)))
        EmbeddingCache.put(conn, MODEL, rows, sent=True)
    db.close()


# -- the timed step, in a fresh process --------------------------------------------------------

# leaf phases (they do not overlap): label -> what is timed
PHASES = {
    "read": "read + decode rows (SQLite)",
    "pca": "PCA fit",
    "index_add": "index: HNSW add",
    "index_search": "index: search",
    "confirm": "confirm on full vectors (full scan)",
    "fetch": "fetch vectors by id (new photos' candidates)",
    "load": "index file: read, check, load",
    "save": "index file: write",
    "sql_write": "pairs into SQLite",
    "sql_read": "pairs from SQLite",
    "grouping": "grouping",
}


class _Clock:
    """Cumulative seconds (wall and CPU) per label, by wrapping functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def add(self, label: str, seconds: float, cpu: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds
        self.cpu[label] = self.cpu.get(label, 0.0) + cpu

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start, time.process_time() - cpu)

        return timed

    def wrap_pages(self, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def pages(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = fn(*args, **kwargs)
            while True:
                start, cpu = time.perf_counter(), time.process_time()
                try:
                    item = next(it)
                except StopIteration:
                    self.add("read", time.perf_counter() - start, time.process_time() - cpu)
                    return
                self.add("read", time.perf_counter() - start, time.process_time() - cpu)
                yield item

        return pages


def grouping() -> tuple[str, Callable[[Sequence[Pair], float], list[list[int]]]]:
    """The checkout's grouping: complete linkage where it has it, else connected components."""
    try:
        from photoark.optimize.grouping import complete_linkage  # type: ignore[import-not-found]
    except ImportError:
        from photoark.optimize import similar

        def components(pairs: Sequence[Pair], threshold: float) -> list[list[int]]:
            return similar.group_pairs(pairs)  # type: ignore[attr-defined,no-any-return]

        return "similar.group_pairs (connected components)", components

    def linkage(pairs: Sequence[Pair], threshold: float) -> list[list[int]]:
        return complete_linkage(pairs, threshold)  # type: ignore[no-any-return]

    return "grouping.complete_linkage", linkage


def child(spec_path: Path) -> None:
    """Open the DB, run library_pairs + the grouping once (instrumented), write the figures,
    the pairs and the groups."""
    spec = json.loads(spec_path.read_text())
    import usearch.index

    import photoark.client.state.similarpairs as sp
    import photoark.optimize.neighbours as nb
    import photoark.optimize.pairs as pairs_module
    from photoark.optimize.similar import CachedVectors

    clock = _Clock()
    base_index = usearch.index.Index

    class Index(base_index):  # type: ignore[misc,valid-type]
        def add(self, *args: Any, **kwargs: Any) -> Any:
            return clock.wrap("index_add", super().add)(*args, **kwargs)

        def search(self, *args: Any, **kwargs: Any) -> Any:
            return clock.wrap("index_search", super().search)(*args, **kwargs)

    usearch.index.Index = Index  # type: ignore[misc]
    nb._principal_axes = clock.wrap("pca", nb._principal_axes)
    nb._confirm = clock.wrap("confirm", nb._confirm)
    pairs_module._fetch = clock.wrap("fetch", pairs_module._fetch)
    pairs_module._load = clock.wrap("load", pairs_module._load)
    pairs_module._save = clock.wrap("save", pairs_module._save)
    sp.SimilarPairs.replace = clock.wrap("sql_write", sp.SimilarPairs.replace)  # type: ignore[method-assign]
    sp.SimilarPairs.update = clock.wrap("sql_write", sp.SimilarPairs.update)  # type: ignore[method-assign]
    sp.SimilarPairs.pairs = clock.wrap("sql_read", sp.SimilarPairs.pairs)  # type: ignore[method-assign]
    CachedVectors.pages = clock.wrap_pages(CachedVectors.pages)  # type: ignore[method-assign]
    group_name, group = grouping()

    db = StateDB(Path(spec["db"]))
    params = IndexParams(**spec["params"])
    before = proc_status(os.getpid(), "VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    copies = Mirror(db).extra_photo_copies()
    source = CachedVectors(db, MODEL, DIM, copies)
    found = pairs_module.library_pairs(
        db, source, MODEL, DIM, spec["threshold"], params, spill_dir=db.path.parent,
        pair_threshold=spec["threshold"],
    )  # fmt: skip
    pairs_seconds = time.perf_counter() - start
    groups = clock.wrap("grouping", group)(found, spec["threshold"])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = proc_status(os.getpid(), "VmHWM")  # not ru_maxrss: it keeps the parent's peak
    out = Path(spec["out"])
    np.save(
        out.with_suffix(".pairs.npy"),
        np.array([(p.a, p.b) for p in found], dtype=np.int64).reshape(-1, 2),
    )
    out.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "pairs_seconds": pairs_seconds,
                "cpu": cpu,
                "load": os.getloadavg()[0],
                "peak_rss": peak,
                "rss_before": before,
                "photos": source.count(),
                "grouping": group_name,
                "groups": groups,
                "timers": clock.seconds,
                "cpu_timers": clock.cpu,
                "index_file_bytes": sum(
                    f.stat().st_size for f in (db.path.parent / pairs_module.FOLDER).glob("*")
                ),
            }
        )
    )
    db.close()


def run_child(work: Path, name: str, threshold: float, params: IndexParams) -> dict[str, Any]:
    spec = {
        "db": str(work / "state.db"),
        "threshold": threshold,
        "params": dataclasses.asdict(params),
        "out": str(work / f"{name}.json"),
    }
    (work / "spec.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, __file__, "--child", str(work / "spec.json")], check=True)
    result: dict[str, Any] = json.loads((work / f"{name}.json").read_text())
    result["pairs"] = np.load(work / f"{name}.pairs.npy")
    return result


def split(timers: dict[str, float], total: float) -> dict[str, float]:
    """Seconds per phase (leaf timers), and the rest (projection, candidate filter,
    fingerprints, region ordering, Python around them)."""
    out = {text: timers.get(label, 0.0) for label, text in PHASES.items()}
    out["other (projection, candidate filter, fingerprints, ...)"] = total - sum(out.values())
    return out


# -- recall ----------------------------------------------------------------------------------


def planted_pairs(lib: Library, threshold: float, live: int) -> list[tuple[int, int, float]]:
    """Planted pairs within ``threshold`` whose photos are both among the first ``live``."""
    out = []
    for group in lib.groups:
        members = [g for g in group if g <= live]
        x = lib.vectors[[g - 1 for g in members]].astype(np.float32)
        d = 1.0 - x @ x.T
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                out.append((members[i], members[j], float(d[i, j])))
    return [p for p in out if p[2] <= threshold]


def exact_around(
    lib: Library, threshold: float, sample: int, seed: int, live: int
) -> tuple[npt.NDArray[np.int64], set[tuple[int, int]]]:
    """Every pair within the threshold that involves one of ``sample`` random photos among the
    first ``live`` (exact matrix product against all of them; exact copies left out)."""
    rows = np.sort(np.random.default_rng(seed).choice(live, min(sample, live), replace=False))
    truth: set[tuple[int, int]] = set()
    for start in range(0, len(rows), 256):
        block = lib.vectors[rows[start : start + 256]].astype(np.float32)
        for col in range(0, live, 16384):
            other = lib.vectors[col : min(col + 16384, live)].astype(np.float32)
            r, c = np.nonzero(1.0 - block @ other.T <= threshold)
            for a, b in zip((rows[start + r] + 1).tolist(), (c + col + 1).tolist(), strict=True):
                if a != b:
                    truth.add((min(a, b), max(a, b)))
    return rows + 1, truth


@dataclasses.dataclass
class Scored:
    recall: float
    hits: int
    truth: int
    new_recall: float | None  # planted pairs involving an added photo
    exact_recall: float
    exact_pairs: int
    sizes: list[int]


def score(
    lib: Library, result: dict[str, Any], threshold: float, live: int, added_from: int, args: Any
) -> Scored:
    truth = planted_pairs(lib, threshold, live)
    found = {(int(a), int(b)) for a, b in result["pairs"].tolist()}
    hits = sum((a, b) in found for a, b, _ in truth)
    new = [(a, b) for a, b, _ in truth if b >= added_from]
    new_hits = sum(p in found for p in new)
    sampled, exact = exact_around(lib, threshold, args.check, args.seed, live)
    chosen = set(sampled.tolist())
    around = {p for p in found if p[0] in chosen or p[1] in chosen}
    return Scored(
        recall=hits / len(truth) if truth else 1.0,
        hits=hits,
        truth=len(truth),
        new_recall=new_hits / len(new) if new and added_from <= live else None,
        exact_recall=len(exact & around) / len(exact) if exact else 1.0,
        exact_pairs=len(exact),
        sizes=sorted((len(g) for g in result["groups"]), reverse=True),
    )


# -- main ------------------------------------------------------------------------------------


def parse_index(text: str | None) -> IndexParams:
    if not text:
        return IndexParams()
    values: dict[str, Any] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        values[key.strip()] = value.strip() if key.strip() == "dtype" else int(value)
    return IndexParams(**values)


def report(
    table: Table,
    title: str,
    result: dict[str, Any],
    scored: Scored | None,
    target_seconds: float | None,
) -> None:
    seconds = result["seconds"]
    table.add(
        f"{title}: wall time, {result['photos']:,} photos",
        f"{seconds:.2f} s (pairs {result['pairs_seconds']:.2f} s; CPU {result['cpu']:.1f} s,"
        f" load {result['load']:.1f})",
        f"≤ {target_seconds:g} s" if target_seconds else "info",
        seconds <= target_seconds if target_seconds else None,
    )
    phases = split(result["timers"], seconds)
    cpu = split(result["cpu_timers"], result["cpu"])
    for name, value in phases.items():
        if value >= 0.005:
            table.add(f"  {name}", f"{value:.2f} s (CPU {cpu[name]:.2f} s)", "info")
    table.add(
        "  peak RSS of the scan process",
        f"{result['peak_rss'] / 2**20:.0f} MiB"
        f" (+{(result['peak_rss'] - result['rss_before']) / 2**20:.0f} over"
        f" {result['rss_before'] / 2**20:.0f} MiB before the call)",
        f"≤ {TARGET_RSS / 2**20:.0f} MiB",
        result["peak_rss"] <= TARGET_RSS,
    )
    if scored is None:
        return
    table.add(
        "  planted pairs within the threshold: found",
        f"{scored.hits:,} / {scored.truth:,} = {scored.recall:.4f}",
        f"≥ {TARGET_RECALL}",
        scored.recall >= TARGET_RECALL,
    )
    if scored.new_recall is not None:
        table.add("  … those involving an added photo", f"{scored.new_recall:.4f}", "info")
    table.add(
        "  every pair within the threshold around the sampled photos (exact)",
        f"{scored.exact_recall:.4f} of {scored.exact_pairs:,}",
        "info",
    )
    table.add(
        "  pairs found; groups (photos in groups; largest)",
        f"{len(result['pairs']):,}; {len(scored.sizes):,} ({sum(scored.sizes):,};"
        f" {', '.join(map(str, scored.sizes[:5]))})",
        "info",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=TARGET_PHOTOS)
    ap.add_argument("--add", type=int, default=TARGET_ADD, help="photos added after the scan")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--noise", type=float, default=3.0, help="shaped noise scale of a photo")
    ap.add_argument("--shift", type=float, default=1.0, help="part of the mean taken off")
    ap.add_argument("--planted", type=float, default=0.05, help="share of photos in groups")
    ap.add_argument("--copies", type=int, default=20, help="exact copies (left to dedup)")
    ap.add_argument("--check", type=int, default=2000, help="photos in the exact check")
    ap.add_argument("--index", help="IndexParams overrides, e.g. dims=96,neighbours=16")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-data", action="store_true")
    ap.add_argument("--json-out")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    code = announce_source()
    params = parse_index(args.index)
    real = real_embeddings(args.corpus)
    if real is None:
        return

    start = time.perf_counter()
    gen = Generator(real, args.noise, args.shift, args.seed)
    total = args.photos + args.add
    lib = gen.library(total, args.planted, args.copies, originals_below=args.photos)
    generated = time.perf_counter() - start
    real_stats = distance_percentiles(real, 4000, args.seed)
    synth_stats = distance_percentiles(lib.vectors, 4000, args.seed)
    print(
        f"{total:,} photos + {len(lib.copies)} exact copies generated in {generated:.1f} s;"
        f" {sum(map(len, lib.groups)):,} in {len(lib.groups):,} planted groups"
    )

    results: dict[str, dict[str, Any]] = {}
    scores: dict[str, Scored] = {}
    with scratch("similar-group", keep=args.keep_data) as work:
        start = time.perf_counter()
        put_photos(work / "state.db", lib, [*range(1, args.photos + 1), *lib.copies], True)
        print(
            f"state DB built in {time.perf_counter() - start:.1f} s"
            f" ({(work / 'state.db').stat().st_size / 1e6:.0f} MB,"
            f" {args.photos + len(lib.copies):,} files)"
        )
        results["full"] = run_child(work, "full", args.threshold, params)
        scores["full"] = score(lib, results["full"], args.threshold, args.photos, total + 1, args)
        if args.add:
            put_photos(work / "state.db", lib, range(args.photos + 1, total + 1), False)
            results["incremental"] = run_child(work, "incremental", args.threshold, params)
            scores["incremental"] = score(
                lib, results["incremental"], args.threshold, total, args.photos + 1, args
            )
        results["unchanged"] = run_child(work, "unchanged", args.threshold, params)

    def pct(stats: dict[str, float]) -> str:
        keys = ("p0.1", "p1", "p5", "p25", "p50", "p75")
        return " / ".join(f"{stats[k]:.2f}" for k in keys)

    big = args.photos >= TARGET_PHOTOS
    table = Table(
        f"similar-photo pairs: library_pairs + {results['full']['grouping']} over a state DB"
        f" (threshold {args.threshold}, warm page cache)"
    )
    report(
        table, "full scan", results["full"], scores["full"], TARGET_FULL_SECONDS if big else None
    )
    if args.add:
        report(
            table,
            f"incremental scan, +{args.add:,} photos",
            results["incremental"],
            scores["incremental"],
            TARGET_INCREMENTAL_SECONDS if big and args.add <= TARGET_ADD else None,
        )
    report(table, "re-run, nothing new", results["unchanged"], None, None)
    table.add(
        "index file beside the state DB",
        f"{results['unchanged']['index_file_bytes'] / 2**20:.0f} MiB",
        "info",
    )
    table.add("all-pair distance p0.1/1/5/25/50/75, real", pct(real_stats), "info")
    table.add("  … synthetic", pct(synth_stats), "info")
    table.add(
        f"pairs within {args.threshold}: real / synthetic (sample)",
        f"{real_stats['within_threshold']:.2%} / {synth_stats['within_threshold']:.4%}",
        "info",
    )
    table.note(f"index: {', '.join(f'{k}={v}' for k, v in dataclasses.asdict(params).items())}")
    table.note(
        f"real: {len(real):,} corpus embeddings (whole + crops: near-duplicates by design);"
        f" synthetic: noise {args.noise}, mean shift {args.shift}, seed {args.seed};"
        " distances on 4 000-photo samples"
    )
    print(table.render())

    def figures(name: str) -> dict[str, Any]:
        result = results[name]
        out = {
            k: result[k]
            for k in ("seconds", "pairs_seconds", "cpu", "load", "peak_rss", "photos", "grouping")
        }
        out["phases"] = split(result["timers"], result["seconds"])
        out["pairs_found"] = len(result["pairs"])
        if name in scores:
            out["score"] = dataclasses.asdict(scores[name]) | {"sizes": scores[name].sizes[:10]}
        return out

    write_json(
        args.json_out,
        {
            "benchmark": "similar_group",
            "code": code,
            "photos": args.photos,
            "add": args.add,
            "threshold": args.threshold,
            "params": dataclasses.asdict(params),
            "generator": {
                "noise": args.noise,
                "shift": args.shift,
                "planted": args.planted,
                "seed": args.seed,
            },
            "scans": {name: figures(name) for name in results},
            "distances": {"real": real_stats, "synthetic": synth_stats},
        },
    )


if __name__ == "__main__":
    main()
