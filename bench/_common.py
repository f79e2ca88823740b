"""Shared helpers for the photoark benchmarks (not a benchmark itself).

Everything here runs the real product: a server process on 127.0.0.1 (SQLite + local blob
directory under /tmp) and the ``photoark`` CLI in subprocesses, one client home per device.
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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.builders import PASSWORD, running_server  # noqa: E402

__all__ = [
    "BENCH_ROOT",
    "PASSWORD",
    "CliRun",
    "Row",
    "Table",
    "drop_caches",
    "fmt_bytes",
    "machine",
    "parse_size",
    "photoark",
    "running_server",
    "scratch",
    "signup",
    "small_jpeg",
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


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    return out


def _poll_rss(pid: int, peaks: list[int], done: threading.Event) -> None:
    """Every 10 ms: the process's own VmHWM, and the largest VmHWM among its descendants."""
    while not done.wait(0.01):
        own = proc_status(pid, "VmHWM")
        if own:  # 0 once the process is a zombie
            peaks[0] = max(peaks[0], own)
        stack = _children(pid)
        while stack:
            child = stack.pop()
            peaks[1] = max(peaks[1], proc_status(child, "VmHWM"))
            stack.extend(_children(child))


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
