"""Re-scan of an unchanged folder of many small photos: the stat cache must make it ~free.

Creates N tiny distinct JPEGs (default 20 000, ~1-2 KiB each) under /tmp/photoark-bench, backs
them up once (timed for information), then times the second backup of the unchanged folder:

  - the whole CLI command (``photoark backup DIR --json``: interpreter start-up + work),
    ``--repeat`` times (the median is the figure: start-up on a shared VM varies by ±20 %),
    with photoark's bytecode compiled first as an install has it;
  - the in-process call (``Session.open`` + ``photoark.client.pipeline.backup.backup``), with
    ``builtins.open``/``io.open``/``os.open`` counting opens of files inside the folder;
  - the CLI again under ``strace -f -e trace=open,openat`` (if strace is installed), counting
    opens of paths inside the folder (not timed: strace slows everything down).

    python bench/rescan_unchanged.py [--files 20000] [--repeat 5] [--workers N] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import builtins
import io
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    cpu_seconds,
    ensure_bytecode,
    photoark,
    running_server,
    scratch,
    signup,
    small_jpeg,
    with_comment,
    write_json,
)

TARGET_S = 1.0


def make_folder(root: Path, count: int) -> int:
    """``count`` distinct tiny JPEGs, 500 per sub-folder; returns total bytes."""
    bases = [small_jpeg(seed) for seed in range(16)]
    total = 0
    for i in range(count):
        folder = root / f"d{i // 500:03d}"
        if i % 500 == 0:
            folder.mkdir(parents=True)
        data = with_comment(bases[i % len(bases)], f"photo {i}".encode())
        (folder / f"IMG_{i:05d}.JPG").write_bytes(data)
        total += len(data)
    return total


@contextmanager
def count_opens(folder: Path) -> Iterator[list[str]]:
    """Count ``open``/``io.open``/``os.open`` calls on paths inside ``folder``."""
    prefix = str(folder) + os.sep
    hits: list[str] = []
    originals: dict[str, Callable[..., Any]] = {
        "builtins": builtins.open,
        "io": io.open,
        "os": os.open,
    }

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def opener(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, str | bytes | os.PathLike):
                path = os.fsdecode(os.fspath(file))
                if path.startswith(prefix):
                    hits.append(path)
            return fn(file, *args, **kwargs)

        return opener

    builtins.open = wrap(originals["builtins"])
    io.open = wrap(originals["io"])
    os.open = wrap(originals["os"])
    try:
        yield hits
    finally:
        builtins.open = originals["builtins"]
        io.open = originals["io"]
        os.open = originals["os"]


def strace_opens(home: Path, args: list[str], folder: Path, log: Path) -> int | None:
    strace = shutil.which("strace")
    if strace is None:
        return None
    photoark(home, args, prefix=[strace, "-f", "-qq", "-e", "trace=open,openat", "-o", str(log)])
    needle = f'"{folder}{os.sep}'
    with open(log, errors="replace") as f:
        # directories are opened to be listed (O_DIRECTORY): those are not file reads
        return sum(1 for line in f if needle in line and "O_DIRECTORY" not in line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed CLI re-runs (median counts)")
    ap.add_argument("--workers", type=int, default=None, help="photoark --workers (default: CLI)")
    ap.add_argument("--json-out")
    args = ap.parse_args()

    from photoark.client.home import resolve_home
    from photoark.client.pipeline.backup import BackupOptions, backup
    from photoark.client.session import Session

    table = Table(f"re-scan of an unchanged folder of {args.files} small photos")
    result: dict[str, Any] = {"files": args.files}
    table.note(ensure_bytecode())
    with scratch("rescan") as work, running_server(work) as server:
        folder = work / "photos"
        t = time.perf_counter()
        total = make_folder(folder, args.files)
        print(
            f"made {args.files} files ({total / args.files:.0f} B each) in "
            f"{time.perf_counter() - t:.0f} s"
        )
        home = work / "client"
        signup(home, server.url)
        extra = ["--workers", str(args.workers)] if args.workers else []
        cmd = ["backup", str(folder), "--album", "Rescan", "--json", *extra]

        server_cpu = cpu_seconds(server.process.pid)
        first = photoark(home, cmd)
        server_cpu = cpu_seconds(server.process.pid) - server_cpu
        r1 = first.json()
        assert r1["uploaded"] == args.files, {k: v for k, v in r1.items() if k != "ignored"}
        result["first_s"] = first.seconds
        table.add(
            "first backup (info)",
            f"{first.seconds:.1f} s = {first.seconds / args.files * 1000:.1f} ms/file  "
            f"(CPU client {first.cpu_seconds:.0f} s, server {server_cpu:.0f} s)",
            "info",
        )

        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "photoark.cli.main", "backup", "--help"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        startup = time.perf_counter() - start
        result["cli_import_s"] = startup
        table.add("CLI start-up (photoark backup --help)", f"{startup:.2f} s", "info")

        runs = [photoark(home, cmd) for _ in range(max(1, args.repeat))]
        seconds = [run.seconds for run in runs]
        reports = [run.json() for run in runs]
        median = statistics.median(seconds)
        result["second_cli_s"] = median
        result["second_cli_runs_s"] = seconds
        table.add(
            f"second backup, whole CLI (median of {len(runs)})",
            f"{median:.2f} s  ({min(seconds):.2f}-{max(seconds):.2f}; "
            f"{reports[-1]['skipped']} skipped, {reports[-1]['bytes_uploaded']} B sent)",
            f"≤ {TARGET_S:.0f} s",
            median <= TARGET_S
            and all(r["skipped"] == args.files and r["bytes_uploaded"] == 0 for r in reports),
        )

        options = BackupOptions(workers=args.workers) if args.workers else BackupOptions()
        with count_opens(folder) as hits:
            start = time.perf_counter()
            with Session.open(resolve_home(home)) as session:
                r3 = backup(session, [str(folder)], "Rescan", options)
            inproc = time.perf_counter() - start
        result["second_in_process_s"] = inproc
        result["in_process_opens"] = len(hits)
        table.add(
            "second backup, in-process backup()",
            f"{inproc:.2f} s  ({r3.skipped} skipped)",
            f"≤ {TARGET_S:.0f} s",
            inproc <= TARGET_S and r3.skipped == args.files,
        )
        table.add(
            "  files in folder opened (open/os.open hooks)",
            str(len(hits)),
            "0",
            not hits,
        )

        opens = strace_opens(home, cmd, folder, work / "strace.log")
        result["strace_opens"] = opens
        if opens is None:
            table.note("strace not installed (apt-get install -y strace): no syscall count")
        else:
            table.add("  files in folder opened (strace openat, CLI)", str(opens), "0", opens == 0)
    print(table.render())
    write_json(args.json_out, {"benchmark": "rescan_unchanged", **result})


if __name__ == "__main__":
    main()
