"""Shared helpers for the photoark benchmarks (not a benchmark itself).

Everything here runs the real product: a server process on 127.0.0.1 (SQLite + local blob
directory under /tmp) and the ``photoark`` CLI in subprocesses, one client home per device.

Importing this module puts this checkout's ``src/`` first, on ``sys.path`` and on
``PYTHONPATH`` (:func:`use_checkout`), before anything imports ``photoark``: a bench runs the
code it lives beside, in its own process and in every process it starts, whatever
``photoark`` is installed. So a bench imports this module before ``photoark``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def use_checkout() -> Path:
    """Run this checkout's ``src/`` (in this process and in every server, CLI and daemon
    process it starts, through ``PYTHONPATH``), not whatever ``photoark`` is installed: an
    editable install may point at another clone. Done when this module is imported (before
    its own ``tests.builders`` import, which imports ``photoark``); calling it again is
    harmless. Returns ``src/``."""
    src = str(REPO / "src")
    for path in (str(REPO), src):  # src last: first on the path, even if it was there behind
        if path in sys.path:  # an installed photoark
            sys.path.remove(path)
        sys.path.insert(0, path)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *paths])
    return REPO / "src"


use_checkout()

from tests.builders import PASSWORD, running_server  # noqa: E402
from tests.processes import child_pids  # noqa: E402

__all__ = [
    "BENCH_ROOT",
    "PASSWORD",
    "CliRun",
    "DaemonRun",
    "Row",
    "Table",
    "announce_source",
    "backed_up_under",
    "daemon_board",
    "drop_caches",
    "ensure_bytecode",
    "fmt_bytes",
    "machine",
    "parse_size",
    "percentile",
    "photoark",
    "query_ro",
    "running_daemon",
    "running_server",
    "scratch",
    "server_db",
    "server_files",
    "signup",
    "small_jpeg",
    "source_state",
    "state_db",
    "tree_bytes",
    "use_checkout",
    "with_comment",
    "write_json",
]

BENCH_ROOT = Path(os.environ.get("PHOTOARK_BENCH_DIR", "/tmp/photoark-bench"))
MiB = 1024 * 1024
GiB = 1024 * MiB


# -- sizes and output ------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """``4GiB``, ``512MiB``, ``1.5G``, ``1000000`` → bytes (binary units for K/M/G)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)(i?[bB])?\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def fmt_bytes(n: float) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


@dataclass
class Row:
    name: str
    value: str
    target: str = ""
    verdict: str = ""  # PASS / FAIL / info


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append(Row(name, value, target, verdict))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        head = ("measure", "figure", "baseline / target", "")
        cells = [head, *[(r.name, r.value, r.target, r.verdict) for r in self.rows]]
        widths = [max(len(c[i]) for c in cells) for i in range(4)]
        out = io.StringIO()
        out.write(f"\n{self.title}\n")
        sep = "  ".join("-" * w for w in widths)
        for i, c in enumerate(cells):
            out.write("  ".join(c[j].ljust(widths[j]) for j in range(4)).rstrip() + "\n")
            if i == 0:
                out.write(sep + "\n")
        for n in self.notes:
            out.write(f"note: {n}\n")
        return out.getvalue()


def machine() -> dict[str, Any]:
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) * 1024
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory": fmt_bytes(mem),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
        print(f"wrote {path}")


# -- environment -----------------------------------------------------------------------------


def drop_caches() -> bool:
    """Drop the page cache (needs root); True if it worked."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def scratch(name: str, keep: bool = False) -> Iterator[Path]:
    """A fresh directory under BENCH_ROOT, removed afterwards unless ``keep``."""
    path = BENCH_ROOT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


# -- media -----------------------------------------------------------------------------------


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The same JPEG with a COM segment right after SOI: still valid, distinct content."""
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    seg = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return jpeg[:2] + seg + jpeg[2:]


def small_jpeg(seed: int, size: tuple[int, int] = (48, 36)) -> bytes:
    from PIL import Image

    rnd = random.Random(seed)
    img = Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


# -- client ----------------------------------------------------------------------------------


@dataclass
class CliRun:
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    max_rss: int  # bytes, of the CLI process itself (ru_maxrss from wait4)
    cpu_seconds: float = 0.0  # user + system CPU of the CLI process
    own_peak_rss: int = 0  # VmHWM of the Python process alone, polled (children excluded)
    child_peak_rss: int = 0  # largest RSS seen in a child process (ffmpeg …), polled

    def json(self) -> Any:
        return json.loads(self.stdout)


