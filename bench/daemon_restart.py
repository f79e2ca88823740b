"""Daemon restart over an unchanged, already backed-up watched folder.

Builds N tiny distinct JPEGs (default 20 000, ~1-2 KiB each, 500 per sub-folder: the folder of
``rescan_unchanged``), backs them up once with ``photoark backup FOLDER --album <folder name>``
(the album the watch uses by default), adds the watch, then runs a real ``photoark daemon``
process several times over the unchanged folder:

  first start   the first daemon start after the CLI backup (must upload nothing);
  restarts      ``--runs`` more starts, each timed from the spawn (warm page cache), and one
                from a cold page cache when it can be dropped (root).

Each start is timed from just before the spawn to the daemon's status board (the ``meta`` row
``daemon_status`` in the client's state DB, read with a read-only SQLite connection every 2 ms)
showing ``idle``. The board's own timestamps split it: interpreter start-up and session open
(until the first board write), the pull of the server's change stream (``last_sync``), the
watch set-up, then the reconcile itself (``reconciling`` → ``idle``: the walk of the folder and
the backup pipeline's stat-cache pass). Target: reconciled ≤ 2 s (the whole restart, spawn to
idle). Checked too: no file on the server, no byte in its blob store and no upload request
added, and (with ``strace -f -e trace=open,openat``, if installed) no file in the folder opened.

    python bench/daemon_restart.py [--files 20000] [--runs 3] [--no-strace] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DaemonRun,
    Table,
    announce_source,
    cpu_seconds,
    drop_caches,
    photoark,
    running_daemon,
    running_server,
    scratch,
    server_files,
    signup,
    state_db,
    tree_bytes,
    use_checkout,
    write_json,
)
from rescan_unchanged import make_folder

use_checkout()  # this working tree's src/, in every process started

TARGET_S = 2.0
STATES = ("starting", "reconciling", "backing_up", "idle")


class BoardWatch:
    """Every 2 ms, the daemon's board (one read-only connection kept open): the first
    ``updated_at`` seen for each state, and ``last_sync``."""

    def __init__(self, home: Path) -> None:
        self.conn = sqlite3.connect(f"file:{state_db(home)}?mode=ro", uri=True, timeout=5)
        self.seen: dict[str, float] = {}
        self.last_sync: float | None = None
        self.polls = 0

    def poll(self, since: float) -> dict[str, Any] | None:
        import json

        self.polls += 1
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'daemon_status'").fetchone()
        except sqlite3.OperationalError:
            return None
        if row is None:
            return None
        board = dict(json.loads(row[0]))
        if board.get("updated_at", 0) < since:
            return None  # the previous run's board
        self.seen.setdefault(str(board.get("state")), float(board["updated_at"]))
        if board.get("last_sync") and board["last_sync"] >= since:
            self.last_sync = float(board["last_sync"])
        return board

    def close(self) -> None:
        self.conn.close()


def blob_bytes(data_dir: Path) -> int:
    """Bytes in the server's blob store (stored objects and open uploads)."""
    return tree_bytes(data_dir / "blobs") + tree_bytes(data_dir / "uploads")


_READS = ('"POST /embeddings/query ',)  # POSTs that only read (the similar-photo index)


