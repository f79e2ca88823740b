"""Replicas under load: many accounts backing up at once through a load balancer to two server
replicas on PostgreSQL + S3 (SeaweedFS), against one server on SQLite + local disk; a replica
killed mid-load; the replication worker killed mid-copy.

Everything is real and on 127.0.0.1: ``scripts/cluster.py``'s cluster (a throw-away PostgreSQL,
SeaweedFS for the bucket and a second SeaweedFS as the ``--replicate-to`` store, two
``python -m photoark.server`` replicas, ``bench/_lb.py``'s round-robin balancer with health
checks), and one ``photoark backup`` process per account, all started at once.

The dataset (built once): per account, ``--files`` files (default 100): ``--large`` movies
(default 2 × 17 MiB: a tiny real MP4 and a ``free`` box of random bytes, so ffmpeg makes a
thumbnail; 3 parts each) and small JPEG-ish files (a real 64×48 JPEG and random bytes after
its end, ``--small-min``..``--small-max``, default 50-250 KiB: bundles). 50 accounts: 2.4 GiB.

(1) **Load.** ``--accounts`` (50) sign up, then all back up at once through the balancer.
    Local-disk mode first (one server, SQLite, blobs in its data directory, behind the same
    balancer with one backend), then the cluster. Measured: wall time, every run complete,
    counts exact (``photoark ls --json`` per account, and the ``files`` rows per owner), commit
    latency p50/p95 (``POST /files`` and ``POST /files/bundle[/direct]``, timed by the
    balancer: request line in → status line out), server CPU seconds per GiB of content
    (the photoark server processes; SeaweedFS and PostgreSQL beside), replication lag during
    the load and the time to drain it; rows per file and objects per file in PostgreSQL and
    the bucket (ARCHITECTURE.md, "Reaching a million users", uses these).
(2) **Replica killed.** A fresh cluster, the same load; when 30 % of the files are committed,
    replica A gets SIGKILL and is started again 5 s later. Every run must finish (a run that
    gives up is run again and counted), counts exact, and every account's export
    byte-identical to its source (nothing lost or duplicated).
(3) **Worker killed mid-copy.** On that cluster, one account backs up a ``--copy-size``
    (200 MiB) movie; when its ``object_copies`` row turns ``copying``, the replica whose worker
    holds it (the pid in ``worker``) gets SIGKILL ``--kill-after`` s later, mid-copy (an
    unfinished multipart upload on the replica store shows it) and is started again 5 s
    later. Once the row's lease runs out (300 s) another worker copies it again. Then every
    object the database references is compared on both stores: size and ETag from listings,
    or, where the ETags are multipart ETags of other part sizes (the client sends 8 MiB parts,
    the copy 16 MiB pieces), the SHA-256 of both objects' bytes; and ``GET
    /health/replication`` must show 0 pending.

    python bench/replicas_load.py [--accounts 50] [--files 100] [--large 2] [--large-size 17MiB]
        [--small-min 50KiB] [--small-max 250KiB] [--copy-size 200MiB] [--kill-after 1.0]
        [--skip-load] [--skip-local] [--skip-kill] [--skip-copy] [--keep-data] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import contextlib
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))  # this checkout's photoark, before _common imports it

from _common import (  # noqa: E402
    BENCH_ROOT,
    PASSWORD,
    Table,
    announce_source,
    fmt_bytes,
    parse_size,
    percentile,
    use_checkout,
    write_json,
)

use_checkout()  # this working tree's src/, in every process started

import httpx  # noqa: E402
import psycopg  # noqa: E402
from bench._lb import Backend, LoadBalancerThread, Request  # noqa: E402
from tests.builders import free_port  # noqa: E402
from tests.local_cluster import LocalCluster  # noqa: E402
from tests.server_replica import ServerReplica  # noqa: E402

GiB = 1024**3
MiB = 1024**2
ALBUM = "Load"
COMMIT_ROUTES = ("POST /files", "POST /files/bundle", "POST /files/bundle/direct")
LARGE_COMMIT = "POST /files"
BUNDLE_COMMITS = ("POST /files/bundle", "POST /files/bundle/direct")
CLI = (sys.executable, "-m", "photoark.cli.main")
KILL_AT = 0.30  # replica A is killed when this share of the files is committed


# -- dataset ---------------------------------------------------------------------------------


@dataclass
class Dataset:
    root: Path
    folders: list[Path]
    digests: list[dict[str, str]]  # per account: relative path -> sha256
    bytes: int

    @property
    def files(self) -> int:
        return sum(len(d) for d in self.digests)


def _base_mp4() -> bytes:
    """A one-second MP4 ffmpeg can take a frame from (an ``ftyp`` box alone without ffmpeg)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "base.mp4"
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            subprocess.run(
                [
                    *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10"),
                    *("-t", "1", "-c:v", "mpeg4", "-movflags", "+faststart", str(out)),
                ],
                capture_output=True,
                check=True,
            )
            return out.read_bytes()
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def movie(base: bytes, size: int) -> bytes:
    """``base`` and a top-level ``free`` box of random bytes (players skip it): ``size`` B."""
    pad = max(size - len(base) - 8, 0)
    return base + struct.pack(">I4s", pad + 8, b"free") + os.urandom(pad)


