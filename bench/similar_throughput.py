"""Similar-photo embedding throughput (issue 6): 12 MP JPEG → embedding, images/s on 2 cores.

Target: at least 40 images/s on 12 MP JPEGs with 2 cores (Czkawka publishes about 40/s).

The photos are generated, phone-like 12 MP JPEGs (4032x3024, quality 90, 4:2:0, ~3.5-4.2 MB;
every other one stored landscape with EXIF orientation 6, as a phone stores a portrait shot):
real corpus photos of >= 6 MP (``../shared/corpus``) cropped, scaled up to 12 MP, colour-jittered
and given sensor grain, so each file is distinct and compresses like a camera's. They are
written under ``BENCH_ROOT`` (never in the repository) and removed afterwards unless
``--keep-data``. Warm page cache: this is CPU work.

Measured (one :class:`photoark.ml.EmbeddingModel`, orientation averaged as the product runs it,
``threads=2`` unless said; warm-up first; the measures are interleaved run by run, so a change
in the machine's load hits them alike; median of ``--runs``):

(a) original → embedding directly: ``load_image`` (draft decode at 1/4, EXIF orientation) +
    ``embed``, sequential (batches of 32), and with the decode in a 2-thread pool overlapping
    the model;
(b) the production path in its two parts: thumbnail rendering (``render_thumbnail``, what a
    backup does for every photo anyway; 1 and 2 threads) and thumbnail → embedding
    (``load_image_bytes`` + ``embed`` in rounds of 32, as ``photoark.client.library.embedder`` does
    after download + decryption, which are left out: what ``photoark similar`` / the daemon
    add);
(c) end to end, ORIGINAL → thumbnail → embedding in a pipeline: thumbnails rendered and decoded
    in 2 threads overlapping inference (the honest "12 MP JPEG to embedding" figure);
(d) inference alone on decoded thumbnails: onnxruntime ``threads=2`` with one caller against
    ``threads=1`` with 2 callers in parallel (and one caller, and no orientation averaging, for
    reference); (c) is also run with that 2 × 1 set-up.

Each figure is wall-clock images/s and CPU ms per image (the process's CPU time, all
threads): on a shared machine the second says what 2 free cores would do (2000 / CPU ms is
the ceiling with perfect overlap).

    python bench/similar_throughput.py [--files 48] [--runs 3] [--keep-data] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_ROOT, REPO, Table, announce_source, use_checkout, write_json

use_checkout()

from PIL import Image, ImageChops, ImageEnhance, ImageOps  # noqa: E402

from photoark.media import render_thumbnail, sniff  # noqa: E402
from photoark.ml import EmbeddingModel  # noqa: E402
from photoark.ml.preprocess import load_image, load_image_bytes  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
CACHE = BENCH_ROOT / "ml-cache"
TARGET = 40.0  # images/s, 12 MP JPEGs, 2 cores (issue 6; Czkawka publishes about 40/s)
ROUND = 32  # photoark.client.library.embedder's batch: thumbnails decoded, then embedded
PIPE_BATCH = 8  # the model's own batch (DEFAULT_BATCH): what the pipelines hand over
SIZE = (4032, 3024)
DATASET_VERSION = "1"


# -- dataset ---------------------------------------------------------------------------------


def corpus_sources(corpus: Path) -> list[Path]:
    """Corpus JPEGs of at least 6 MP: real photo content for the generated ones."""
    found = []
    for path in sorted(corpus.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg") or not path.is_file():
            continue
        try:
            with Image.open(path) as im:
                if im.width * im.height >= 6_000_000:
                    found.append(path)
        except Exception:  # anything Pillow cannot open is simply not a source
            continue
    return found


def photo_like_jpeg(seed: int, source: Path, portrait: bool) -> bytes:
    """A 12 MP phone-like JPEG from ``source``: a random 80-100 % crop scaled to 4032x3024,
    colour jitter, grain (sigma 6), quality 90, camera EXIF; ``portrait``: orientation 6."""
    rnd = random.Random(seed)
    with Image.open(source) as opened:
        opened.draft("RGB", (SIZE[0] // 2, SIZE[1] // 2))
        im = ImageOps.exif_transpose(opened).convert("RGB")
    if im.height > im.width:
        im = im.transpose(Image.Transpose.ROTATE_90)
    w, h = im.size
    f = rnd.uniform(0.8, 1.0)
    cw, ch = int(w * f), int(h * f)
    x, y = rnd.randint(0, w - cw), rnd.randint(0, h - ch)
    im = im.resize(SIZE, Image.Resampling.BICUBIC, box=(x, y, x + cw, y + ch))
    im = ImageEnhance.Color(im).enhance(rnd.uniform(0.85, 1.15))
    grain = Image.effect_noise(SIZE, 6).convert("RGB")
    im = ImageChops.add(im, grain, scale=1.0, offset=-128)
    exif = Image.Exif()
    exif[0x010F] = "photoark-bench"  # Make
    exif[0x0110] = f"synthetic 12 MP #{seed}"  # Model
    exif[0x0112] = 6 if portrait else 1  # Orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def dataset(root: Path, n: int) -> tuple[list[Path], str]:
    """``n`` 12 MP JPEGs under ``root`` (made once, reused while complete); what they are."""
    done = root / ".complete"
    paths = [root / f"photo-{i:03d}.jpg" for i in range(n)]
    sources = corpus_sources(CORPUS) if CORPUS.is_dir() else []
    kind = (
        f"corpus-based ({len(sources)} source photos >= 6 MP)"
        if sources
        else "noisy_jpeg (bench/backup_throughput.py: no corpus photos found)"
    )
    if done.is_file() and all(p.is_file() for p in paths):
        return paths, kind
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        if sources:
            data = photo_like_jpeg(i, sources[i % len(sources)], portrait=i % 2 == 1)
        else:
            from backup_throughput import noisy_jpeg

            data = noisy_jpeg(i, SIZE)
        path.write_bytes(data)
    done.write_text(kind + "\n")
    print(f"made {n} JPEGs in {time.perf_counter() - start:.1f} s")
    return paths, kind


# -- the work measured ---------------------------------------------------------------------


def thumbnail(path: Path) -> bytes:
    """What the backup makes (``photoark.client.pipeline.describe.thumbnail_of``)."""
    fmt = sniff(path)
    assert fmt is not None, path
    result = render_thumbnail(path, fmt)
    assert result.data is not None, result.error
    return result.data


def sequential(
    items: Sequence[Any], decode: Callable[[Any], Image.Image], model: EmbeddingModel
) -> None:
    """Rounds of ``ROUND``: decode them, then embed them (no overlap)."""
    for start in range(0, len(items), ROUND):
        model.embed([decode(it) for it in items[start : start + ROUND]])


def pipelined(
    items: Sequence[Any],
    decode: Callable[[Any], Image.Image],
    embed: Callable[[Sequence[Image.Image]], Any],
    decoders: int = 2,
    inferers: int = 1,
) -> None:
    """``decode`` in ``decoders`` threads running ahead (a window of a few batches) while
    batches of ``PIPE_BATCH`` are embedded by ``inferers`` threads."""
    window = PIPE_BATCH * (inferers + 2)
    with (
        ThreadPoolExecutor(decoders, "decode") as dpool,
        ThreadPoolExecutor(inferers, "infer") as ipool,
    ):
        decoded: deque[Future[Image.Image]] = deque()
        embedding: deque[Future[Any]] = deque()
        it = iter(items)
        remaining = len(items)

        def fill() -> None:
            while len(decoded) < window:
                try:
                    nxt = next(it)
                except StopIteration:
                    return
                decoded.append(dpool.submit(decode, nxt))

        fill()
        while remaining:
            take = min(PIPE_BATCH, remaining)
            images = [decoded.popleft().result() for _ in range(take)]
            remaining -= take
            fill()
            embedding.append(ipool.submit(embed, images))
            while len(embedding) > inferers:
                embedding.popleft().result()
        for fut in embedding:
            fut.result()


def parallel_embed(model: EmbeddingModel, images: Sequence[Image.Image], workers: int) -> None:
    """``images`` in batches of ``PIPE_BATCH`` over ``workers`` threads calling ``embed``
    (one caller: one ``embed`` call, which batches by itself)."""
    if workers == 1:
        model.embed(images)
        return
    chunks = [images[i : i + PIPE_BATCH] for i in range(0, len(images), PIPE_BATCH)]
    with ThreadPoolExecutor(workers, "infer") as pool:
        list(pool.map(model.embed, chunks))


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Measure:
    key: str
    label: str
    fn: Callable[[], None]
    target: bool = False  # compared with the 40/s target
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.fn()
        self.seconds.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)

    def rate(self, n: int) -> float:
        return n / float(np.median(self.seconds))

    def best(self, n: int) -> float:
        return n / min(self.seconds)

    def cpu_ms(self, n: int) -> float:
        return 1000 * float(np.median(self.cpu)) / n

    def as_json(self, n: int) -> dict[str, Any]:
        return {
            "label": self.label,
            "images_per_s": self.rate(n),
            "images_per_s_best": self.best(n),
            "cpu_ms_per_image": self.cpu_ms(n),
            "seconds": self.seconds,
            "cpu_seconds": self.cpu,
        }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_all(measures: list[Measure], runs: int) -> None:
    for r in range(runs):
        for m in measures:
            m.run()
        print(f"  run {r + 1}/{runs} done (load average {load()})")


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=48, help="12 MP JPEGs generated (32-64)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep-data", action="store_true", help="keep (and reuse) the JPEGs")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    code = announce_source()
    root = BENCH_ROOT / f"similar-throughput-v{DATASET_VERSION}-{args.files}"
    try:
        paths, kind = dataset(root, args.files)
        measures, result = measure(paths, args.runs)
    finally:
        if not args.keep_data:
            shutil.rmtree(root, ignore_errors=True)
    n = len(paths)
    mean_size = sum(p["bytes"] for p in result["files"]) / n if result["files"] else 0
    print_table(measures, result, n, kind, mean_size)
    write_json(
        args.json_out,
        {
            "benchmark": "similar_throughput",
            "code": code,
            "dataset": {"files": n, "kind": kind, "size": list(SIZE), "mean_bytes": mean_size},
            "target_images_per_s": TARGET,
            **result,
        },
    )


def measure(paths: list[Path], runs: int) -> tuple[list[Measure], dict[str, Any]]:
    n = len(paths)
    files = [{"bytes": p.stat().st_size} for p in paths]
    for p in paths:  # warm page cache
        p.read_bytes()
    print(f"{n} JPEGs of {SIZE[0]}x{SIZE[1]}, {sum(f['bytes'] for f in files) / n / 1e6:.2f} MB")
    model2 = EmbeddingModel(CACHE, threads=2)
    model1 = EmbeddingModel(CACHE, threads=1)
    raw2 = EmbeddingModel(CACHE, threads=2, orientation_invariant=False)
    thumbs = [thumbnail(p) for p in paths]  # also the warm-up of the renderer
    decoded = [load_image_bytes(t) for t in thumbs]
    for model in (model2, model1, raw2):  # warm-up: onnxruntime's first runs allocate
        model.embed(decoded[:PIPE_BATCH])
        model.embed(decoded[:PIPE_BATCH])
    load_image(paths[0])
    print(f"warmed up (load average {load()}); timing {runs} interleaved runs")

    def e2e(path: Path) -> Image.Image:
        return load_image_bytes(thumbnail(path))

    measures = [
        Measure(
            "original_seq",
            "(a) original → embedding, sequential (load_image + embed)",
            lambda: sequential(paths, load_image, model2),
            target=True,
        ),
        Measure(
            "original_pipe",
            "(a) original → embedding, decode in 2 threads overlapping the model",
            lambda: pipelined(paths, load_image, model2.embed),
            target=True,
        ),
        Measure(
            "render_1",
            "(b) thumbnail render (render_thumbnail), 1 thread",
            lambda: _pool_map(thumbnail, paths, 1),
        ),
        Measure(
            "render_2",
            "(b) thumbnail render, 2 threads (as the backup)",
            lambda: _pool_map(thumbnail, paths, 2),
        ),
        Measure(
            "thumb_embed",
            "(b) thumbnail → embedding (load_image_bytes + embed, rounds of 32)",
            lambda: sequential(thumbs, load_image_bytes, model2),
            target=True,
        ),
        Measure(
            "e2e_pipe",
            "(c) original → thumbnail → embedding, render in 2 threads overlapping the model",
            lambda: pipelined(paths, e2e, model2.embed),
            target=True,
        ),
        Measure(
            "e2e_pipe_t1x2",
            "(c) … same, inference threads=1 in 2 threads (render 2 threads)",
            lambda: pipelined(paths, e2e, model1.embed, inferers=2),
            target=True,
        ),
        Measure(
            "infer_t2",
            "(d) inference only, onnxruntime threads=2, 1 caller",
            lambda: parallel_embed(model2, decoded, 1),
        ),
        Measure(
            "infer_t1x2",
            "(d) inference only, threads=1, 2 callers in parallel",
            lambda: parallel_embed(model1, decoded, 2),
        ),
        Measure(
            "infer_t1",
            "(d) inference only, threads=1, 1 caller (one core)",
            lambda: parallel_embed(model1, decoded, 1),
        ),
        Measure(
            "infer_t2_raw",
            "(d) inference only, threads=2, no orientation averaging (1 of 4 runs)",
            lambda: parallel_embed(raw2, decoded, 1),
        ),
    ]
    run_all(measures, runs)
    by_key = {m.key: m for m in measures}
    t1x2_faster = by_key["infer_t1x2"].rate(n) > by_key["infer_t2"].rate(n)
    return measures, {
        "files": files,
        "load_average_end": load(),
        "threads1x2_faster": t1x2_faster,
        "measures": {m.key: m.as_json(n) for m in measures},
    }


def _pool_map(fn: Callable[[Path], Any], items: Sequence[Path], workers: int) -> None:
    if workers == 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fn, items))


def print_table(
    measures: list[Measure], result: dict[str, Any], n: int, kind: str, mean_size: float
) -> None:
    table = Table(
        f"similar-photo throughput: {n} × 12 MP JPEG ({mean_size / 1e6:.2f} MB; {kind}), "
        f"2 cores, median of {len(measures[0].seconds)}"
    )
    for m in measures:
        rate, cpu = m.rate(n), m.cpu_ms(n)
        value = (
            f"{rate:.1f}/s (best {m.best(n):.1f}); {cpu:.0f} CPU ms/image → 2 free cores "
            f"≤ {2000 / cpu:.0f}/s"
        )
        if m.target:
            table.add(m.label, value, f">= {TARGET:.0f}/s", rate >= TARGET)
        else:
            table.add(m.label, value, "info")
    by_key = {m.key: m for m in measures}
    render, thumb = by_key["render_2"].cpu_ms(n), by_key["thumb_embed"].cpu_ms(n)
    table.note(
        f"production split: the backup spends {render:.0f} CPU ms/image on the thumbnail anyway; "
        f"`photoark similar` / the daemon add {thumb:.0f} CPU ms/image (thumbnail → embedding)"
    )
    t2, t1x2 = by_key["infer_t2"].rate(n), by_key["infer_t1x2"].rate(n)
    table.note(
        f"inference: threads=1 × 2 callers {t1x2:.1f}/s vs threads=2 × 1 caller {t2:.1f}/s "
        f"({(t1x2 / t2 - 1) * 100:+.0f} %)"
    )
    table.note(
        f"load average at the end: {result['load_average_end']} (a shared machine: other "
        "processes only slow a run down, so the best run is the closest to 2 free cores)"
    )
    print(table.render())
    met = [m.label for m in measures if m.target and m.rate(n) >= TARGET]
    missed = [m.label for m in measures if m.target and m.rate(n) < TARGET]
    print(f"==> {TARGET:.0f} images/s met by: {'; '.join(met) or 'none'}")
    print(f"==> not met by: {'; '.join(missed) or 'none'}")


if __name__ == "__main__":
    main()
