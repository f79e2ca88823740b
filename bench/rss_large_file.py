"""Peak memory while backing up one big file: client and server, at several file sizes.

For each size, writes one file of random bytes behind an MP4 ``ftyp`` box (fully allocated, not
sparse) under /tmp/photoark-bench, starts a fresh server, signs up, and runs
``photoark backup FILE --json``. The client's peak RSS is that very process's ``ru_maxrss``
(from ``wait4``: exact, no polling); the server's is its VmHWM, reset (``clear_refs`` 5) just
before the backup. Also measured: a trivial ``photoark ls --json`` (the import floor).

    python bench/rss_large_file.py [--size 1GiB --size 4GiB] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    cpu_seconds,
    drop_caches,
    fmt_bytes,
    parse_size,
    photoark,
    proc_status,
    reset_peak_rss,
    running_server,
    scratch,
    signup,
    write_json,
)

MB = 1e6
TARGET = 150 * MB  # client peak RSS, bytes
FLAT = 0.10  # peak may grow by at most 10 % between the smallest and the largest size


def write_video(path: Path, size: int) -> None:
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    with open(path, "wb") as f:
        f.write(ftyp)
        f.write((size - len(ftyp)).to_bytes(4, "big") + b"mdat")
        left = size - len(ftyp) - 8
        while left > 0:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n


def measure(size: int) -> dict[str, float]:
    with scratch(f"rss-{size}") as work, running_server(work) as server:
        path = work / "data" / "BIG.MP4"
        path.parent.mkdir()
        t = time.perf_counter()
        write_video(path, size)
        print(f"{fmt_bytes(size)}: file written in {time.perf_counter() - t:.0f} s")
        home = work / "client"
        signup(home, server.url)
        floor = photoark(home, ["ls", "--json"])
        drop_caches()
        pid = server.process.pid
        reset_ok = reset_peak_rss(pid)
        server_before = proc_status(pid, "VmRSS")
        server_cpu = cpu_seconds(pid)
        run = photoark(home, ["backup", str(path), "--album", "Big", "--json"])
        server_cpu = cpu_seconds(pid) - server_cpu
        report = run.json()
        assert report["uploaded"] == 1, report
        return {
            "size": size,
            "seconds": run.seconds,
            "mb_per_s": size / MB / run.seconds,
            "client_peak_rss": run.own_peak_rss,
            "client_peak_rss_incl_children": run.max_rss,
            "child_peak_rss": run.child_peak_rss,
            "client_cpu_s": run.cpu_seconds,
            "cli_floor_rss": floor.max_rss,
            "server_rss_before": server_before,
            "server_peak_rss": proc_status(pid, "VmHWM"),
            "server_peak_reset": reset_ok,
            "server_cpu_s": server_cpu,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size", action="append", help="file size, repeatable (default: 1GiB and 4GiB)"
    )
    ap.add_argument("--json-out")
    args = ap.parse_args()
    sizes = [parse_size(s) for s in (args.size or ["1GiB", "4GiB"])]

    results = [measure(s) for s in sizes]
    table = Table("peak RSS while backing up one large file (1 MB = 10^6 B)")
    for r in results:
        label = fmt_bytes(r["size"])
        table.add(
            f"{label}: client peak RSS",
            f"{r['client_peak_rss'] / MB:.0f} MB",
            f"≤ {TARGET / MB:.0f} MB",
            r["client_peak_rss"] <= TARGET,
        )
        table.add(
            f"{label}: client + children (wait4)",
            f"{r['client_peak_rss_incl_children'] / MB:.0f} MB "
            f"(largest child {r['child_peak_rss'] / MB:.0f} MB)",
            "info (ffmpeg/ffprobe children)",
        )
        table.add(
            f"{label}: server peak RSS",
            f"{r['server_peak_rss'] / MB:.0f} MB (idle {r['server_rss_before'] / MB:.0f} MB)",
            "info",
        )
        table.add(
            f"{label}: backup time",
            f"{r['seconds']:.1f} s  {r['mb_per_s']:.0f} MB/s  "
            f"(CPU client {r['client_cpu_s']:.1f} s, server {r['server_cpu_s']:.1f} s)",
            "info",
        )
    table.add(
        "CLI floor (photoark ls --json)",
        f"{results[0]['cli_floor_rss'] / MB:.0f} MB",
        "interpreter + imports",
    )
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        growth = hi["client_peak_rss"] / lo["client_peak_rss"] - 1
        table.add(
            f"client peak growth {fmt_bytes(lo['size'])} → {fmt_bytes(hi['size'])}",
            f"{growth:+.1%}",
            f"flat (≤ +{FLAT:.0%})",
            growth <= FLAT,
        )
    if not all(r["server_peak_reset"] for r in results):
        table.note("could not reset the server's VmHWM: its peak includes start-up")
    print(table.render())
    write_json(args.json_out, {"benchmark": "rss_large_file", "results": results})


if __name__ == "__main__":
    main()
