"""Server login storm: many logins at once for unknown emails, the server's memory and /health.

A real server process (``python -m photoark.server``, SQLite, with the interactive Argon2 limits
of the login hash: NOT ``--login-hash min``, whose hash costs 8 KiB instead of 64 MiB). Once it
answers, one warm-up login for an unknown email; then the server's resident memory (``VmRSS``)
is the baseline and its peak (``VmHWM``) is reset. Then ``--logins`` threads (default 40) each
send ``POST /auth/login`` for a different unknown email at the same moment (a barrier), while a
prober asks ``GET /health`` every 50 ms. Unknown emails cost the server what a wrong password
costs (one verification against a dummy hash), so this is the cheapest storm a stranger can
make without an account. By default each login comes from its own address (127.0.1.2,
127.0.1.3, …: all of 127/8 is this machine), as from many machines, so the per-address login
throttle does not stop the storm before it reaches the hash; ``--sources one`` sends them all
from 127.0.0.1 (then that throttle refuses most of them).

Measured: the server's peak RSS above the baseline (``VmHWM`` after the storm, and ``VmRSS``
polled every 10 ms), the answers (401 wrong credentials, 503 busy, 429 rate limited, with their
Retry-After), the storm's wall time and CPU, and /health's latency during the storm (median,
p95, max). ``--rounds`` repeats the storm (the RSS baseline stays the first one).
Targets (issue 19): growth ≤ 300 MiB, /health max ≤ 0.5 s.

    python bench/server_login_storm.py [--logins 40] [--rounds 1] [--sources many|one]
                                       [--server-arg=--login-workers=4] [--keep-data]
                                       [--json-out FILE]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    announce_source,
    cpu_seconds,
    fmt_bytes,
    percentile,
    proc_status,
    reset_peak_rss,
    scratch,
    use_checkout,
    write_json,
)

use_checkout()  # this working tree's src/, in every process started

import httpx  # noqa: E402
from tests.builders import free_port  # noqa: E402

TARGET_GROWTH = 300 * 1024 * 1024
TARGET_HEALTH_MAX_S = 0.5
HEALTH_EVERY_S = 0.05


def start_server(data: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(data.parent / "server.log", "ab")  # noqa: SIM115 (the child keeps its copy)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "photoark.server", "--data", str(data), "--port", str(port)),
            *("--log-level", "warning", *extra),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def login_body() -> dict[str, str]:
    import base64

    email = f"nobody-{secrets.token_hex(6)}@example.org"
    return {"email": email, "login_key": base64.b64encode(secrets.token_bytes(32)).decode()}


def source_address(index: int, sources: str) -> str:
    """The loopback address login ``index`` is sent from."""
    if sources == "one":
        return "127.0.0.1"
    return f"127.0.{1 + index // 250}.{2 + index % 250}"


def storm(url: str, pid: int, logins: int, sources: str) -> dict[str, Any]:
    """One storm: ``logins`` logins released at once, /health probed, the server's RSS polled."""
    barrier = threading.Barrier(logins + 1)
    answers: list[tuple[int, str | None, float]] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        body = login_body()
        transport = httpx.HTTPTransport(local_address=source_address(index, sources))
        with httpx.Client(timeout=120, transport=transport) as http:
            barrier.wait()
            started = time.perf_counter()
            try:
                response = http.post(url + "/auth/login", json=body)
                status, retry = response.status_code, response.headers.get("retry-after")
            except httpx.HTTPError as err:
                status, retry = 0, type(err).__name__
            with lock:
                answers.append((status, retry, time.perf_counter() - started))

    health: list[float] = []
    rss_peak = [0]
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=60) as http:
            while not done.is_set():
                started = time.perf_counter()
                http.get(url + "/health").raise_for_status()
                health.append(time.perf_counter() - started)
                done.wait(HEALTH_EVERY_S)

    def poll_rss() -> None:
        while not done.wait(0.01):
            rss_peak[0] = max(rss_peak[0], proc_status(pid, "VmRSS"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(logins)]
    helpers = [threading.Thread(target=probe), threading.Thread(target=poll_rss)]
    for thread in [*threads, *helpers]:
        thread.start()
    cpu_before = cpu_seconds(pid)
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done.set()
    for thread in helpers:
        thread.join()
    statuses = Counter(status for status, _, _ in answers)
    retry_after = sorted({retry for _, retry, _ in answers if retry})
    return {
        "wall_seconds": wall,
        "server_cpu_seconds": cpu_seconds(pid) - cpu_before,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "retry_after": retry_after,
        "login_seconds_max": max(s for _, _, s in answers),
        "health_probes": len(health),
        "health_median_s": statistics.median(health) if health else None,
        "health_p95_s": percentile(health, 95) if health else None,
        "health_max_s": max(health) if health else None,
        "rss_polled_peak": rss_peak[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sources", choices=("many", "one"), default="many")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="an extra server option, e.g. --server-arg=--login-workers=4 (repeatable)",
    )
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    code = announce_source()

    with scratch("login-storm", keep=args.keep_data) as root:
        data = root / "server-data"
        data.mkdir()
        proc, url = start_server(data, args.server_arg)
        try:
            with httpx.Client(timeout=60) as http:  # warm-up: code paths, one dummy verify
                status = http.post(url + "/auth/login", json=login_body()).status_code
                assert status == 401, status
            time.sleep(0.5)
            baseline = proc_status(proc.pid, "VmRSS")
            hwm_reset = reset_peak_rss(proc.pid)
            rounds = []
            for number in range(args.rounds):
                result = storm(url, proc.pid, args.logins, args.sources)
                result["vm_hwm"] = proc_status(proc.pid, "VmHWM")
                rounds.append(result)
                print(f"round {number + 1}: {result}")
                time.sleep(1)
            after = proc_status(proc.pid, "VmRSS")
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    peak = max(max(r["vm_hwm"], r["rss_polled_peak"]) for r in rounds)
    growth = peak - baseline
    health_max = max(r["health_max_s"] or 0.0 for r in rounds)
    table = Table(
        f"login storm: {args.logins} logins at once for unknown emails from "
        f"{'one address' if args.sources == 'one' else 'as many addresses'}, x{args.rounds}, "
        f"server {' '.join(args.server_arg) or '(defaults)'}"
    )
    table.add("server RSS before the storm", fmt_bytes(baseline))
    table.add(
        "server peak RSS growth",
        fmt_bytes(growth),
        f"<= {fmt_bytes(TARGET_GROWTH)}",
        growth <= TARGET_GROWTH,
    )
    table.add("server RSS after the storm", fmt_bytes(after))
    for number, r in enumerate(rounds, 1):
        table.add(f"round {number}: answers", str(r["statuses"]))
        table.add(f"round {number}: Retry-After values", ", ".join(r["retry_after"]) or "-")
        table.add(
            f"round {number}: wall / server CPU",
            f"{r['wall_seconds']:.2f} s / {r['server_cpu_seconds']:.2f} s",
        )
        table.add(
            f"round {number}: /health median / p95 / max",
            f"{r['health_median_s'] * 1000:.0f} / {r['health_p95_s'] * 1000:.0f} / "
            f"{r['health_max_s'] * 1000:.0f} ms ({r['health_probes']} probes)",
        )
    table.add(
        "/health max over the storms",
        f"{health_max * 1000:.0f} ms",
        f"<= {TARGET_HEALTH_MAX_S * 1000:.0f} ms",
        health_max <= TARGET_HEALTH_MAX_S,
    )
    if not hwm_reset:
        table.note("VmHWM could not be reset: growth is taken from the 10 ms VmRSS poll only")
    table.note(f"{os.cpu_count()} cores; client threads and the server share them")
    print(table.render())
    write_json(
        args.json_out,
        {
            "benchmark": "server_login_storm",
            "code": code,
            "logins": args.logins,
            "sources": args.sources,
            "server_args": args.server_arg,
            "baseline_rss": baseline,
            "peak_rss": peak,
            "growth": growth,
            "after_rss": after,
            "rounds": rounds,
        },
    )


if __name__ == "__main__":
    main()