def jpeg_ish(rnd: random.Random, size: int) -> bytes:
    """A real 64×48 JPEG of random pixels, then random bytes after its end: ``size`` B."""
    from PIL import Image

    img = Image.frombytes("RGB", (64, 48), rnd.randbytes(64 * 48 * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    return data + os.urandom(max(size - len(data), 0))


def build_dataset(root: Path, args: argparse.Namespace) -> Dataset:
    """``accounts`` folders under ``root`` (reused when the same parameters built it)."""
    spec = {
        "v": 2,
        **{k: getattr(args, k) for k in ("accounts", "files", "large", "large_size")},
        **{k: getattr(args, k) for k in ("small_min", "small_max")},
    }
    manifest = root / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved["spec"] == spec:
            folders = [root / f"acct-{i:03d}" for i in range(args.accounts)]
            return Dataset(root, folders, saved["digests"], saved["bytes"])
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    base = _base_mp4()
    started = time.monotonic()

    def one(i: int) -> dict[str, str]:
        rnd = random.Random(i)
        folder = root / f"acct-{i:03d}"
        (folder / "videos").mkdir(parents=True)
        digests: dict[str, str] = {}
        for n in range(args.files):
            if n < args.large:
                rel, data = f"videos/movie-{n}.mp4", movie(base, args.large_size)
            else:
                size = rnd.randint(args.small_min, args.small_max)
                rel, data = f"IMG_{n:04d}.jpg", jpeg_ish(rnd, size)
            (folder / rel).write_bytes(data)
            digests[rel] = hashlib.sha256(data).hexdigest()
        return digests

    with cf.ThreadPoolExecutor(4) as pool:
        digests = list(pool.map(one, range(args.accounts)))
    folders = [root / f"acct-{i:03d}" for i in range(args.accounts)]
    total = sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())
    manifest.write_text(json.dumps({"spec": spec, "digests": digests, "bytes": total}))
    print(
        f"dataset: {args.accounts} folders × {args.files} files, {fmt_bytes(total)}, "
        f"made in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return Dataset(root, folders, digests, total)


# -- clients ---------------------------------------------------------------------------------


def cli(
    home: Path, *args: str, stdin: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHOTOARK_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "photoark.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def signup_all(homes: Sequence[Path], url: str, tag: str) -> None:
    def one(i: int) -> None:
        result = cli(
            homes[i],
            *("signup", "--server", url, "--email", f"{tag}-{i}@example.com"),
            *("--password-stdin", "--kdf", "min", "--json"),
            stdin=PASSWORD + "\n",
        )
        if result.returncode != 0:
            raise RuntimeError(f"signup {i} failed:\n{result.stdout}\n{result.stderr[-2000:]}")

    with cf.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(len(homes))))


@dataclass
class Run:
    """One ``photoark backup`` process."""

    account: int
    process: subprocess.Popen[bytes]
    out: Path
    err: Path
    started: float
    seconds: float = 0.0
    returncode: int | None = None
    cpu: float = 0.0
    report: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return (
            self.returncode == 0
            and self.report is not None
            and not self.report.get("failed")
            and self.report.get("uploaded", 0) + self.report.get("skipped", 0) > 0
        )


def start_backup(home: Path, folder: Path, account: int, logs: Path) -> Run:
    env = {**os.environ, "PHOTOARK_HOME": str(home), "COLUMNS": "200"}
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / f"backup-{account:03d}.json", logs / f"backup-{account:03d}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        process = subprocess.Popen(
            [*CLI, "backup", str(folder), "--album", ALBUM, "--json"],
            stdout=o,
            stderr=e,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    return Run(account, process, out, err, time.monotonic())


def reap(run: Run, block: bool) -> bool:
    if run.returncode is not None:
        return True
    pid, status, usage = os.wait4(run.process.pid, 0 if block else os.WNOHANG)
    if not pid:
        return False
    run.returncode = run.process.returncode = os.waitstatus_to_exitcode(status)
    run.seconds = time.monotonic() - run.started
    run.cpu = usage.ru_utime + usage.ru_stime
    with contextlib.suppress(ValueError, OSError):
        run.report = json.loads(run.out.read_text())
    return True


def run_load(
    homes: Sequence[Path],
    dataset: Dataset,
    logs: Path,
    during: Callable[[float], None] | None = None,
) -> tuple[list[Run], float]:
    """Every account's backup at once; ``during(elapsed)`` is called every 0.1 s meanwhile."""
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs = [
        start_backup(h, f, i, logs)
        for i, (h, f) in enumerate(zip(homes, dataset.folders, strict=True))
    ]
    while not all(reap(r, False) for r in runs):
        if during is not None:
            during(time.monotonic() - started)
        time.sleep(0.1)
    return runs, time.monotonic() - started


def rerun_incomplete(
    runs: list[Run], homes: Sequence[Path], dataset: Dataset, logs: Path
) -> list[int]:
    """Run the incomplete backups again, one by one, until complete (at most 3 times each);
    the accounts that needed it."""
    again: list[int] = []
    for run in runs:
        tries = 0
        while not run.complete and tries < 3:
            tries += 1
            again.append(run.account)
            print(f"  account {run.account}: run incomplete ({_why(run)}); running it again")
            fresh = start_backup(
                homes[run.account], dataset.folders[run.account], run.account, logs
            )
            reap(fresh, True)
            runs[runs.index(run)] = run = fresh
    return again


def _why(run: Run) -> str:
    if run.report is None:
        return f"exit {run.returncode}: {run.err.read_text(errors='replace')[-300:].strip()}"
    failed = run.report.get("failed") or []
    return f"exit {run.returncode}, {len(failed)} failed: {str(failed)[:300]}"


def count_files(homes: Sequence[Path], dataset: Dataset) -> tuple[list[int], list[int]]:
    """Per account: files listed by ``photoark ls --json`` and accounts whose list is not
    exactly the source's names (a missing or a duplicate file)."""

    def one(i: int) -> tuple[int, bool]:
        result = cli(homes[i], "ls", "--json")
        if result.returncode != 0:
            return -1, False
        rows = json.loads(result.stdout)
        names = sorted(r["name"] for r in rows)
        want = sorted(Path(rel).name for rel in dataset.digests[i])
        return len(rows), names == want

    with cf.ThreadPoolExecutor(8) as pool:
        out = list(pool.map(one, range(len(homes))))
    return [n for n, _ in out], [i for i, (_, ok) in enumerate(out) if not ok]


def export_mismatches(homes: Sequence[Path], dataset: Dataset, work: Path) -> list[str]:
    """Export every account (presigned GETs) and compare each file's sha256 with its source;
    the differences (missing, extra, different), by account."""

    def one(i: int) -> list[str]:
        dest = work / f"export-{i:03d}"
        shutil.rmtree(dest, ignore_errors=True)
        result = cli(homes[i], "export", str(dest), "--json", timeout=1200)
        bad: list[str] = []
        if result.returncode != 0:
            bad.append(f"{i}: export exited {result.returncode}: {result.stderr[-300:]}")
        root = dest / ALBUM
        got = {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        want = dataset.digests[i]
        bad += [f"{i}: {rel} missing" for rel in want.keys() - got.keys()]
        bad += [f"{i}: {rel} extra" for rel in got.keys() - want.keys()]
        bad += [f"{i}: {rel} differs" for rel in want.keys() & got.keys() if got[rel] != want[rel]]
        shutil.rmtree(dest, ignore_errors=True)
        return bad

    with cf.ThreadPoolExecutor(4) as pool:
        return [line for lines in pool.map(one, range(len(homes))) for line in lines]


# -- figures ---------------------------------------------------------------------------------

_ID = re.compile(r"/(?:[0-9a-f]{16,64}|\d+)(?=/|$)")


def route(request: Request) -> str:
    """``POST /uploads/{}/parts/{}``: the request's method and path with ids folded."""
    return f"{request.method} {_ID.sub('/{}', request.path)}"


def latency(requests: Sequence[Request], routes: Sequence[str]) -> list[float]:
    return [r.seconds for r in requests if route(r) in routes and r.status < 400]


def ms(values: Sequence[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}" if values else "-"


@dataclass
class LoadFigures:
    mode: str
    accounts: int
    files: int
    content_bytes: int
    wall: float
    runs_complete: int
    reruns: list[int]
    listed: list[int]
    wrong_lists: list[int]
    db_files: dict[int, int] | None
    commit: list[float]
    large_commit: list[float]
    bundle_commit: list[float]
    requests: int
    errors_5xx: int
    cpu: dict[str, float]  # during the load
    client_cpu: float
    run_seconds: list[float]
    backends: dict[str, int]
    lag_max_pending: int = 0
    lag_max_seconds: float = 0.0
    drain_seconds: float | None = None
    drain_cpu: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gib(self) -> float:
        return self.content_bytes / GiB

    def cpu_per_gib(self, key: str) -> float:
        return self.cpu.get(key, 0.0) / self.gib if self.gib else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "accounts": self.accounts,
            "files": self.files,
            "content_bytes": self.content_bytes,
            "wall_seconds": self.wall,
            "runs_complete": self.runs_complete,
            "reruns": self.reruns,
            "listed_min_max": [min(self.listed), max(self.listed)] if self.listed else None,
            "wrong_lists": self.wrong_lists,
            "commit_ms_p50_p95": _p50_p95(self.commit, 1e3),
            "large_commit_ms_p50_p95": _p50_p95(self.large_commit, 1e3),
            "bundle_commit_ms_p50_p95": _p50_p95(self.bundle_commit, 1e3),
            "commits": len(self.commit),
            "requests": self.requests,
            "errors_5xx": self.errors_5xx,
            "cpu_seconds": self.cpu,
            "client_cpu_seconds": self.client_cpu,
            "run_seconds_p50_p95": _p50_p95(self.run_seconds),
            "connections_per_backend": self.backends,
            "lag_max_pending": self.lag_max_pending,
            "lag_max_seconds": self.lag_max_seconds,
            "drain_seconds": self.drain_seconds,
            "drain_server_cpu": self.drain_cpu,
            **self.extra,
        }


def _p50_p95(values: Sequence[float], scale: float = 1.0) -> list[float] | None:
    return [percentile(values, 50) * scale, percentile(values, 95) * scale] if values else None


def lb_figures(lb: LoadBalancerThread, since: int) -> dict[str, Any]:
    requests = lb.lb.requests[since:]
    return {
        "requests": requests,
        "commit": latency(requests, COMMIT_ROUTES),
        "large": latency(requests, (LARGE_COMMIT,)),
        "bundle": latency(requests, BUNDLE_COMMITS),
        "5xx": sum(1 for r in requests if r.status >= 500),
        "5xx_by_route": dict(
            collections.Counter(f"{route(r)} -> {r.status}" for r in requests if r.status >= 500)
        ),
    }


def db_files_per_owner(database_url: str) -> dict[int, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT owner_id, count(*) FROM files WHERE NOT is_deleted GROUP BY owner_id"
        ).fetchall()
    return {int(owner): int(n) for owner, n in rows}


def committed_files(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM files").fetchone()
    return int(row[0]) if row else 0


def replication_state(url: str) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        answer = httpx.get(url + "/health/replication", timeout=5)
        if answer.status_code == 200:
            stores = answer.json().get("stores") or []
            return stores[0] if stores else None
    return None


def wait_drained(cluster: LocalCluster, timeout: float) -> float | None:
    """Seconds until ``/health/replication`` shows nothing pending; None on timeout."""
    started = time.monotonic()
    said = started
    while time.monotonic() - started < timeout:
        state = replication_state(cluster.url)
        if state is not None and state["pending"] == 0:
            return time.monotonic() - started
        if state is not None and time.monotonic() - said >= 10:
            said = time.monotonic()
            pending, oldest = state["pending"], state["oldest_pending_seconds"]
            print(f"  replication: {pending} pending, oldest {oldest:.0f} s", flush=True)
        time.sleep(0.5)
    return None


# -- PostgreSQL and bucket figures (ARCHITECTURE.md, "Reaching a million users") -------------

TABLES = (
    "users",
    "tokens",
    "collections",
    "files",
    "collection_files",
    "uploads",
    "upload_parts",
    "object_copies",
    "deletion_marks",
    "file_embeddings",
    "job_leases",
)


def rows_per_file(database_url: str) -> dict[str, Any]:
    """Rows per live file and bytes per row (table + indexes + TOAST, after VACUUM FULL)."""
    out: dict[str, Any] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM files WHERE NOT is_deleted").fetchone()
        files = int(row[0]) if row else 0
        for table in TABLES:
            conn.execute(f"VACUUM (FULL, ANALYZE) {table}")
            count_row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            size_row = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
            count = int(count_row[0]) if count_row else 0
            size = int(size_row[0]) if size_row else 0
            out[table] = {
                "rows": count,
                "bytes": size,
                "rows_per_file": count / files if files else 0.0,
                "bytes_per_row": size / count if count else 0.0,
            }
        db_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        sizes = conn.execute(
            "SELECT avg(content_size), avg(NULLIF(thumbnail_size, 0)),"
            " count(thumbnail_object) FROM files WHERE NOT is_deleted"
        ).fetchone()
    out["_files"] = files
    out["_database_bytes"] = int(db_row[0]) if db_row else 0
    if sizes:
        out["_avg_content_bytes"] = float(sizes[0] or 0)
        out["_avg_thumbnail_bytes"] = float(sizes[1] or 0)
        out["_with_thumbnail"] = int(sizes[2] or 0)
    return out


def bucket_listing(client: Any, bucket: str) -> dict[str, tuple[int, str]]:
    """key -> (size, etag) of every object in ``bucket``."""
    out: dict[str, tuple[int, str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            out[item["Key"]] = (int(item["Size"]), str(item["ETag"]).strip('"'))
    return out


def referenced_keys(database_url: str) -> set[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT content_object FROM files UNION SELECT thumbnail_object FROM files"
            " WHERE thumbnail_object IS NOT NULL"
        ).fetchall()
    return {str(r[0]) for r in rows if r[0]}


# -- the phases ------------------------------------------------------------------------------


class LagWatch:
    """Polls ``/health/replication`` at most once a second during a load."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.next = 0.0
        self.max_pending = 0
        self.max_seconds = 0.0

    def __call__(self, _elapsed: float) -> None:
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + 1.0
        state = replication_state(self.url)
        if state is not None:
            self.max_pending = max(self.max_pending, int(state["pending"]))
            self.max_seconds = max(self.max_seconds, float(state["oldest_pending_seconds"]))


def load_phase(
    mode: str,
    url: str,
    lb: LoadBalancerThread,
    homes: list[Path],
    dataset: Dataset,
    work: Path,
    cpu: Callable[[], dict[str, float]],
    database_url: str | None,
    during: Callable[[float], None] | None = None,
) -> LoadFigures:
    print(f"[{mode}] signing up {len(homes)} accounts ...", flush=True)
    signup_all(homes, url, mode.split()[0].lower())
    since = len(lb.lb.requests)
    before_conns = {b.name: b.connections for b in lb.lb.backends}
    before_bytes = sum(b.bytes_in + b.bytes_out for b in lb.lb.backends)
    cpu_before, own_before = cpu(), time.process_time()
    print(f"[{mode}] {len(homes)} backups at once ...", flush=True)
    runs, wall = run_load(homes, dataset, work / "logs", during)
    cpu_after = cpu()
    cpu_after["balancer"] = time.process_time() - own_before  # this process: mostly the LB
    complete = sum(1 for r in runs if r.complete)
    print(f"[{mode}] done in {wall:.1f} s; {complete}/{len(runs)} runs complete", flush=True)
    figures = lb_figures(lb, since)
    client_cpu = sum(r.cpu for r in runs)
    run_seconds = [r.seconds for r in runs]
    reruns = rerun_incomplete(runs, homes, dataset, work / "logs")
    listed, wrong = count_files(homes, dataset)
    return LoadFigures(
        mode=mode,
        accounts=len(homes),
        files=dataset.files,
        content_bytes=dataset.bytes,
        wall=wall,
        runs_complete=complete,
        reruns=reruns,
        listed=listed,
        wrong_lists=wrong,
        db_files=db_files_per_owner(database_url) if database_url else None,
        commit=figures["commit"],
        large_commit=figures["large"],
        bundle_commit=figures["bundle"],
        requests=len(figures["requests"]),
        errors_5xx=figures["5xx"],
        cpu={k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after},
        client_cpu=client_cpu,
        run_seconds=run_seconds,
        backends={b.name: b.connections - before_conns[b.name] for b in lb.lb.backends},
        extra={
            "5xx_by_route": figures["5xx_by_route"],
            "balancer_bytes": sum(b.bytes_in + b.bytes_out for b in lb.lb.backends) - before_bytes,
        },
    )


def local_phase(dataset: Dataset, work: Path) -> LoadFigures:
    """One server, SQLite and blobs in its data directory, behind a one-backend balancer."""
    server = ServerReplica("local", free_port(), work / "server-local", ["--login-hash", "min"])
    server.start()
    lb = LoadBalancerThread([Backend(server.port, "local")]).start()
    try:
        homes = [work / "homes" / f"h{i:03d}" for i in range(len(dataset.folders))]
        figures = load_phase(
            "local disk (1 server, SQLite)",
            lb.url,
            lb,
            homes,
            dataset,
            work,
            lambda: {"servers": server.cpu_seconds()},
            None,
        )
        figures.extra["data_dir_bytes"] = sum(
            p.stat().st_size for p in server.data_dir.rglob("*") if p.is_file()
        )
        figures.extra["lb_cpu_note"] = "the balancer carries the content in this mode"
        return figures
    finally:
        lb.stop()
        server.stop()


def cluster_load_phase(
    dataset: Dataset, work: Path, lag_timeout: float
) -> tuple[LoadFigures, dict[str, Any]]:
    with _cluster(work) as cluster:
        assert cluster.lb is not None
        homes = [work / "homes" / f"h{i:03d}" for i in range(len(dataset.folders))]
        watch = LagWatch(cluster.url)
        figures = load_phase(
            "S3 (2 replicas, PostgreSQL)",
            cluster.url,
            cluster.lb,
            homes,
            dataset,
            work,
            cluster.cpu,
            cluster.database_url,
            watch,
        )
        figures.lag_max_pending, figures.lag_max_seconds = watch.max_pending, watch.max_seconds
        drain_cpu = cluster.cpu()["servers"]
        print("[S3] waiting for the replication to catch up ...", flush=True)
        figures.drain_seconds = wait_drained(cluster, lag_timeout)
        figures.drain_cpu = cluster.cpu()["servers"] - drain_cpu
        print("[S3] rows and objects per file ...", flush=True)
        shape = rows_per_file(cluster.database_url)
        listed = time.monotonic()
        primary = bucket_listing(cluster.weed.client(), "photoark")
        shape["_list_seconds"] = time.monotonic() - listed
        shape["_objects_primary"] = len(primary)
        shape["_objects_primary_bytes"] = sum(size for size, _ in primary.values())
        shape["_referenced"] = len(referenced_keys(cluster.database_url))
        return figures, shape


@contextlib.contextmanager
def _cluster(work: Path) -> Any:
    base = work / "cluster"
    shutil.rmtree(base, ignore_errors=True)
    cluster = LocalCluster(base, replica="weed", server_args=["--login-hash", "min"])
    print(f"starting the cluster in {base} ...", flush=True)
    started = time.monotonic()
    cluster.start()
    print(f"  up in {time.monotonic() - started:.1f} s: balancer {cluster.url}", flush=True)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class KillFigures:
    load: LoadFigures
    killed_at_files: int = 0
    cut_connections: int = 0
    out_of_rotation_after: float | None = None
    back_in_rotation_after: float | None = None
    restart_seconds: float | None = None
    requests_a_after_restart: int = 0
    export_mismatches: list[str] = field(default_factory=list)
    drain_seconds: float | None = None
    restart_error: str = ""


@dataclass
class CopyFigures:
    object_size: int = 0
    worker: str = ""
    killed: str = ""
    copy_started_to_kill: float = 0.0
    mid_copy_upload_seen: bool = False
    done_before_kill: bool = False
    lease_seconds: float = 0.0
    kill_to_done: float | None = None
    attempts: int = 0
    drained: float | None = None
    compared: int = 0
    by_etag: int = 0  # same size and ETag
    by_content: int = 0  # same size, multipart ETags of other part sizes: SHA-256 of the bytes
    mismatches: list[str] = field(default_factory=list)
    unfinished_uploads_on_replica: int = 0
    pending_after: int | None = None
    error: str = ""


def kill_and_copy_phases(
    dataset: Dataset, work: Path, args: argparse.Namespace
) -> tuple[KillFigures | None, CopyFigures | None]:
    with _cluster(work) as cluster:
        assert cluster.lb is not None
        kill: KillFigures | None = None
        if not args.skip_kill:
            kill = kill_phase(cluster, dataset, work, args.lag_timeout)
        copy: CopyFigures | None = None
        if not args.skip_copy:
            copy = copy_phase(cluster, work, args)
        return kill, copy


def kill_phase(
    cluster: LocalCluster, dataset: Dataset, work: Path, lag_timeout: float
) -> KillFigures:
    assert cluster.lb is not None
    a = cluster.server("a")
    backend_a = cluster.lb.lb.backends[0]
    homes = [work / "homes-kill" / f"h{i:03d}" for i in range(len(dataset.folders))]
    threshold = max(1, int(dataset.files * KILL_AT))
    state: dict[str, Any] = {"killed": None, "restarted": None, "next_poll": 0.0}
    figures = KillFigures(load=None)  # type: ignore[arg-type]

    def restart_a() -> None:
        state["restarted_wall"] = time.time()
        state["restarted"] = time.monotonic()
        try:
            a.start()
        except RuntimeError as err:  # reported, and the load goes on on b
            figures.restart_error = str(err)[-500:]
            print(f"  replica a did not start again: {err}", flush=True)
            return
        figures.restart_seconds = a.restart_seconds[-1] if a.restart_seconds else None
        print("  replica a started again", flush=True)

    def during(_elapsed: float) -> None:
        now = time.monotonic()
        if state["killed"] is None:
            if now < state["next_poll"]:
                return
            state["next_poll"] = now + 0.2
            done = committed_files(cluster.database_url)
            if done >= threshold:
                figures.killed_at_files = done
                figures.cut_connections = backend_a.open_connections
                a.kill()
                state["killed"], state["killed_wall"] = now, time.time()
                print(f"  SIGKILL replica a at {done} files committed", flush=True)
        elif state["restarted"] is None and now - state["killed"] >= 5.0:
            restart_a()

    load = load_phase(
        "S3, replica a killed",
        cluster.url,
        cluster.lb,
        homes,
        dataset,
        work,
        cluster.cpu,
        cluster.database_url,
        during,
    )
    figures.load = load
    if state["killed"] is None:
        figures.restart_error = "the load ended before 30 % of the files were committed"
    elif state["restarted"] is None:  # the load ended within 5 s of the kill
        time.sleep(max(0.0, 5.0 - (time.monotonic() - state["killed"])))
        restart_a()
    print("[kill] exporting every account and comparing digests ...", flush=True)
    figures.export_mismatches = export_mismatches(homes, dataset, work)
    figures.drain_seconds = wait_drained(cluster, lag_timeout)
    if state["killed"] is not None and state["restarted"] is not None:
        downs = [t for t, what in backend_a.events if what == "down" and t >= state["killed_wall"]]
        ups = [t for t, what in backend_a.events if what == "up" and t >= state["restarted_wall"]]
        figures.out_of_rotation_after = downs[0] - state["killed_wall"] if downs else None
        figures.back_in_rotation_after = ups[0] - state["restarted_wall"] if ups else None
        figures.requests_a_after_restart = sum(
            1
            for r in cluster.lb.lb.requests
            if r.backend == backend_a.name and r.started >= state["restarted_wall"]
        )
    return figures


def copy_phase(cluster: LocalCluster, work: Path, args: argparse.Namespace) -> CopyFigures:
    """Kill the replica whose worker is copying a large object, mid-copy."""
    from photoark.server.store.copies import LEASE_SECONDS

    figures = CopyFigures(object_size=args.copy_size)
    assert cluster.weed_dr is not None
    folder = work / "copy-src"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "big.mp4").write_bytes(movie(_base_mp4(), args.copy_size))
    home = work / "homes-copy" / "h"
    signup_all([home], cluster.url, "copy")
    print(f"[copy] backing up a {fmt_bytes(args.copy_size)} movie ...", flush=True)
    run = start_backup(home, folder, 0, work / "logs-copy")
    found: tuple[int, str, str] | None = None  # copy id, worker, object key
    copy_seen = 0.0
    deadline = time.monotonic() + 600
    with psycopg.connect(cluster.database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT c.id, c.worker, c.object_key, c.state FROM object_copies c"
                " JOIN files f ON f.content_object = c.object_key"
                " WHERE f.content_size >= %s",
                (args.copy_size,),
            ).fetchone()
            if row is not None and row[3] == "copying":
                found, copy_seen = (int(row[0]), str(row[1]), str(row[2])), time.monotonic()
                break
            if row is not None and row[3] == "done":
                figures.done_before_kill = True
                break
            if reap(run, False) and row is None and run.returncode != 0:
                break
            time.sleep(0.01)
        if found is None:
            reap(run, True)
            figures.error = (
                "the copy was done before it could be caught (a larger --copy-size)"
                if figures.done_before_kill
                else f"no copy row for the movie (backup: {_why(run)})"
            )
            return figures
        copy_id, worker, key = found
        figures.worker = worker
        time.sleep(args.kill_after)
        dr = cluster.weed_dr.client()
        uploads = dr.list_multipart_uploads(Bucket="photoark-dr").get("Uploads", [])
        figures.mid_copy_upload_seen = any(u["Key"].endswith(key) for u in uploads)
        target = _server_of(cluster, worker)
        lease_row = conn.execute(
            "SELECT state, lease_until FROM object_copies WHERE id = %s", (copy_id,)
        ).fetchone()
        if lease_row is None or lease_row[0] != "copying":
            figures.done_before_kill = True
            figures.error = "the copy ended before the kill (a larger --copy-size)"
            reap(run, True)
            return figures
        figures.lease_seconds = max(0.0, float(lease_row[1] or 0) - time.time())
        target.kill()
        killed = time.monotonic()
        figures.killed = target.name
        figures.copy_started_to_kill = killed - copy_seen
        print(
            f"  SIGKILL replica {target.name} (worker {worker}) {figures.copy_started_to_kill:.1f}"
            f" s into the copy; mid-copy upload on the replica: {figures.mid_copy_upload_seen};"
            f" the lease runs {figures.lease_seconds:.0f} s more",
            flush=True,
        )
        reap(run, True)
        time.sleep(5)
        try:
            target.start()
        except RuntimeError as err:  # the other replica's workers take the row over
            figures.error = f"replica {target.name} did not start again: {str(err)[-300:]}"
        limit = killed + figures.lease_seconds + max(LEASE_SECONDS, 300.0) + 120
        while time.monotonic() < limit:
            row = conn.execute(
                "SELECT state, attempts FROM object_copies WHERE id = %s", (copy_id,)
            ).fetchone()
            if row is None:
                figures.error = "the copy row is gone"
                break
            if row[0] == "done":
                figures.kill_to_done = time.monotonic() - killed
                figures.attempts = int(row[1])
                break
            time.sleep(0.2)
    figures.drained = wait_drained(cluster, args.lag_timeout)
    state = replication_state(cluster.url)
    figures.pending_after = None if state is None else int(state["pending"])
    print("[copy] comparing every referenced object on both stores ...", flush=True)
    keys = referenced_keys(cluster.database_url)
    from_client, to_client = cluster.weed.client(), cluster.weed_dr.client()
    primary = bucket_listing(from_client, "photoark")
    replica = bucket_listing(to_client, "photoark-dr")
    figures.compared = len(keys)
    for k in sorted(keys):
        if k not in primary:
            figures.mismatches.append(f"{k}: not on the primary")
        elif k not in replica:
            figures.mismatches.append(f"{k}: not on the replica")
        elif primary[k][0] != replica[k][0]:
            figures.mismatches.append(f"{k}: primary {primary[k]} replica {replica[k]}")
        elif primary[k][1] == replica[k][1]:
            figures.by_etag += 1
        else:
            # a multipart ETag is md5(part MD5s)-N: the copy's parts (16 MiB pieces) are not
            # the client's (8 MiB), so equal bytes have other ETags; compare the bytes
            figures.by_content += 1
            if _digest(from_client, "photoark", k) != _digest(to_client, "photoark-dr", k):
                figures.mismatches.append(f"{k}: same size, different bytes")
    left = cluster.weed_dr.client().list_multipart_uploads(Bucket="photoark-dr")
    figures.unfinished_uploads_on_replica = len(left.get("Uploads", []))
    return figures


def _digest(client: Any, bucket: str, key: str) -> str:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for piece in body.iter_chunks(1 << 20):
        digest.update(piece)
    return digest.hexdigest()


def _server_of(cluster: LocalCluster, worker: str) -> ServerReplica:
    """The replica whose process holds ``worker`` (``host:pid:hex``); replica a if unknown."""
    parts = worker.split(":")
    with contextlib.suppress(ValueError, IndexError):
        pid = int(parts[-2])
        for server in cluster.servers:
            if server.pid == pid:
                return server
    print(f"  (worker {worker!r} names no replica's pid: killing replica a)")
    return cluster.server("a")


# -- report ----------------------------------------------------------------------------------


def load_table(s3: LoadFigures, local: LoadFigures | None, dataset: Dataset) -> Table:
    per = f"{dataset.files // max(s3.accounts, 1)} files"
    table = Table(
        f"(1) {s3.accounts} accounts × {per} ({fmt_bytes(dataset.bytes)}) backing up at once:"
        " 2 replicas on PostgreSQL + S3 (SeaweedFS), against 1 server on SQLite + local disk"
    )

    def loc(text: Callable[[LoadFigures], str]) -> str:
        return f"local: {text(local)}" if local is not None else ""

    def runs(f: LoadFigures) -> str:
        return f"{f.runs_complete}/{f.accounts} complete, {len(f.reruns)} rerun"

    table.add("backup runs", runs(s3), loc(runs), s3.runs_complete == s3.accounts)

    def counts(f: LoadFigures) -> str:
        lo, hi = (min(f.listed), max(f.listed)) if f.listed else (0, 0)
        return f"{lo}-{hi} per account, {len(f.wrong_lists)} wrong"

    exact = not s3.wrong_lists and s3.listed and min(s3.listed) == max(s3.listed)
    table.add("files listed (ls --json)", counts(s3), loc(counts), bool(exact))
    if s3.db_files is not None:
        want = dataset.files // s3.accounts
        per_owner = sorted(set(s3.db_files.values()))
        ok = len(s3.db_files) == s3.accounts and per_owner == [want]
        table.add(
            "files rows per owner (PostgreSQL)", ", ".join(map(str, per_owner)), f"{want} each", ok
        )

    def wall(f: LoadFigures) -> str:
        return f"{f.wall:.1f} s, {f.content_bytes / f.wall / 1e6:.0f} MB/s"

    table.add("wall time, all accounts", wall(s3), loc(wall))

    def run_p(f: LoadFigures) -> str:
        return f"{percentile(f.run_seconds, 50):.1f} / {percentile(f.run_seconds, 95):.1f} s"

    table.add("one account's backup p50 / p95", run_p(s3), loc(run_p))

    def commit(f: LoadFigures) -> str:
        return f"{ms(f.commit, 50)} / {ms(f.commit, 95)} ms (n={len(f.commit)})"

    table.add("commit latency p50 / p95 (all commits)", commit(s3), loc(commit))

    def large(f: LoadFigures) -> str:
        return f"{ms(f.large_commit, 50)} / {ms(f.large_commit, 95)} ms (n={len(f.large_commit)})"

    table.add("  POST /files (multi-part file)", large(s3), loc(large))

    def bundle(f: LoadFigures) -> str:
        n = len(f.bundle_commit)
        return f"{ms(f.bundle_commit, 50)} / {ms(f.bundle_commit, 95)} ms (n={n})"

    table.add("  POST /files/bundle[/direct]", bundle(s3), loc(bundle))

    def cpu(f: LoadFigures) -> str:
        return f"{f.cpu_per_gib('servers'):.1f} CPU-s/GiB ({f.cpu.get('servers', 0):.1f} s)"

    table.add("server CPU per GiB (photoark processes)", cpu(s3), loc(cpu))

    def per_files(f: LoadFigures) -> str:
        return f"{f.cpu.get('servers', 0) / f.files * 1000:.1f} CPU-s per 1000 files"

    table.add("  the same per 1000 files", per_files(s3), loc(per_files))
    store = s3.cpu.get("seaweedfs", 0) + s3.cpu.get("postgresql", 0)
    table.add(
        "  + SeaweedFS / PostgreSQL",
        f"{s3.cpu_per_gib('seaweedfs'):.1f} / {s3.cpu_per_gib('postgresql'):.1f} CPU-s/GiB",
        loc(lambda f: "(in the server)"),
    )
    table.add(
        "  whole storage side",
        f"{(s3.cpu.get('servers', 0) + store) / s3.gib:.1f} CPU-s/GiB",
        loc(lambda f: f"{f.cpu_per_gib('servers'):.1f} CPU-s/GiB"),
    )

    def carried(f: LoadFigures) -> str:
        moved = f.extra.get("balancer_bytes", 0)
        return f"{fmt_bytes(moved)}, {moved / max(f.files, 1) / 1024:.1f} KiB per file"

    table.add("bytes through the balancer (both ways)", carried(s3), loc(carried))
    table.add(
        "balancer CPU (bench process)",
        f"{s3.cpu.get('balancer', 0):.1f} s",
        loc(lambda f: f"{f.cpu.get('balancer', 0):.1f} s (carries the content)"),
    )
    table.add(
        "clients' CPU (all backups)",
        f"{s3.client_cpu:.0f} s",
        loc(lambda f: f"{f.client_cpu:.0f} s"),
    )
    table.add(
        "requests through the balancer / 5xx",
        f"{s3.requests} / {s3.errors_5xx}",
        loc(lambda f: f"{f.requests} / {f.errors_5xx}"),
    )
    table.add("connections per replica", ", ".join(f"{v}" for v in s3.backends.values()))
    table.add(
        "replication lag during the load (max)",
        f"{s3.lag_max_pending} pending, oldest {s3.lag_max_seconds:.0f} s",
    )
    drained = s3.drain_seconds
    table.add(
        "replication caught up after the load",
        "NOT within the timeout" if drained is None else f"{drained:.1f} s later",
        "0 pending",
        drained is not None,
    )
    if s3.drain_cpu:
        table.add("  server CPU while catching up", f"{s3.drain_cpu:.1f} s")
    table.note(
        "commit latency: request line in -> status line out at the balancer; local-disk"
        " bundle commits carry their files' bytes (S3: the bytes went to the bucket before)"
    )
    table.note("CPU per GiB of content backed up (GiB = 2^30 B); the load's interval only")
    for f in (s3, local):
        if f is not None and f.errors_5xx:
            table.note(f"5xx answers, {f.mode}: {f.extra.get('5xx_by_route')}")
    return table


def shape_table(shape: dict[str, Any]) -> Table:
    files = shape["_files"]
    table = Table(f"rows and objects per file (PostgreSQL after VACUUM FULL, {files} files)")
    for name in TABLES:
        t = shape[name]
        if t["rows"]:
            table.add(
                name, f"{t['rows_per_file']:.2f} rows/file", f"{t['bytes_per_row']:.0f} B/row"
            )
    ours = sum(shape[name]["bytes"] for name in TABLES)
    total = shape["_database_bytes"]
    table.add(
        "photoark's tables per file",
        f"{ours / max(files, 1):.0f} B",
        f"{fmt_bytes(ours)} (whole database {fmt_bytes(total)})",
    )
    table.add(
        "objects per file (bucket)",
        f"{shape['_objects_primary'] / max(files, 1):.2f}",
        f"{shape['_referenced']} referenced, {shape['_objects_primary']} listed",
    )
    table.add(
        "listing the bucket (ListObjectsV2, 1000 a page)",
        f"{shape['_list_seconds']:.2f} s",
        f"{shape['_objects_primary'] / max(shape['_list_seconds'], 1e-9):.0f} objects/s",
    )
    table.add(
        "content / thumbnail object (mean)",
        f"{fmt_bytes(shape.get('_avg_content_bytes', 0))} / "
        f"{fmt_bytes(shape.get('_avg_thumbnail_bytes', 0))}",
    )
    table.note("B/row = the table's heap + indexes + TOAST / its rows (per table, fixed costs in)")
    return table


def kill_table(k: KillFigures, dataset: Dataset) -> Table:
    load = k.load
    table = Table("(2) the same load; replica a SIGKILLed mid-load, started again 5 s later")
    table.add(
        "killed at", f"{k.killed_at_files} of {dataset.files} files committed", f"~{KILL_AT:.0%}"
    )
    table.add("connections open to a (cut)", str(k.cut_connections))
    if k.restart_error:
        table.add("replica a killed and started again", k.restart_error[-200:], "", False)

    def secs(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f} s"

    table.add(
        "a out of rotation after",
        secs(k.out_of_rotation_after),
        "≤ 1 s",
        k.out_of_rotation_after is not None and k.out_of_rotation_after <= 1.0,
    )
    table.add("a answering again (start -> /health)", secs(k.restart_seconds))
    table.add(
        "a back in rotation after its start", secs(k.back_in_rotation_after), "2 health checks"
    )
    table.add("requests served by a after it came back", str(k.requests_a_after_restart))
    table.add("backup runs complete (first try)", f"{load.runs_complete}/{load.accounts}", "all")
    table.add("runs that gave up and ran again", str(len(load.reruns)), "0 (info)")
    exact = not load.wrong_lists and load.listed and min(load.listed) == max(load.listed)
    table.add(
        "files listed (ls --json)",
        f"{min(load.listed)}-{max(load.listed)} per account, {len(load.wrong_lists)} wrong",
        f"{dataset.files // load.accounts} each",
        bool(exact),
    )
    if load.db_files is not None:
        want = dataset.files // load.accounts
        per_owner = sorted(set(load.db_files.values()))
        table.add(
            "files rows per owner (no duplicate)",
            ", ".join(map(str, per_owner)),
            f"{want} each",
            per_owner == [want] and len(load.db_files) == load.accounts,
        )
    table.add(
        "exports byte-identical (sha256)",
        f"{dataset.files - len(k.export_mismatches)} of {dataset.files} files",
        "all",
        not k.export_mismatches,
    )
    table.add("requests 5xx at the balancer", str(load.errors_5xx), "info")
    table.add(
        "wall time / commit p50 / p95",
        f"{load.wall:.1f} s / {ms(load.commit, 50)} / {ms(load.commit, 95)} ms",
    )
    table.add(
        "replication caught up", secs(k.drain_seconds), "0 pending", k.drain_seconds is not None
    )
    for line in k.export_mismatches[:10]:
        table.note(line)
    return table


def copy_table(c: CopyFigures) -> Table:
    table = Table(
        f"(3) replication worker SIGKILLed mid-copy ({fmt_bytes(c.object_size)} object,"
        " streamed to a second SeaweedFS)"
    )
    if c.error:
        table.add("result", c.error, "", False)
        if not c.worker:
            return table
    table.add("worker holding the copy", c.worker)
    table.add(
        "killed replica / seconds into the copy", f"{c.killed} / {c.copy_started_to_kill:.1f} s"
    )
    table.add(
        "unfinished multipart upload on the replica",
        "yes" if c.mid_copy_upload_seen else "no",
        "yes (mid-copy)",
        c.mid_copy_upload_seen,
    )
    table.add("lease left at the kill", f"{c.lease_seconds:.0f} s")
    table.add(
        "kill -> copy done",
        "-" if c.kill_to_done is None else f"{c.kill_to_done:.1f} s",
        "after the lease",
        c.kill_to_done is not None,
    )
    table.add("attempts on that row", str(c.attempts), "2")
    table.add(
        "objects identical on both stores",
        f"{c.compared - len(c.mismatches)} of {c.compared}",
        "all",
        not c.mismatches and c.compared > 0,
    )
    table.add(
        "  by size + ETag / by size + SHA-256",
        f"{c.by_etag} / {c.by_content}",
        "multipart copies have other part sizes",
    )
    table.add(
        "pending after (GET /health/replication)", str(c.pending_after), "0", c.pending_after == 0
    )
    table.add(
        "unfinished uploads left on the replica",
        str(c.unfinished_uploads_on_replica),
        "swept after --sweep-grace",
    )
    for line in c.mismatches[:10]:
        table.note(line)
    return table


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--files", type=int, default=100, help="per account")
    parser.add_argument("--large", type=int, default=2, help="large files per account")
    parser.add_argument("--large-size", type=parse_size, default=parse_size("17MiB"))
    parser.add_argument("--small-min", type=parse_size, default=parse_size("50KiB"))
    parser.add_argument("--small-max", type=parse_size, default=parse_size("250KiB"))
    parser.add_argument("--copy-size", type=parse_size, default=parse_size("200MiB"))
    parser.add_argument("--kill-after", type=float, default=1.0, help="seconds into the copy")
    parser.add_argument("--lag-timeout", type=float, default=900.0)
    parser.add_argument("--skip-load", action="store_true", help="no (1): only (2) and (3)")
    parser.add_argument("--skip-local", action="store_true", help="(1) without local disk")
    parser.add_argument("--skip-kill", action="store_true")
    parser.add_argument("--skip-copy", action="store_true")
    parser.add_argument("--keep-data", action="store_true", help="keep the dataset")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    if args.large > args.files:
        parser.error("--large cannot exceed --files")
    code = announce_source()
    root = BENCH_ROOT / "replicas-load"
    root.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(root / "dataset", args)
    result: dict[str, Any] = {"code": code, "args": {k: v for k, v in vars(args).items()}}
    started = time.monotonic()
    tables: list[Table] = []
    try:
        local: LoadFigures | None = None
        if not args.skip_local and not args.skip_load:
            work = root / "local"
            shutil.rmtree(work, ignore_errors=True)
            local = local_phase(dataset, work)
            shutil.rmtree(work, ignore_errors=True)
            result["local"] = local.as_json()
            write_json(args.json_out, result)  # so far (a later phase may fail)
        if not args.skip_load:
            work = root / "s3"
            shutil.rmtree(work, ignore_errors=True)
            s3, shape = cluster_load_phase(dataset, work, args.lag_timeout)
            shutil.rmtree(work, ignore_errors=True)
            result["s3"], result["shape"] = s3.as_json(), shape
            write_json(args.json_out, result)  # so far (a later phase may fail)
            tables += [load_table(s3, local, dataset), shape_table(shape)]
            if not (args.skip_kill and args.skip_copy):  # the whole summary comes at the end
                print(tables[0].render(), tables[1].render(), sep="", flush=True)
        if not (args.skip_kill and args.skip_copy):
            work = root / "kill"
            shutil.rmtree(work, ignore_errors=True)
            kill, copy = kill_and_copy_phases(dataset, work, args)
            shutil.rmtree(work, ignore_errors=True)
            if kill is not None:
                tables.append(kill_table(kill, dataset))
                result["kill"] = {
                    **{k: v for k, v in vars(kill).items() if k != "load"},
                    "load": kill.load.as_json(),
                }
            if copy is not None:
                tables.append(copy_table(copy))
                result["copy"] = vars(copy)
    finally:
        if not args.keep_data:
            shutil.rmtree(root, ignore_errors=True)
    print("".join(t.render() for t in tables))
    print(f"whole benchmark: {time.monotonic() - started:.0f} s")
    write_json(args.json_out, result)
    failed = any(r.verdict == "FAIL" for t in tables for r in t.rows)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as after Ctrl-C
    main()
