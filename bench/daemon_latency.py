"""Daemon latency: from a file's last write to its commit on the server.

A real server process and a real ``photoark daemon`` process (a fresh client home signed up
with ``--kdf min``, one empty watched folder, default settle time). Once the daemon is idle,
N phone-sized JPEGs (default 100 × 12 MP, ~4.7 MB each, written in 256 KiB chunks straight into
the folder, as a sync tool or a camera import does) are written one at a time, one starting
every ``--interval`` seconds. The time of each file's last write is taken right after its
``close()``; its commit time is the server's own ``files.created_at`` (the row inserted by the
commit, in the server's SQLite database), found through the client's ``backed_up`` table
(local path → file id). Both clocks are this machine's ``time.time()``.

Latency = commit − last write; it includes the settle time (``watch.settle_seconds``, 1 s by
default: a file is taken once its size and mtime have held still that long). Target: median
≤ 3 s; p95 and max are shown too.

    python bench/daemon_latency.py [--files 100] [--interval 0.4] [--size 4000x3000]
                                   [--settle SECONDS] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    announce_source,
    backed_up_under,
    cpu_seconds,
    fmt_bytes,
    percentile,
    photoark,
    query_ro,
    running_daemon,
    running_server,
    scratch,
    server_db,
    signup,
    state_db,
    use_checkout,
    with_comment,
    write_json,
)

use_checkout()  # this working tree's src/, in every process started

TARGET_MEDIAN_S = 3.0
CHUNK = 256 * 1024


def phone_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """A JPEG that compresses like a phone photo: smooth colour blobs plus sensor-like noise
    (12 MP → ~4.7 MB at quality 85)."""
    from PIL import Image, ImageChops

    rnd = random.Random(seed)
    w, h = size
    small = (w // 16, h // 16)
    base = Image.frombytes("RGB", small, rnd.randbytes(small[0] * small[1] * 3))
    base = base.resize(size, Image.Resampling.BICUBIC)
    noise = Image.effect_noise(size, 12).convert("RGB")
    img = ImageChops.add(base, noise, scale=1.0, offset=-100)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def write_file(path: Path, data: bytes) -> float:
    """Write ``data`` in chunks; the wall-clock time right after ``close()``."""
    with open(path, "wb") as f:
        for i in range(0, len(data), CHUNK):
            f.write(data[i : i + CHUNK])
    return time.time()


def commit_times(home: Path, data_dir: Path, folder: Path) -> dict[str, float]:
    """Local path → ``created_at`` of the server file it was backed up as."""
    prefix = (str(folder) + "/").encode()
    ids = {
        bytes(path).decode(): int(file_id)
        for path, file_id in query_ro(state_db(home), "SELECT path, file_id FROM backed_up")
        if bytes(path).startswith(prefix)
    }
    created = dict(query_ro(server_db(data_dir), "SELECT id, created_at FROM files"))
    return {path: float(created[i]) for path, i in ids.items() if i in created}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.4, help="seconds between file starts")
    ap.add_argument("--size", default="4000x3000", help="pixels, WxH (default 12 MP)")
    ap.add_argument("--bases", type=int, default=8, help="distinct pictures (then comments)")
    ap.add_argument("--settle", type=float, default=None, help="watch.settle_seconds")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    code = announce_source()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    assert len(size) == 2

    started = time.perf_counter()
    bases = [phone_jpeg(seed, size) for seed in range(min(args.bases, args.files))]  # type: ignore[arg-type]
    photos = [
        with_comment(bases[i % len(bases)], f"photoark-bench latency {i}".encode())
        for i in range(args.files)
    ]
    mean_size = sum(map(len, photos)) / len(photos)
    print(
        f"made {args.files} JPEGs of {size[0]}x{size[1]} ({fmt_bytes(mean_size)} each) in "
        f"{time.perf_counter() - started:.1f} s"
    )

    table = Table(
        f"daemon latency — {args.files} files of {fmt_bytes(mean_size)}, one every "
        f"{args.interval:g} s"
    )
    result: dict[str, Any] = {
        "files": args.files,
        "code": code,
        "interval_s": args.interval,
        "file_bytes": mean_size,
    }
    with scratch("daemon-latency") as work, running_server(work) as server:
        home = work / "client"
        signup(home, server.url)
        folder = work / "Camera"
        folder.mkdir()
        photoark(home, ["watch", "add", str(folder)])
        if args.settle is not None:
            photoark(home, ["config", "set", "watch.settle_seconds", str(args.settle)])
        got = photoark(home, ["config", "get", "watch.settle_seconds", "--json"]).json()
        settle = float(got["watch.settle_seconds"])
        result["settle_s"] = settle

        with running_daemon(home) as daemon:
            daemon.wait_state("idle", timeout=60)
            cpu0 = cpu_seconds(daemon.pid), cpu_seconds(server.process.pid)
            written: dict[str, float] = {}
            t0 = time.perf_counter()
            for i, data in enumerate(photos):
                delay = t0 + i * args.interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                path = folder / f"IMG_{i:04d}.JPG"
                written[str(path)] = write_file(path, data)
            writing = time.perf_counter() - t0
            deadline = time.monotonic() + 120 + 10 * args.files
            while backed_up_under(home, folder) < args.files:
                if not daemon.alive():
                    raise RuntimeError(f"the daemon exited; log:\n{daemon.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"only {backed_up_under(home, folder)} of {args.files} backed up"
                    )
                time.sleep(0.1)
            all_done = time.perf_counter() - t0
            daemon.wait_state("idle", timeout=300, since=time.time())
            cpu = cpu_seconds(daemon.pid) - cpu0[0], cpu_seconds(server.process.pid) - cpu0[1]
            peak = daemon.peak_rss()
        commits = commit_times(home, server.data_dir, folder)
        versions = int(query_ro(server_db(server.data_dir), "SELECT count(*) FROM files")[0][0])

    missing = sorted(set(written) - set(commits))
    assert not missing, f"no commit found for {len(missing)} files, e.g. {missing[:3]}"
    lat = [commits[p] - written[p] for p in written]
    median, p95, worst = statistics.median(lat), percentile(lat, 95), max(lat)
    result.update(
        latency_s=lat,
        median_s=median,
        p95_s=p95,
        max_s=worst,
        min_s=min(lat),
        writing_s=writing,
        all_committed_s=all_done,
        daemon_cpu_s=cpu[0],
        server_cpu_s=cpu[1],
        daemon_peak_rss=peak,
        server_files=versions,
    )
    table.add(
        "latency, median",
        f"{median:.2f} s",
        f"≤ {TARGET_MEDIAN_S:g} s (settle {settle:g} s included)",
        median <= TARGET_MEDIAN_S,
    )
    table.add(
        "files on the server (every version, trashed too)",
        str(versions),
        f"{args.files}: no half-written file taken",
        versions == args.files,
    )
    table.add("latency, p95", f"{p95:.2f} s", "info")
    table.add("latency, min / max", f"{min(lat):.2f} s / {worst:.2f} s", "info")
    table.add(
        "latency less the settle time, median",
        f"{median - settle:.2f} s",
        "info: detection + backup",
    )
    table.add(
        "writing / all committed",
        f"{writing:.1f} s / {all_done:.1f} s after the first write",
        "info",
    )
    table.add("CPU daemon / server", f"{cpu[0]:.1f} s / {cpu[1]:.1f} s", "info")
    table.add("daemon peak RSS", fmt_bytes(peak), "info")
    buckets = [0, 1, 2, 3, 5, 10, float("inf")]
    spread = [
        f"{lo:g}-{hi:g} s: {sum(lo <= v < hi for v in lat)}"
        for lo, hi in itertools.pairwise(buckets)
        if any(lo <= v < hi for v in lat)
    ]
    table.note("spread: " + ", ".join(spread))
    print(table.render())
    write_json(args.json_out, {"benchmark": "daemon_latency", **result})


if __name__ == "__main__":
    main()
