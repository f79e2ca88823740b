"""Backup throughput (issue 22): the whole ``photoark backup`` command against ``restic backup``,
on the issue's two folders, per byte and per file, with both sides' peak memory.

Folders (built once, deterministic, cached under /tmp/photoark-bench/issue22/):

- ``video``: the shared corpus (../shared/corpus, copied: 353 files, ~100 MB of photos, HEIC,
  RAW, videos, sidecars) + five lossless 1080p H.264 noise videos of ~180 MB each (ffmpeg
  lavfi): 358 files, ~1 GB. Per byte.
- ``many``: ``--files`` (5 000) distinct JPEGs of ~100 KB (560-736 px, a quarter portrait,
  1/12 over the 720 px thumbnail, quality 80, a small EXIF) in 10 sub-folders: ~500 MB. Per file.

For each folder, ``--runs`` times, interleaved (restic, photoark, restic, ...), each run with a
fresh repository / a fresh server (SQLite + local blob dir) and a fresh account, the page cache
dropped first when it can be (root):

  (a) ``cat`` of every file to /dev/null (once)   — what the disk gives
  (b) ``restic backup`` into a fresh local repo    — the baseline
  (c) ``photoark backup --json``: the whole command; when every original was safe (the command's
      wall time less what the report's ``seconds`` put after the originals: the thumbnails);
      that phase itself; client and server peak RSS and CPU
  (d) the same backup again, unchanged (last run) — ~instant
  (e) the same folder into a NEW album (last run) — dedup by reference, 0 bytes sent

Speeds are relative to restic: restic's time / photoark's time (medians; each run's own pair in
brackets). Peak RSS is ``ru_maxrss`` from ``wait4``: the largest single process of the
command's tree (the CLI's Python process, or a child such as ffmpeg), for restic and photoark
alike; the server's is its ``VmHWM`` (reset after sign-up).

    python bench/backup_throughput.py [--folder video|many|both] [--runs 3] [--files 5000]
                                      [--workers N] [--skip-restic] [--json-out FILE] [--clean]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    CliRun,
    Table,
    announce_source,
    cpu_seconds,
    drop_caches,
    ensure_bytecode,
    fmt_bytes,
    photoark,
    proc_status,
    reset_peak_rss,
    running_server,
    scratch,
    signup,
    write_json,
)
from _folders import DATA, many_folder, tree_stats, video_folder

MB = 1e6
MiB = 1 << 20
RSS_TARGET = 200 * MiB


@dataclass(frozen=True)
class Targets:
    """Issue 22's targets for one folder, as speeds relative to restic (restic / photoark)."""

    whole: float
    originals: float
    whole_text: str
    originals_text: str


TARGETS = {
    "video": Targets(1.3, 3.0, "≥ 1.30× restic's speed", "≥ 3.00× restic's speed"),
    "many": Targets(1 / 3, 1.0, "within 3× restic's time (≥ 0.33×)", "≥ 1.00× restic's speed"),
}


# -- one run of each -------------------------------------------------------------------------


def time_cat(root: Path) -> float:
    drop_caches()
    start = time.perf_counter()
    subprocess.run(
        f"find {root} -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True
    )
    return time.perf_counter() - start


@dataclass
class ResticRun:
    seconds: float
    max_rss: int  # ru_maxrss from wait4
    cpu: float


