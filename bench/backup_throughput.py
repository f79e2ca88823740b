"""Backup throughput: photoark vs. ``cat`` (read baseline) vs. ``restic backup``.

Builds (once, cached under /tmp/photoark-bench/dataset-*) a ~1 GiB folder of mixed photos —
real JPEG/HEIC files from ../shared/corpus copied repeatedly with a distinct comment/padding
each, plus generated 12 MP noisy JPEGs — and one 500 MiB video (random bytes behind an MP4
``ftyp`` box). Then, each from a cold page cache when it can be dropped:

  (a) ``cat`` of every file to /dev/null           — what the disk gives
  (b) ``restic backup`` into a fresh local repo     — the baseline to beat
  (c) ``photoark backup --json`` to a fresh local server (SQLite + blob dir under /tmp): when
      every original is committed (what restic's run gives: the data is safe), and the whole
      command, which then makes and sends the thumbnails
  (d) the same photoark backup again, unchanged     — should be ~instant
  (e) photoark backup of the same folder into a NEW album (dedup by reference, 0 bytes sent)

    python bench/backup_throughput.py [--photos 1GiB] [--video 500MiB] [--workers N]
                                      [--json-out FILE] [--keep-data] [--skip-restic]
                                      [--runs N]

``--runs N`` times (b) and (c) N times each, interleaved (restic, photoark, restic, ...), and
shows their medians: on this VM one run moves by ±10-15 %.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_ROOT,
    REPO,
    CliRun,
    Table,
    cpu_seconds,
    drop_caches,
    fmt_bytes,
    parse_size,
    photoark,
    running_server,
    scratch,
    signup,
    with_comment,
    write_json,
)

CORPUS = REPO.parent / "shared" / "corpus"
MB = 1e6
DATASET_VERSION = "1"


# -- dataset ---------------------------------------------------------------------------------


def noisy_jpeg(seed: int, size: tuple[int, int] = (4032, 3024)) -> bytes:
    """A 12 MP JPEG that does not compress to nothing: smooth colour blobs plus sensor-like
    noise (~6-7 MB at quality 88, close to a phone photo)."""
    from PIL import Image, ImageChops

    rnd = random.Random(seed)
    w, h = size
    small = (w // 16, h // 16)
    base = Image.frombytes("RGB", small, rnd.randbytes(small[0] * small[1] * 3))
    base = base.resize(size, Image.Resampling.BICUBIC)
    noise = Image.effect_noise(size, 24).convert("RGB")
    img = ImageChops.add(base, noise, scale=1.0, offset=-100)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def corpus_photos() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    exts = {".jpg", ".jpeg", ".heic"}
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() in exts)


def distinct(data: bytes, tag: str) -> bytes:
    """Same picture, different bytes: a JPEG comment, or trailing padding for HEIC."""
    if data[:2] == b"\xff\xd8":
        return with_comment(data, f"photoark-bench {tag}".encode())
    return data + f"\0photoark-bench {tag}".encode()


def write_video(path: Path, size: int) -> None:
    """An MP4 ``ftyp`` box then random bytes (one ``mdat`` box covering the rest)."""
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    mdat_len = size - len(ftyp)
    with open(path, "wb") as f:
        f.write(ftyp)
        f.write(mdat_len.to_bytes(4, "big") + b"mdat")
        left = mdat_len - 8
        while left > 0:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n


def build_dataset(photo_bytes: int, video_bytes: int) -> Path:
    root = BENCH_ROOT / f"dataset-{photo_bytes}-{video_bytes}"
    marker = root / ".complete"
    if marker.exists() and marker.read_text() == DATASET_VERSION:
        print(f"dataset: cached at {root}")
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    (root / "corpus").mkdir(parents=True)
    (root / "camera").mkdir()
    (root / "video").mkdir()
    total = 0
    # about a third of the photo bytes from real corpus files, copied with distinct bytes
    sources = corpus_photos()
    budget = photo_bytes // 3 if sources else 0
    copy = 0
    while sources and total < budget:
        for src in sources:
            data = distinct(src.read_bytes(), f"copy {copy}")
            dest = root / "corpus" / f"c{copy:03d}" / src.name
            dest.parent.mkdir(exist_ok=True)
            dest.write_bytes(data)
            total += len(data)
            if total >= budget:
                break
        copy += 1
    # the rest: generated 12 MP noisy JPEGs (24 distinct pictures, several distinct copies)
    bases: list[bytes] = []
    i = 0
    while total < photo_bytes:
        if len(bases) < 24:
            bases.append(noisy_jpeg(len(bases)))
        data = distinct(bases[i % len(bases)], f"gen {i}")
        (root / "camera" / f"IMG_{i:04d}.JPG").write_bytes(data)
        total += len(data)
        i += 1
    if video_bytes:
        write_video(root / "video" / "VID_0001.MP4", video_bytes)
    marker.write_text(DATASET_VERSION)
    print(f"dataset: built {root} in {time.perf_counter() - started:.0f} s")
    return root


def tree_stats(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n.startswith("."):
                continue
            files += 1
            size += os.path.getsize(os.path.join(dirpath, n))
    return files, size


# -- measurements ----------------------------------------------------------------------------


def time_cat(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        f"find {root} -type f ! -name '.*' -print0 | xargs -0 cat > /dev/null",
        shell=True,
        check=True,
    )
    return time.perf_counter() - start


def time_restic(root: Path, work: Path) -> float | None:
    restic = shutil.which("restic")
    if restic is None:
        print("restic not found (apt-get install -y restic); skipping the baseline")
        return None
    env = {
        **os.environ,
        "RESTIC_PASSWORD": "bench",
        "RESTIC_REPOSITORY": str(work / "restic-repo"),
        "RESTIC_CACHE_DIR": str(work / "restic-cache"),
    }
    subprocess.run([restic, "init"], env=env, check=True, capture_output=True)
    drop_caches()
    start = time.perf_counter()
    subprocess.run(
        [restic, "backup", "--quiet", "--exclude", ".complete", str(root)],
        env=env,
        check=True,
    )
    return time.perf_counter() - start


def backup_args(root: Path, args: argparse.Namespace) -> list[str]:
    extra = ["--workers", str(args.workers)] if args.workers else []
    return ["backup", str(root), "--json", *extra]


def originals_of(run: CliRun) -> float:
    """When every original was safe: the command's wall time less its thumbnail phase (the
    backup's own clock: originals committed, then thumbnails)."""
    phases = run.json()["seconds"]
    return float(run.seconds - (phases["total"] - phases["originals"]))


