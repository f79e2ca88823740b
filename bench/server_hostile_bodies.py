"""Server memory under hostile request bodies: a large declared length, almost nothing sent.

Starts a real server (``python -m photoark.server``, this checkout's ``src/``) with
``--body-timeout`` (default 5 s), signs up accounts over HTTP, then opens 8 raw connections that
each send ``POST /files/bundle`` with ``Content-Length: 67108864`` (64 MiB, the bundle limit)
and 10 body bytes, and go silent. The server's RSS (``VmRSS`` of /proc/PID/status) is read
before the connections and once they have all been read from (after ``--settle`` seconds); then
each connection's answer is awaited: its status, when it came, and whether the server closed
the connection. Two scenarios:

- **8 accounts**, one connection each: what the body reader itself holds (no per-account cap in
  the way). Target: RSS growth ≤ 64 MiB, every connection answered 408 after the timeout.
- **1 account**, 8 connections: the per-account cap (``--bodies-per-account``, 4) in play; the
  connections past the cap are answered 503 with ``Retry-After`` after a short wait.

    python bench/server_hostile_bodies.py [--connections 8] [--declared 64MiB] [--body-timeout 5]
        [--settle 1.5] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PASSWORD,
    Table,
    announce_source,
    fmt_bytes,
    parse_size,
    proc_status,
    running_server,
    scratch,
    use_checkout,
    write_json,
)

use_checkout()

import httpx  # noqa: E402
from tests.builders import signup_json  # noqa: E402

from photoark.crypto.keys import ARGON2_MIN, create_account_keys  # noqa: E402

MiB = 1024 * 1024
TARGET = 64 * MiB  # RSS growth with 8 hostile connections


def signup(url: str, email: str) -> str:
    """A new account's bearer token (cheap Argon2 limits, as the tests' builders)."""
    body = signup_json(email, create_account_keys(PASSWORD, ARGON2_MIN))
    response = httpx.post(url + "/auth/signup", json=body, timeout=30)
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def hostile(port: int, token: str, declared: int) -> socket.socket:
    """A connection that declares ``declared`` body bytes, sends 10 and goes silent."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        "POST /files/bundle HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode("ascii") + b"0123456789")
    return sock


def answers(socks: list[socket.socket], started: float, deadline: float) -> list[dict[str, Any]]:
    """Each connection's answer (status, ``Retry-After``), when it came, and whether (and when)
    the server closed the connection, all read at once until ``deadline``."""
    data = {sock: b"" for sock in socks}
    first: dict[socket.socket, float] = {}
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.05):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                try:
                    chunk = ready.recv(65536)
                except OSError:
                    chunk = b""
                now = time.monotonic() - started
                if chunk:
                    first.setdefault(ready, now)
                    data[ready] += chunk
                else:
                    closed[ready] = now
                    selector.unregister(ready)
    results = []
    for sock in socks:
        head = data[sock].split(b"\r\n\r\n", 1)[0].decode("latin-1")
        status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else None
        results.append(
            {
                "status": status,
                "seconds": round(first[sock], 2) if sock in first else None,
                "closed_after": round(closed[sock], 2) if sock in closed else None,
                "retry_after": "retry-after:" in head.lower(),
            }
        )
    return results


def scenario(
    url: str, port: int, pid: int, tokens: list[str], declared: int, settle: float, wait: float
) -> dict[str, Any]:
    before = proc_status(pid, "VmRSS")
    started = time.monotonic()
    socks = [hostile(port, token, declared) for token in tokens]
    time.sleep(settle)
    during = proc_status(pid, "VmRSS")
    deadline = time.monotonic() + wait
    answered = answers(socks, started, deadline)
    for sock in socks:
        sock.close()
    time.sleep(0.5)
    after = proc_status(pid, "VmRSS")
    health = httpx.get(url + "/health", timeout=5).status_code
    return {
        "rss_before": before,
        "rss_during": during,
        "rss_after": after,
        "growth": during - before,
        "answers": answered,
        "health_after": health,
    }


def describe(answered: list[dict[str, Any]]) -> str:
    """``4× 408 at 5.0 s (closed at 5.0 s)``: the answers grouped."""
    counts: dict[str, int] = {}
    for a in answered:
        key = f"{a['status']}"
        if a["retry_after"]:
            key += " with Retry-After"
        if a["seconds"] is not None:
            key += f" at {a['seconds']:.1f} s"
        closed = a["closed_after"]
        key += f" (closed at {closed:.1f} s)" if closed is not None else " (left open)"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n}× {k}" for k, n in sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--declared", type=parse_size, default=64 * MiB)
    parser.add_argument("--body-timeout", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=1.5)
    parser.add_argument("--json-out")
    args = parser.parse_args()
    code = announce_source()
    wait = args.body_timeout + 10  # the answers may take the timeout, plus slack
    results: dict[str, Any] = {"code": code, "args": vars(args)}
    table = Table(
        f"hostile bodies: {args.connections} connections declaring {fmt_bytes(args.declared)} "
        "on POST /files/bundle, 10 bytes sent"
    )
    for name, accounts in (("accounts", args.connections), ("one_account", 1)):
        with (
            scratch(f"hostile-{name}") as work,
            running_server(work, "--body-timeout", str(args.body_timeout)) as server,
        ):
            assert server.process is not None
            tokens = [signup(server.url, f"user{i}@example.org") for i in range(accounts)]
            tokens = [tokens[i % accounts] for i in range(args.connections)]
            result = scenario(
                server.url,
                server.port,
                server.process.pid,
                tokens,
                args.declared,
                args.settle,
                wait,
            )
        results[name] = result
        label = f"{accounts} account{'s' if accounts > 1 else ''}"
        growth = result["growth"]
        table.add(
            f"{label}: server RSS growth",
            f"{fmt_bytes(growth)} ({fmt_bytes(result['rss_before'])} → "
            f"{fmt_bytes(result['rss_during'])})",
            f"≤ {fmt_bytes(TARGET)}",
            growth <= TARGET if name == "accounts" else None,
        )
        table.add(f"{label}: answers", describe(result["answers"]) or "none", "info")
        table.add(
            f"{label}: RSS after closing / health",
            f"{fmt_bytes(result['rss_after'])} / {result['health_after']}",
            "info",
        )
    table.note(
        f"server started with --body-timeout {args.body_timeout}; RSS read {args.settle} s "
        "after the connections; answers awaited up to the timeout + 10 s"
    )
    print(table.render())
    write_json(args.json_out, results)


if __name__ == "__main__":
    main()
