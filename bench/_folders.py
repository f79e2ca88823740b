"""The two folders of issue 22's throughput bench (``backup_throughput.py``), built once,
deterministic, cached under /tmp/photoark-bench/issue22/ (a ``NAME.complete`` marker beside
each, holding :data:`FOLDERS_VERSION`):

- :func:`video_folder`: the shared corpus copied plus five lossless 1080p H.264 noise videos
  (ffmpeg lavfi, ~180 MB each): 358 files, ~1 GB;
- :func:`many_folder`: N distinct JPEGs of ~100 KB (560-736 px, a quarter portrait, 1/12 over
  the 720 px thumbnail, quality 80, a small EXIF) in 10 sub-folders, built on every core.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import BENCH_ROOT, REPO

__all__ = ["DATA", "FOLDERS_VERSION", "many_folder", "small_photo", "tree_stats", "video_folder"]

CORPUS = REPO.parent / "shared" / "corpus"
DATA = BENCH_ROOT / "issue22"
FOLDERS_VERSION = "1"
SEED = 22


def small_photo(index: int) -> bytes:
    """Picture ``index`` of the many-photo folder, the same bytes on every machine: smooth
    colour blobs plus noise of a per-file strength (~60-155 KB, ~100 KB on average)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng([SEED, index])
    w = 560 + 16 * (index % 12)  # 560..736 px: 1/12 above the 720 px thumbnail
    h = w * 3 // 4
    if index % 4 == 3:
        w, h = h, w
    blobs = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    pixels = np.asarray(
        Image.fromarray(blobs).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32
    )
    pixels += rng.standard_normal((h, w, 3), dtype=np.float32) * (10 + index * 7919 % 13)
    exif = Image.Exif()
    exif[0x010F] = "PhotoarkBench"  # Make
    exif[0x0110] = "Small 1"  # Model
    exif[0x0132] = f"2024:05:{1 + index % 28:02d} 12:{index // 60 % 60:02d}:{index % 60:02d}"
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        buf, "JPEG", quality=80, exif=exif
    )
    return buf.getvalue()


def _write_photos(root: Path, files: int, indices: range) -> None:
    for i in indices:
        folder = root / f"folder-{i * 10 // files}"
        folder.mkdir(exist_ok=True)
        (folder / f"IMG_{i:05d}.JPG").write_bytes(small_photo(i))


def _cached(name: str) -> tuple[Path, Path | None]:
    """The folder's path, and None if it is built already, else a fresh directory to build it
    in (renamed into place by :func:`_done`)."""
    root = DATA / name
    marker = DATA / f"{name}.complete"  # beside the folder: nothing extra inside it
    if root.is_dir() and marker.exists() and marker.read_text() == FOLDERS_VERSION:
        print(f"{name}: cached at {root}")
        return root, None
    shutil.rmtree(root, ignore_errors=True)
    partial = DATA / f"{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return root, partial


def _done(name: str, root: Path, partial: Path, started: float) -> Path:
    partial.rename(root)
    (DATA / f"{name}.complete").write_text(FOLDERS_VERSION)
    print(f"{name}: built {root} in {time.perf_counter() - started:.0f} s")
    return root


def many_folder(files: int) -> Path:
    """``files`` distinct small JPEGs in 10 sub-folders (built on every core)."""
    root, partial = _cached(f"many-{files}")
    if partial is None:
        return root
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    step = max(1, files // (cores * 8))
    with ProcessPoolExecutor(cores) as pool:
        jobs = [
            pool.submit(_write_photos, partial, files, range(i, min(i + step, files)))
            for i in range(0, files, step)
        ]
        for job in jobs:
            job.result()
    return _done(f"many-{files}", root, partial, started)


def video_folder() -> Path | None:
    """The corpus plus five lossless 1080p noise videos (42-46 frames each); None (said) if
    the corpus or ffmpeg is missing."""
    root, partial = _cached("video")
    if partial is None:
        return root
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or not CORPUS.is_dir():
        print(f"video: needs ffmpeg (apt-get install -y ffmpeg) and {CORPUS}; folder skipped")
        shutil.rmtree(partial)
        return None
    started = time.perf_counter()
    shutil.copytree(CORPUS, partial / "corpus")
    noise = "nullsrc=s=1920x1080:r=30,geq=random(1)*255:random(1)*255:128"
    for i in range(1, 6):
        subprocess.run(
            [
                *(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", noise),
                *("-frames:v", str(41 + i), "-c:v", "libx264", "-preset", "ultrafast"),
                *("-qp", "0", "-pix_fmt", "yuv420p", "-metadata", f"title=v{i}"),
                str(partial / f"VID_{i}.mp4"),
            ],
            check=True,
        )
    return _done("video", root, partial, started)


def tree_stats(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(dirpath, n))
    return files, size