def run_restic(restic: str, root: Path) -> ResticRun:
    """``restic backup`` of ``root`` into a fresh local repository, from a cold cache."""
    with scratch("restic") as work:
        env = {
            **os.environ,
            "RESTIC_PASSWORD": "bench",
            "RESTIC_REPOSITORY": str(work / "repo"),
            "RESTIC_CACHE_DIR": str(work / "cache"),
        }
        subprocess.run([restic, "init"], env=env, check=True, capture_output=True)
        drop_caches()
        with open(work / "stderr", "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [restic, "backup", "--quiet", str(root)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"restic exited {proc.returncode}: {(work / 'stderr').read_text()}")
    return ResticRun(seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime)


@dataclass
class PhotoarkRun:
    whole: float
    originals: float  # when every original was committed, from the command's start
    after: float  # the report's time after the originals: thumbnails (and the closing pull)
    client_rss: int  # wait4's ru_maxrss (the tree's largest process), or own_peak_rss if higher
    client_own_rss: int  # VmHWM of the CLI's Python process alone, polled
    client_cpu: float
    server_rss: int  # the server's VmHWM during the backup
    server_cpu: float
    report: dict[str, Any]
    returncode: int
    follow_ups: dict[str, Any] = field(default_factory=dict)


def report_of(run: CliRun) -> dict[str, Any]:
    try:
        report: dict[str, Any] = run.json()
    except ValueError as err:
        raise RuntimeError(
            f"photoark backup exited {run.returncode} without a JSON report\n{run.stderr[-3000:]}"
        ) from err
    return report


def run_photoark(root: Path, workers: int | None, follow_ups: bool) -> PhotoarkRun:
    """A first ``photoark backup`` of ``root`` to a fresh server and account, from a cold
    cache; with ``follow_ups`` also (d) the unchanged re-run and (e) into a new album."""
    backup = ["backup", str(root), "--json", *(["--workers", str(workers)] if workers else [])]
    with scratch("throughput") as work, running_server(work) as server:
        assert server.process is not None
        pid = server.process.pid
        home = work / "client"
        signup(home, server.url)
        reset_peak_rss(pid)
        drop_caches()
        cpu = cpu_seconds(pid)
        first = photoark(home, [*backup, "--album", "Bench"], check=False)
        server_cpu = cpu_seconds(pid) - cpu
        report = report_of(first)
        after = report["seconds"]["total"] - report["seconds"]["originals"]
        run = PhotoarkRun(
            whole=first.seconds,
            originals=first.seconds - after,
            after=after,
            client_rss=max(first.max_rss, first.own_peak_rss),
            client_own_rss=first.own_peak_rss,
            client_cpu=first.cpu_seconds,
            server_rss=proc_status(pid, "VmHWM"),
            server_cpu=server_cpu,
            report={k: v for k, v in report.items() if k != "ignored"},
            returncode=first.returncode,
        )
        run.report["ignored"] = len(report["ignored"])
        if follow_ups:
            drop_caches()
            again = photoark(home, [*backup, "--album", "Bench"], check=False)
            drop_caches()
            dedup = photoark(home, [*backup, "--album", "Bench copy"], check=False)
            run.follow_ups = {
                "unchanged_s": again.seconds,
                "unchanged": report_of(again),
                "new_album_s": dedup.seconds,
                "new_album": report_of(dedup),
            }
    return run


# -- one folder ------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    return f" (median of {len(values)}: {min(values):.1f}-{max(values):.1f} s)"


def paired(restic: list[ResticRun], runs: list[float]) -> str:
    ratios = [r.seconds / t for r, t in zip(restic, runs, strict=False)]
    if len(ratios) < 2:
        return ""
    return f" (runs {min(ratios):.2f}-{max(ratios):.2f}×)"


def measure_folder(
    name: str, root: Path, args: argparse.Namespace, restic: str | None
) -> tuple[Table, dict[str, Any], list[tuple[str, str, str, bool | None]]]:
    """Run (a)-(e) on one folder: its table, its JSON and its rows of the issue's targets."""
    files, size = tree_stats(root)
    print(f"{name}: {files} files, {fmt_bytes(size)} — {args.runs} run(s) each")
    table = Table(f"{name} folder — {files} files, {size / MB:.0f} MB (1 MB = 10^6 B)")
    result: dict[str, Any] = {"root": str(root), "files": files, "bytes": size}
    folder = f"{name} ({files} files)"

    def rate(seconds: float) -> str:
        return f"{seconds:.1f} s  {size / MB / seconds:.0f} MB/s  {files / seconds:.0f} files/s"

    t_cat = time_cat(root)
    result["cat_s"] = t_cat
    table.add("(a) cat → /dev/null", rate(t_cat), "read ceiling")

    restic_runs: list[ResticRun] = []
    runs: list[PhotoarkRun] = []
    for i in range(1, args.runs + 1):
        if restic:
            restic_runs.append(run_restic(restic, root))
            print(f"  run {i}: restic {restic_runs[-1].seconds:.1f} s", end="", flush=True)
        runs.append(run_photoark(root, args.workers, follow_ups=i == args.runs))
        print(f"{'' if restic else f'  run {i}:'}  photoark {runs[-1].whole:.1f} s", flush=True)

    whole = median([r.whole for r in runs])
    originals = median([r.originals for r in runs])
    after = median([r.after for r in runs])
    client_rss = max(r.client_rss for r in runs)
    result["photoark_runs"] = [vars(r) for r in runs]
    target = TARGETS[name]
    verdicts: list[tuple[str, str, str, bool | None]] = []
    t_restic = median([r.seconds for r in restic_runs]) if restic_runs else None
    restic_rss = max((r.max_rss for r in restic_runs), default=0)
    restic_cpu = median([r.cpu for r in restic_runs]) if restic_runs else 0.0
    if t_restic is not None:
        result["restic_runs"] = [vars(r) for r in restic_runs]
        table.add(
            "(b) restic backup",
            rate(t_restic) + spread([r.seconds for r in restic_runs]),
            "baseline",
        )
        table.add("    restic peak RSS / CPU", f"{fmt_bytes(restic_rss)} / {restic_cpu:.1f} s")

    def versus(label: str, seconds: float, each: list[float], goal: float, text: str) -> None:
        baseline = f"restic {t_restic:.1f} s" if t_restic else ""
        table.add(f"(c) photoark: {label}", rate(seconds) + spread(each), baseline)
        if t_restic is None:
            verdicts.append((f"{folder}: {label}", f"{seconds:.1f} s", text, None))
            return
        speed = t_restic / seconds
        result[f"speed_{label.split()[0]}"] = speed
        figure = f"{speed:.2f}× = {1 / speed:.2f}× restic's time{paired(restic_runs, each)}"
        table.add(f"    speed vs restic ({label})", figure, text, speed >= goal)
        verdicts.append((f"{folder}: {label}", figure, text, speed >= goal))

    versus("whole command", whole, [r.whole for r in runs], target.whole, target.whole_text)
    versus(
        "originals safe",
        originals,
        [r.originals for r in runs],
        target.originals,
        target.originals_text,
    )
    last = runs[-1].report
    items = sum(last[k] for k in ("uploaded", "skipped", "added_to_album"))
    expected = files - last["ignored"] - last["live_photos"]  # a Live Photo's 2 files: 1 item
    thumbs = last["thumbnails"]
    table.add(
        "    after the originals (thumbnails)",
        f"{after:.1f} s{spread([r.after for r in runs])}  "
        f"({thumbs['made']} made, {len(thumbs['failed'])} failed)",
        "restic makes none",
    )
    rss_text = f"≤ {fmt_bytes(RSS_TARGET)}" + (
        f"; restic {fmt_bytes(restic_rss)}" if restic_runs else ""
    )
    rss_figure = (
        f"{fmt_bytes(client_rss)} (Python process alone "
        f"{fmt_bytes(max(r.client_own_rss for r in runs))})"
    )
    table.add(
        "    client peak RSS (wait4, max of runs)", rss_figure, rss_text, client_rss <= RSS_TARGET
    )
    verdicts.append(
        (f"{folder}: client peak RSS", fmt_bytes(client_rss), rss_text, client_rss <= RSS_TARGET)
    )
    table.add("    server peak RSS (VmHWM)", fmt_bytes(max(r.server_rss for r in runs)), "info")
    table.add(
        "    CPU client / server",
        f"{median([r.client_cpu for r in runs]):.1f} s / "
        f"{median([r.server_cpu for r in runs]):.1f} s",
        f"restic {restic_cpu:.1f} s" if restic_runs else "",
    )
    table.add(
        "    items backed up / ignored / failed",
        f"{items} / {last['ignored']} / {len(last['failed'])}  ({last['uploaded']} uploaded, "
        f"{last['live_photos']} Live Photos, {fmt_bytes(last['bytes_uploaded'])} sent)",
        f"{expected} / - / 0",
        items == expected and not last["failed"],
    )
    if runs[-1].returncode:
        table.note(f"photoark backup exited {runs[-1].returncode}")
    if last["failed"]:
        table.note(f"failed files: {last['failed'][:3]}")

    follow = runs[-1].follow_ups
    again, dedup = follow["unchanged"], follow["new_album"]
    table.add(
        "(d) photoark again, unchanged",
        f"{follow['unchanged_s']:.2f} s  ({again['skipped']} skipped, {again['bytes_uploaded']} B)",
        "~instant (≤ 2 s incl. start-up)",
        follow["unchanged_s"] <= 2 and again["bytes_uploaded"] == 0,
    )
    share = follow["new_album_s"] / runs[-1].whole
    table.add(
        "(e) photoark into a NEW album",
        f"{follow['new_album_s']:.2f} s = {share:.1%} of (c)  "
        f"({dedup['added_to_album']} added, {dedup['bytes_uploaded']} B)",
        "≤ 10 % of (c), 0 B sent",
        share <= 0.10 and dedup["bytes_uploaded"] == 0,
    )
    result.update(photoark_whole_s=whole, photoark_originals_s=originals, photoark_after_s=after)
    result.update(photoark_client_peak_rss=client_rss, restic_s=t_restic)
    return table, result, verdicts


# -- the command -----------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", choices=("video", "many", "both"), default="both")
    ap.add_argument("--runs", type=int, default=3, help="restic and photoark runs, interleaved")
    ap.add_argument("--files", type=int, default=5000, help="JPEGs in the many folder")
    ap.add_argument("--workers", type=int, default=None, help="photoark --workers (default: CLI)")
    ap.add_argument("--skip-restic", action="store_true")
    ap.add_argument("--clean", action="store_true", help="delete the built folders afterwards")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    if args.runs < 1 or args.files < 10:
        ap.error("--runs must be ≥ 1 and --files ≥ 10")

    code = announce_source()
    restic = None if args.skip_restic else shutil.which("restic")
    if restic is None and not args.skip_restic:
        print("restic NOT FOUND (apt-get install -y restic): no baseline, no ratio verdicts")
    version = (
        subprocess.run([restic, "version"], capture_output=True, text=True).stdout.strip()
        if restic
        else ""
    )
    names = ["video", "many"] if args.folder == "both" else [args.folder]
    cold = drop_caches()
    notes = [
        ensure_bytecode(),
        f"restic: {version}" if restic else "restic: not run",
        "page cache dropped before each timed run"
        if cold
        else "could NOT drop the page cache (not root?): figures are warm-cache",
        "speed = restic's time / photoark's time; originals safe = wall time − the report's "
        "seconds after the originals (total − originals)",
    ]
    if "many" in names and args.files != 5000:
        notes.append(f"many folder: {args.files} files (the issue's target is for 5 000)")
    tables: list[Table] = []
    summary = Table("issue 22 targets")
    results: dict[str, Any] = {}
    built: list[Path] = []
    try:
        for name in names:
            root = video_folder() if name == "video" else many_folder(args.files)
            if root is None:
                continue
            built.append(root)
            table, results[name], verdicts = measure_folder(name, root, args, restic)
            tables.append(table)
            for row in verdicts:
                summary.add(*row)
    finally:
        if args.clean:
            for root in built:
                shutil.rmtree(root, ignore_errors=True)
                (DATA / f"{root.name}.complete").unlink(missing_ok=True)
    for table in tables:
        print(table.render())
    for note in notes:
        summary.note(note)
    print(summary.render())
    write_json(
        args.json_out,
        {"benchmark": "backup_throughput", "code": code, "runs": args.runs, "folders": results},
    )


if __name__ == "__main__":
    main()