def photoark(
    home: Path,
    args: Sequence[str],
    stdin: str | None = None,
    check: bool = True,
    prefix: Sequence[str] = (),
) -> CliRun:
    """Run ``python -m photoark.cli.main ARGS`` with its own home; time it, and take the peak
    RSS of that very process from ``wait4`` (exact, no polling)."""
    env = {**os.environ, "PHOTOARK_HOME": str(home), "COLUMNS": "200"}
    out_path = home.parent / f".{home.name}.stdout"
    err_path = home.parent / f".{home.name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "photoark.cli.main", *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
        )
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        peaks = [0, 0]
        done = threading.Event()
        poller = threading.Thread(target=_poll_rss, args=(proc.pid, peaks, done), daemon=True)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        poller.join()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    run = CliRun(
        proc.returncode,
        seconds,
        out_path.read_text(),
        err_path.read_text(),
        usage.ru_maxrss * 1024,
        usage.ru_utime + usage.ru_stime,
        peaks[0],
        peaks[1],
    )
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    if check and run.returncode != 0:
        raise RuntimeError(
            f"photoark {' '.join(args)} exited {run.returncode}\n"
            f"{run.stdout[:2000]}\n{run.stderr[-2000:]}"
        )
    return run


def _poll_rss(pid: int, peaks: list[int], done: threading.Event) -> None:
    """Every 10 ms: the process's own VmHWM, and the largest VmHWM among its descendants."""
    while not done.wait(0.01):
        own = proc_status(pid, "VmHWM")
        if own:  # 0 once the process is a zombie
            peaks[0] = max(peaks[0], own)
        stack = child_pids(pid)
        while stack:
            child = stack.pop()
            peaks[1] = max(peaks[1], proc_status(child, "VmHWM"))
            stack.extend(child_pids(child))


def signup(home: Path, server_url: str, email: str = "bench@example.com") -> None:
    photoark(
        home,
        [
            *("signup", "--server", server_url, "--email", email),
            *("--password-stdin", "--kdf", "min", "--json"),
        ],
        stdin=PASSWORD + "\n",
    )


def proc_status(pid: int, field_name: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmHWM, VmRSS …) in bytes; 0 if unavailable."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds consumed so far by ``pid`` (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM of ``pid`` to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5\n")
        return True
    except OSError:
        return False


# -- the code under test ---------------------------------------------------------------------


def ensure_bytecode() -> str:
    """Compile photoark's modules to bytecode, as ``pip install`` does: a checkout run with
    ``PYTHONDONTWRITEBYTECODE`` set (this VM sets it) would otherwise compile every module
    from source on every command, ~50 ms of each start-up. Returns a note for the table."""
    import compileall

    import photoark

    package = Path(photoark.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    writes = "off" if sys.dont_write_bytecode else "on"
    return f"bytecode of {package} compiled first (as pip install does; bytecode writing: {writes})"


def source_state() -> dict[str, Any]:
    """Which code ran: the package's location, the commit, and a digest of the uncommitted
    changes to ``src/`` (a working tree others are editing is not the commit)."""
    import hashlib

    def git(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, check=True
            ).stdout.decode(errors="replace")
        return ""

    diff = git("diff", "HEAD", "--", "src")
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "src").split()
    digest = hashlib.sha256(diff.encode())
    for name in sorted(untracked):
        with contextlib.suppress(OSError):
            digest.update(name.encode() + (REPO / name).read_bytes())
    package = subprocess.run(
        [sys.executable, "-c", "import photoark; print(photoark.__file__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "package": package,
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "src_changes_sha256": digest.hexdigest()[:12] if diff or untracked else None,
    }


def announce_source() -> dict[str, Any]:
    """Print and return :func:`source_state` (goes in each result's JSON as ``code``)."""
    state = source_state()
    changes = state["src_changes_sha256"]
    print(
        f"code: {state['package']} at {state['commit']}"
        + (f" + uncommitted src changes (sha256 {changes})" if changes else "")
    )
    return state


# -- the daemon ------------------------------------------------------------------------------


def state_db(home: Path) -> Path:
    return home / "state.db"


def server_db(data_dir: Path) -> Path:
    return data_dir / "photoark.db"


def query_ro(db: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a SQLite file opened read-only (a WAL database another process is
    writing: no lock taken, never written; retried if it is busy for a moment)."""
    import sqlite3

    for attempt in range(50):
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.02)
    return []


def daemon_board(home: Path) -> dict[str, Any] | None:
    """The daemon's status board (meta ``daemon_status``: state, pid, current, updated_at…)."""
    with contextlib.suppress(Exception):
        rows = query_ro(state_db(home), "SELECT value FROM meta WHERE key = 'daemon_status'")
        if rows:
            return dict(json.loads(rows[0][0]))
    return None


def backed_up_under(home: Path, root: Path) -> int:
    """Distinct local paths under ``root`` recorded as backed up (the ``backed_up`` count of
    ``photoark status``, without a CLI start-up per poll)."""
    exact = os.fsencode(str(root))
    prefix = exact.rstrip(b"/") + b"/"
    rows = query_ro(
        state_db(home),
        "SELECT count(DISTINCT path) FROM backed_up WHERE path = ? OR (path >= ? AND path < ?)",
        (exact, prefix, prefix[:-1] + b"0"),
    )
    return int(rows[0][0]) if rows else 0


def server_files(data_dir: Path) -> int:
    """Live files on the server (its own SQLite database)."""
    rows = query_ro(server_db(data_dir), "SELECT count(*) FROM files WHERE is_deleted = 0")
    return int(rows[0][0]) if rows else 0


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, n)).st_size
    return total


