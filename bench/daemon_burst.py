"""Daemon burst: thousands of photos dropped into a watched folder at once.

A real server process and a real ``photoark daemon`` process (fresh client home, one empty
watched folder). N distinct small JPEGs (default 5 000, 100-300 KB: 16 noisy pictures of
different sizes, each copy made distinct by a JPEG comment) are written beforehand to a staging
folder on the same filesystem, then dropped in at once, in one or both ways:

  dir    one ``os.rename`` of the whole staging folder into the watched folder (one inotify
         event for the folder; the daemon walks it);
  files  each file renamed into the watched folder one after the other (N events in ~0.1 s).

Measured per drop, from the drop: when every file is recorded as backed up (the ``backed_up``
count that ``photoark status`` shows, read straight from the state DB) and is on the server
(its ``files`` table), when the daemon is idle again (thumbnails made too), throughput, and the
daemon's peak RSS (``VmHWM`` of its process, reset between drops through ``clear_refs``).
Target: all backed up, peak RSS ≤ 300 MB (10^6 B).

    python bench/daemon_burst.py [--files 5000] [--variant both|dir|files] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DaemonRun,
    Table,
    announce_source,
    backed_up_under,
    cpu_seconds,
    fmt_bytes,
    photoark,
    proc_status,
    reset_peak_rss,
    running_daemon,
    running_server,
    scratch,
    server_files,
    signup,
    use_checkout,
    with_comment,
    write_json,
)

use_checkout()  # this working tree's src/, in every process started

TARGET_RSS = 300_000_000  # 300 MB
MB = 1e6


def burst_jpeg(seed: int) -> bytes:
    """A 600x450 … 880x660 noisy JPEG, ~170-330 KB at quality 90."""
    from PIL import Image, ImageChops

    rnd = random.Random(seed)
    w = 600 + 20 * (seed % 15)
    size = (w, w * 3 // 4)
    small = (size[0] // 16, size[1] // 16)
    base = Image.frombytes("RGB", small, rnd.randbytes(small[0] * small[1] * 3))
    base = base.resize(size, Image.Resampling.BICUBIC)
    noise = Image.effect_noise(size, 24).convert("RGB")
    img = ImageChops.add(base, noise, scale=1.0, offset=-100)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_staging(folder: Path, count: int, tag: str, bases: list[bytes]) -> int:
    folder.mkdir(parents=True)
    total = 0
    for i in range(count):
        data = with_comment(bases[i % len(bases)], f"photoark-bench burst {tag} {i}".encode())
        (folder / f"IMG_{tag}_{i:05d}.JPG").write_bytes(data)
        total += len(data)
    return total


class RssSampler:
    """VmRSS of one process every ``every`` seconds (for the shape of the curve; the peak
    itself comes from VmHWM, which the kernel keeps exactly)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid = pid
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append((time.perf_counter() - self._t0, proc_status(self.pid, "VmRSS")))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def drop(
    variant: str,
    daemon: DaemonRun,
    home: Path,
    data_dir: Path,
    watched: Path,
    staging: Path,
    count: int,
    timeout: float,
) -> dict[str, Any]:
    """Drop ``staging``'s files into ``watched`` and time the daemon's work."""
    on_server_before = server_files(data_dir)
    reset = reset_peak_rss(daemon.pid)
    cpu0 = cpu_seconds(daemon.pid)
    board_before = daemon.board() or {}
    if variant == "dir":
        target = watched / staging.name
        counted = target
    else:
        target = watched
        counted = watched
    before = backed_up_under(home, counted)
    with RssSampler(daemon.pid) as sampler:
        t0 = time.perf_counter()
        wall0 = time.time()
        if variant == "dir":
            os.rename(staging, target)
        else:
            for name in sorted(os.listdir(staging)):
                os.rename(staging / name, target / name)
        moved = time.perf_counter() - t0
        marks: dict[str, float] = {}
        timeline: list[tuple[float, int, str, Any]] = []  # (s, backed up, state, batch)
        deadline = time.monotonic() + timeout
        while True:
            now = time.perf_counter() - t0
            done = backed_up_under(home, counted) - before
            if not timeline or now - timeline[-1][0] >= 0.1:
                board = daemon.board() or {}
                timeline.append((round(now, 2), done, board.get("state", ""), board.get("current")))
            if done and "first" not in marks:
                marks["first"] = now
            if done >= count and "backed_up" not in marks:
                marks["backed_up"] = now
            if (
                "backed_up" in marks
                and "server" not in marks
                and server_files(data_dir) - on_server_before >= count
            ):
                marks["server"] = time.perf_counter() - t0
            if "server" in marks:
                board = daemon.board() or {}
                if board.get("state") == "idle" and board.get("updated_at", 0) > wall0:
                    marks["idle"] = time.perf_counter() - t0
                    break
            if not daemon.alive():
                raise RuntimeError(f"the daemon exited; log:\n{daemon.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{variant}: after {timeout:.0f} s {done}/{count} backed up, board "
                    f"{daemon.board()}; log:\n{daemon.log_tail()}"
                )
            time.sleep(0.05)
    peak = daemon.peak_rss()
    curve = sampler.samples
    phases = split_phases(timeline, marks["backed_up"])
    return {
        "variant": variant,
        "moved_s": moved,
        "first_backed_up_s": marks.get("first"),
        "all_backed_up_s": marks["backed_up"],
        "all_on_server_s": marks["server"],
        "idle_s": marks["idle"],
        "files_per_s": count / marks["backed_up"],
        "daemon_cpu_s": cpu_seconds(daemon.pid) - cpu0,
        "peak_rss": peak,
        "peak_rss_reset": reset,
        "rss_at_idle": proc_status(daemon.pid, "VmRSS"),
        "rss_curve_max": max((r for _, r in curve), default=0),
        "rss_curve_peak_at_s": max(curve, key=lambda s: s[1])[0] if curve else None,
        "board_before": board_before.get("state"),
        "batches": phases["batches"],
        "originals_phases_s": phases["originals"],
        "other_phases_s": phases["other"],
        "timeline": timeline,
    }