def spread(runs: list[float]) -> str:
    return f" (median of {len(runs)}: {min(runs):.1f}-{max(runs):.1f} s)" if len(runs) > 1 else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", default="1GiB", help="bytes of photos (default 1GiB)")
    ap.add_argument("--video", default="500MiB", help="size of the video (default 500MiB)")
    ap.add_argument("--workers", type=int, default=None, help="photoark --workers (default: CLI)")
    ap.add_argument("--skip-restic", action="store_true")
    ap.add_argument(
        "--runs",
        type=int,
        default=1,
        help="restic and photoark's first backup N times each, interleaved (medians shown)",
    )
    ap.add_argument("--keep-data", action="store_true", help="keep the cached dataset")
    ap.add_argument("--json-out")
    args = ap.parse_args()

    root = build_dataset(parse_size(args.photos), parse_size(args.video))
    files, size = tree_stats(root)
    print(f"dataset: {files} files, {fmt_bytes(size)}")
    cold = drop_caches()
    table = Table(f"backup throughput — {files} files, {fmt_bytes(size)} (1 MB = 10^6 B)")
    table.note(
        "page cache dropped before each timed run"
        if cold
        else "could NOT drop the page cache (not root?): figures are warm-cache"
    )
    result: dict[str, object] = {"files": files, "bytes": size, "cold_cache": cold}

    def rate(seconds: float) -> float:
        return size / MB / seconds

    try:
        drop_caches()
        t_cat = time_cat(root)
        result["cat_s"] = t_cat
        table.add("(a) cat → /dev/null", f"{t_cat:.1f} s  {rate(t_cat):.0f} MB/s", "read ceiling")

        restic_runs: list[float] = []
        originals_runs: list[float] = []
        for run in range(1, args.runs + 1):
            if not args.skip_restic:
                with scratch("restic") as work:
                    t = time_restic(root, work)
                if t is not None:
                    restic_runs.append(t)
            if run < args.runs:  # the last run goes on below, with (d) and (e) on its server
                with scratch("throughput") as work, running_server(work) as server:
                    home = work / "client"
                    signup(home, server.url)
                    drop_caches()
                    earlier = photoark(home, [*backup_args(root, args), "--album", "B"])
                    originals_runs.append(originals_of(earlier))
        t_restic = statistics.median(restic_runs) if restic_runs else None
        if t_restic is not None:
            result["restic_s"] = t_restic
            result["restic_runs_s"] = restic_runs
            table.add(
                "(b) restic backup",
                f"{t_restic:.1f} s  {rate(t_restic):.0f} MB/s{spread(restic_runs)}",
                "baseline",
            )

        with scratch("throughput") as work, running_server(work) as server:
            home = work / "client"
            signup(home, server.url)
            backup = backup_args(root, args)

            drop_caches()
            server_cpu = cpu_seconds(server.process.pid)
            first = photoark(home, [*backup, "--album", "Bench"], check=False)
            server_cpu = cpu_seconds(server.process.pid) - server_cpu
            report = first.json()
            ignored = len(report["ignored"])
            originals_runs.append(originals_of(first))
            originals = statistics.median(originals_runs)
            result["photoark_s"] = first.seconds
            result["photoark_originals_s"] = originals
            result["photoark_originals_runs_s"] = originals_runs
            result["photoark_report"] = {k: v for k, v in report.items() if k != "ignored"}
            result["photoark_client_peak_rss"] = first.max_rss
            target = (
                f"faster than restic ({rate(t_restic):.0f} MB/s)" if t_restic else "(no restic)"
            )
            table.add(
                "(c) photoark: originals safe",
                f"{originals:.1f} s  {rate(originals):.0f} MB/s{spread(originals_runs)}",
                target,
                (originals < t_restic) if t_restic else None,
            )
            if t_restic:
                ratio = t_restic / originals
                result["speed_ratio_photoark_over_restic"] = ratio
                table.add("    speed photoark / restic", f"{ratio:.2f}×", "> 1.00×", ratio > 1)
            thumbs = report["thumbnails"]
            table.add(
                "    whole command (+ thumbnails)",
                f"{first.seconds:.1f} s  {rate(first.seconds):.0f} MB/s  "
                f"({thumbs['made']} made, {len(thumbs['failed'])} failed)",
                "info: restic makes none",
            )
            table.add(
                "    uploaded / ignored / failed",
                f"{report['uploaded']} / {ignored} / {len(report['failed'])}  "
                f"({fmt_bytes(report['bytes_uploaded'])} sent)",
                f"{files - ignored} / - / 0",
                report["uploaded"] == files - ignored and not report["failed"],
            )
            result["photoark_client_cpu_s"] = first.cpu_seconds
            result["photoark_server_cpu_s"] = server_cpu
            table.add(
                "    CPU client / server",
                f"{first.cpu_seconds:.1f} s / {server_cpu:.1f} s",
                f"2 cores × {first.seconds:.0f} s = {2 * first.seconds:.0f} s",
            )
            table.add("    client peak RSS", fmt_bytes(first.max_rss), "info")

            drop_caches()
            again = photoark(home, [*backup, "--album", "Bench"], check=False)
            r2 = again.json()
            result["photoark_unchanged_s"] = again.seconds
            table.add(
                "(d) photoark again, unchanged",
                f"{again.seconds:.2f} s  ({r2['skipped']} skipped, {r2['bytes_uploaded']} B)",
                "~instant (≤ 2 s incl. start-up)",
                again.seconds <= 2 and r2["bytes_uploaded"] == 0,
            )

            drop_caches()
            dedup = photoark(home, [*backup, "--album", "Bench copy"], check=False)
            r3 = dedup.json()
            result["photoark_new_album_s"] = dedup.seconds
            share = dedup.seconds / first.seconds
            result["photoark_new_album_share"] = share
            table.add(
                "(e) photoark into a NEW album",
                f"{dedup.seconds:.2f} s = {share:.1%} of (c)  "
                f"({r3['added_to_album']} added, {r3['bytes_uploaded']} B)",
                "≤ 10 % of (c), 0 B sent",
                share <= 0.10 and r3["bytes_uploaded"] == 0,
            )
            if report["failed"]:
                table.note(f"failed files in (c): {report['failed'][:3]}")
    finally:
        if not args.keep_data:
            shutil.rmtree(root, ignore_errors=True)
    print(table.render())
    write_json(args.json_out, {"benchmark": "backup_throughput", **result})


if __name__ == "__main__":
    main()