@dataclass
class DaemonRun:
    """``photoark daemon`` of one client home in a subprocess (as users run it), with the
    battery/network probe read from a JSON file (never paused), log beside the home."""

    home: Path
    policy_every: float = 5.0  # the production default
    prefix: Sequence[str] = ()  # e.g. strace …
    process: subprocess.Popen[bytes] | None = None
    started_wall: float = 0.0  # time.time() just before the spawn
    started: float = 0.0  # time.perf_counter() just before the spawn

    @property
    def log_path(self) -> Path:
        return self.home.parent / f"daemon-{self.home.name}.log"

    @property
    def pid(self) -> int:
        """The daemon's Python process (under a ``prefix`` such as strace: its child)."""
        assert self.process is not None
        if not self.prefix:
            return self.process.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = child_pids(self.process.pid)
            if kids:
                return kids[0]
            time.sleep(0.005)
        raise RuntimeError("no daemon process under the prefix command")

    def start(self) -> DaemonRun:
        probe = self.home.parent / f"{self.home.name}.probe.json"
        probe.write_text(
            json.dumps({"metered": False, "on_battery": False, "battery_percent": None})
        )
        env = {**os.environ, "PHOTOARK_HOME": str(self.home)}
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        self.started_wall = time.time()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                *self.prefix,
                *(sys.executable, "-m", "photoark.cli.main", "daemon"),
                *("--probe-file", str(probe), "--policy-every", str(self.policy_every)),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def board(self) -> dict[str, Any] | None:
        """This process's status board (None until it has written one)."""
        board = daemon_board(self.home)
        if board is None or board.get("updated_at", 0) < self.started_wall:
            return None
        return board

    def wait_state(
        self, state: str, timeout: float, every: float = 0.01, since: float = 0.0
    ) -> dict[str, Any]:
        """Poll the board until it shows ``state`` (written at or after ``since``)."""
        deadline = time.monotonic() + timeout
        while True:
            board = self.board()
            if board and board.get("state") == state and board["updated_at"] >= since:
                return board
            if not self.alive():
                raise RuntimeError(f"the daemon exited; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {state!r} on the board after {timeout} s: {board}")
            time.sleep(every)

    def peak_rss(self) -> int:
        return proc_status(self.pid, "VmHWM")

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM (the daemon's own clean stop), then SIGKILL; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            target = self.pid if self.prefix else self.process.pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, 15)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, 9)
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def running_daemon(
    home: Path, policy_every: float = 5.0, prefix: Sequence[str] = ()
) -> Iterator[DaemonRun]:
    """A started daemon, always stopped (SIGTERM, then SIGKILL) on the way out."""
    daemon = DaemonRun(home, policy_every, prefix).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` (0-100) percentile, linear between closest ranks (numpy's default)."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