def split_phases(timeline: list[tuple[float, int, str, Any]], until: float) -> dict[str, Any]:
    """Until every original was committed: seconds the daemon spent sending originals (its
    board's batch not finished: ``files_done < files``) and seconds in anything else (a
    finished batch's tail — previous versions, thumbnails — or between batches), from the
    board sampled every 0.1 s; and the batch sizes seen."""
    originals = other = 0.0
    batches: list[int] = []
    last: dict[str, Any] | None = None
    for (t, _, _, cur), (t_next, *_) in itertools.pairwise(timeline):
        if t >= until:
            break
        span = min(t_next, until) - t
        if cur and cur["files_done"] < cur["files"]:
            originals += span
        else:
            other += span
        if cur and (
            last is None  # between batches before
            or cur["files_done"] < last["files_done"]
            or (last["files_done"] == last["files"] and cur != last)
        ):
            batches.append(cur["files"])
        last = cur or None
    return {"originals": originals, "other": other, "batches": batches}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--variant", choices=["both", "dir", "files"], default="both")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per drop")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    code = announce_source()
    variants = ["dir", "files"] if args.variant == "both" else [args.variant]

    table = Table(f"daemon burst — {args.files} files dropped into a watched folder at once")
    result: dict[str, Any] = {"files": args.files, "code": code, "drops": []}
    with scratch("daemon-burst") as work, running_server(work) as server:
        started = time.perf_counter()
        bases = [burst_jpeg(seed) for seed in range(16)]
        staging: dict[str, Path] = {}
        total = 0
        for v in variants:
            staging[v] = work / f"staging-{v}" / f"Drop-{v}"
            total += make_staging(staging[v], args.files, v, bases)
        mean = total / (args.files * len(variants))
        print(
            f"made {args.files * len(variants)} JPEGs ({fmt_bytes(mean)} each) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        home = work / "client"
        signup(home, server.url)
        watched = work / "Phone"
        watched.mkdir()
        photoark(home, ["watch", "add", str(watched)])

        with running_daemon(home) as daemon:
            daemon.wait_state("idle", timeout=60)
            result["rss_idle_before"] = proc_status(daemon.pid, "VmRSS")
            for v in variants:
                r = drop(
                    v,
                    daemon,
                    home,
                    server.data_dir,
                    watched,
                    staging[v],
                    args.files,
                    args.timeout,
                )
                result["drops"].append(r)
                print(
                    f"{v}: {args.files} backed up in {r['all_backed_up_s']:.1f} s, idle at "
                    f"{r['idle_s']:.1f} s, peak RSS {r['peak_rss'] / MB:.0f} MB"
                )
            status = photoark(home, ["status", "--json"]).json()
            pid = daemon.pid
            stopped = daemon.stop()
        result["status"] = status["watches"][0]
        result["daemon_exit"] = stopped
        on_server = server_files(server.data_dir)

    w = result["status"]
    expected = args.files * len(variants)
    table.add(
        "photoark status: seen / backed up / queued / failed",
        f"{w['seen']} / {w['backed_up']} / {w['queued']} / {w['failed']}",
        f"{expected} / {expected} / 0 / 0",
        w["backed_up"] == expected and w["queued"] == 0 and w["failed"] == 0,
    )
    table.add("files on the server", str(on_server), str(expected), on_server == expected)
    for r in result["drops"]:
        how = "one folder renamed in" if r["variant"] == "dir" else "files renamed in one by one"
        table.add(
            f"[{r['variant']}] {how}",
            f"in {r['moved_s'] * 1000:.0f} ms",
            "",
        )
        table.add(
            "  first / all backed up (originals)",
            f"{r['first_backed_up_s']:.1f} s / {r['all_backed_up_s']:.1f} s  "
            f"({r['files_per_s']:.0f} files/s, {r['files_per_s'] * mean / MB:.1f} MB/s)",
            "info",
        )
        table.add(
            "  of which sending originals / other work",
            f"{r['originals_phases_s']:.1f} s / {r['other_phases_s']:.1f} s  (batches seen: "
            f"{', '.join(map(str, r['batches']))})",
            "info: other = thumbnails of earlier batches",
        )
        table.add("  daemon idle again (+ thumbnails)", f"{r['idle_s']:.1f} s", "info")
        table.add("  daemon CPU", f"{r['daemon_cpu_s']:.1f} s", "info")
        table.add(
            "  daemon peak RSS (VmHWM)",
            f"{r['peak_rss'] / MB:.0f} MB"
            + ("" if r["peak_rss_reset"] else " (not reset: includes the earlier drop)"),
            f"≤ {TARGET_RSS / MB:.0f} MB",
            r["peak_rss"] <= TARGET_RSS,
        )
        table.add(
            "  RSS at idle afterwards",
            f"{r['rss_at_idle'] / MB:.0f} MB (peak {r['rss_curve_peak_at_s']:.1f} s in)",
            "info",
        )
    table.note(
        f"daemon pid {pid} exited {stopped} on SIGTERM; idle RSS before the drops "
        f"{result['rss_idle_before'] / MB:.0f} MB"
    )
    print(table.render())
    write_json(args.json_out, {"benchmark": "daemon_burst", **result})


if __name__ == "__main__":
    main()
