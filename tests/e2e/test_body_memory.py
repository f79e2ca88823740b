"""A real server under hostile bodies (issue 19): large declared lengths, almost nothing sent,
clients that go away mid-body. Measured on the server process itself (``VmRSS``, its log)."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from photoark.crypto.keys import ARGON2_MIN, create_account_keys
from photoark.protocol.models import MAX_BUNDLE_BYTES
from tests.builders import PASSWORD, ServerProcess, running_server, signup_json

MiB = 1024 * 1024
IDLE = 3.0  # --body-timeout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path, "--body-timeout", str(IDLE)) as s:
        yield s


def signup(url: str, email: str) -> str:
    """A bearer token for a new account (cheap Argon2 limits)."""
    keys = create_account_keys(PASSWORD, ARGON2_MIN)
    response = httpx.post(
        url + "/auth/signup",
        json=signup_json(email, keys),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def vm_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def send_head(port: int, token: str, declared: int, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"POST /files/bundle HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode("ascii") + body)
    return sock


def statuses_and_closes(socks: list[socket.socket], timeout: float) -> list[tuple[int, bool]]:
    """Each connection's answer status and whether the server then closed it."""
    data = {sock: b"" for sock in socks}
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.05):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                chunk = ready.recv(65536)
                data[ready] += chunk
                if not chunk:
                    closed.add(ready)
                    selector.unregister(ready)
    return [(int(data[s].split(b" ", 2)[1]) if data[s] else 0, s in closed) for s in socks]


def test_eight_silent_64mib_bodies_cost_little_and_time_out(server: ServerProcess) -> None:
    """Eight accounts, each with one connection declaring 64 MiB and sending 10 bytes: the
    server grows by far less than one such body, and each gets 408 and a closed connection."""
    assert server.process is not None
    tokens = [signup(server.url, f"user{i}@example.org") for i in range(8)]
    before = vm_rss(server.process.pid)
    started = time.monotonic()
    socks = [send_head(server.port, token, MAX_BUNDLE_BYTES, b"0123456789") for token in tokens]
    try:
        time.sleep(1.0)  # every request has read its 10 bytes and waits for more
        growth = vm_rss(server.process.pid) - before
        answers = statuses_and_closes(socks, IDLE + 5)
        elapsed = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
    assert growth <= 64 * MiB, f"server RSS grew by {growth / MiB:.0f} MiB"
    assert answers == [(408, True)] * 8
    assert IDLE - 0.5 < elapsed < IDLE + 4
    assert httpx.get(server.url + "/health", timeout=5).status_code == 200


def test_client_gone_mid_body_logs_no_traceback(server: ServerProcess) -> None:
    token = signup(server.url, "alice@example.org")
    sock = send_head(server.port, token, 1000, b"0123456789")
    time.sleep(0.3)
    sock.close()
    time.sleep(0.5)
    assert httpx.get(server.url + "/health", timeout=5).status_code == 200
    server.stop()
    log = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    assert "Traceback" not in log and " ERROR " not in log, log
    assert "went away after 10 of 1000 body bytes" in log