def upload_requests(server_log: Path, offset: int) -> int:
    """Upload/commit requests (POST/PUT, but the POSTs that only read) in the server's access
    log after ``offset``."""
    with open(server_log, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return sum(
        1
        for line in text.splitlines()
        if ('"POST ' in line or '"PUT ' in line) and not any(r in line for r in _READS)
    )


def one_start(
    home: Path,
    data_dir: Path,
    server_log: Path,
    folder: Path,
    label: str,
    prefix: list[str] | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Start the daemon, wait for idle, stop it; the timings and what it sent."""
    files0, blobs0 = server_files(data_dir), blob_bytes(data_dir)
    log_offset = server_log.stat().st_size
    watch = BoardWatch(home)
    try:
        with running_daemon(home, prefix=prefix or ()) as daemon:
            t_spawn = daemon.started_wall
            deadline = time.monotonic() + timeout
            while True:
                board = watch.poll(t_spawn)
                if board is not None and board.get("state") == "idle":
                    seen_at = time.perf_counter() - daemon.started
                    break
                if not daemon.alive():
                    raise RuntimeError(f"the daemon exited; log:\n{daemon.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: not idle after {timeout:.0f} s: {board}")
                time.sleep(0.002)
            cpu = cpu_seconds(daemon.pid)
            rss = daemon.peak_rss()
            state = board
            _stop_cleanly(daemon)
    finally:
        watch.close()
    s = {k: v - t_spawn for k, v in watch.seen.items()}
    sync = None if watch.last_sync is None else watch.last_sync - t_spawn
    out: dict[str, Any] = {
        "label": label,
        "spawn_to_idle_s": s["idle"],
        "idle_seen_s": seen_at,
        "first_board_s": min(s.values()),
        "last_sync_s": sync,
        "states_s": s,
        "reconcile_s": s["idle"] - s["reconciling"] if "reconciling" in s else None,
        "backup_pass_s": s["idle"] - s["backing_up"] if "backing_up" in s else None,
        "walk_s": (s["backing_up"] - s["reconciling"])
        if "reconciling" in s and "backing_up" in s
        else None,
        "daemon_cpu_s": cpu,
        "daemon_peak_rss": rss,
        "server_files_added": server_files(data_dir) - files0,
        "blob_bytes_added": blob_bytes(data_dir) - blobs0,
        "upload_requests": upload_requests(server_log, log_offset),
        "board_polls": watch.polls,
        "board": {k: state.get(k) for k in ("state", "paused", "current")},
    }
    return out


def _stop_cleanly(daemon: DaemonRun) -> None:
    code = daemon.stop()
    if code not in (0, None):
        print(f"note: the daemon exited {code} on SIGTERM")


def strace_start(
    home: Path, data_dir: Path, server_log: Path, folder: Path, work: Path
) -> tuple[int, int] | None:
    """A start under strace: (opens of files in the folder, directory opens in it)."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    log = work / "strace.log"
    one_start(
        home,
        data_dir,
        server_log,
        folder,
        "strace",
        prefix=[strace, "-f", "-qq", "-e", "trace=open,openat", "-o", str(log)],
    )
    needle = f'"{folder}/'
    files = dirs = 0
    with open(log, errors="replace") as f:
        for line in f:
            if needle in line:
                if "O_DIRECTORY" in line:
                    dirs += 1
                else:
                    files += 1
    return files, dirs


def fmt(v: float | None, unit: str = "s") -> str:
    return "n/a" if v is None else f"{v:.2f} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3, help="warm restarts to time")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    code = announce_source()

    table = Table(f"daemon restart over an unchanged watched folder of {args.files} files")
    result: dict[str, Any] = {"files": args.files, "code": code}
    with scratch("daemon-restart") as work, running_server(work) as server:
        folder = work / "Library"
        t = time.perf_counter()
        total = make_folder(folder, args.files)
        print(
            f"made {args.files} files ({total / args.files:.0f} B each) in "
            f"{time.perf_counter() - t:.0f} s"
        )
        home = work / "client"
        signup(home, server.url)
        server_log = server.data_dir.parent / f"server-{server.port}.log"

        first = photoark(home, ["backup", str(folder), "--album", folder.name, "--json"])
        report = first.json()
        assert report["uploaded"] == args.files, {k: v for k, v in report.items() if k != "ignored"}
        result["cli_backup_s"] = first.seconds
        print(f"first backup (CLI): {first.seconds:.1f} s")
        table.add("first backup, `photoark backup` (info)", f"{first.seconds:.1f} s", "info")
        photoark(home, ["watch", "add", str(folder)])

        runs: list[dict[str, Any]] = []
        runs.append(one_start(home, server.data_dir, server_log, folder, "first start"))
        for i in range(args.runs):
            runs.append(one_start(home, server.data_dir, server_log, folder, f"restart {i + 1}"))
        if drop_caches():
            runs.append(one_start(home, server.data_dir, server_log, folder, "restart, cold"))
        else:
            table.note("could not drop the page cache (not root?): no cold-cache restart")
        for r in runs:
            print(
                f"{r['label']}: spawn → idle {r['spawn_to_idle_s']:.2f} s (reconcile "
                f"{fmt(r['reconcile_s'])}), {r['server_files_added']} files / "
                f"{r['blob_bytes_added']} B / {r['upload_requests']} uploads to the server"
            )
        result["starts"] = runs

        status = photoark(home, ["status", "--json"]).json()["watches"][0]
        result["status"] = status
        opens = (
            None
            if args.no_strace
            else strace_start(home, server.data_dir, server_log, folder, work)
        )
        result["strace_opens"] = opens

    warm = [r for r in runs if r["label"].startswith("restart ")]
    for r in runs:
        ok = r["spawn_to_idle_s"] <= TARGET_S
        table.add(
            f"{r['label']}: spawn → idle",
            f"{r['spawn_to_idle_s']:.2f} s",
            f"≤ {TARGET_S:g} s",
            ok,
        )
        table.add(
            "  start-up + session / pull / watch set-up",
            f"{fmt(r['first_board_s'])} / "
            f"{fmt(None if r['last_sync_s'] is None else r['last_sync_s'] - r['first_board_s'])}"
            f" / {fmt(_watch_setup(r))}",
            "info",
        )
        table.add(
            "  reconcile (walk + backup pass)",
            f"{fmt(r['reconcile_s'])} ({fmt(r['walk_s'])} + {fmt(r['backup_pass_s'])})",
            "info",
        )
        table.add(
            "  sent: files / blob bytes / upload requests",
            f"{r['server_files_added']} / {r['blob_bytes_added']} / {r['upload_requests']}",
            "0 / 0 / 0",
            r["server_files_added"] == 0
            and r["blob_bytes_added"] == 0
            and r["upload_requests"] == 0,
        )
        table.add(
            "  daemon CPU / peak RSS",
            f"{r['daemon_cpu_s']:.2f} s / {r['daemon_peak_rss'] / 1e6:.0f} MB",
            "info",
        )
    if warm:
        med = statistics.median(r["spawn_to_idle_s"] for r in warm)
        result["warm_median_s"] = med
        table.add(
            f"warm restarts, median of {len(warm)}",
            f"{med:.2f} s",
            f"≤ {TARGET_S:g} s",
            med <= TARGET_S,
        )
    table.add(
        "photoark status: seen / backed up / queued / failed",
        f"{status['seen']} / {status['backed_up']} / {status['queued']} / {status['failed']}",
        f"{args.files} / {args.files} / 0 / 0",
        status["backed_up"] == args.files and status["queued"] == 0 and status["failed"] == 0,
    )
    if opens is None:
        table.note("strace not run (not installed, or --no-strace): no syscall count")
    else:
        table.add(
            "files in the folder opened (strace openat)",
            f"{opens[0]} (+ {opens[1]} folders listed)",
            "0",
            opens[0] == 0,
        )
    print(table.render())
    write_json(args.json_out, {"benchmark": "daemon_restart", **result})


def _watch_setup(r: dict[str, Any]) -> float | None:
    """From the pull's end to the reconcile's start (watch list, inotify watches)."""
    if r["last_sync_s"] is None or "reconciling" not in r["states_s"]:
        return None
    return float(r["states_s"]["reconciling"] - r["last_sync_s"])


if __name__ == "__main__":
    main()
