"""Start and find the embedded local server that ``quickstart`` uses.

The server runs as its own process (``python -m photoark.server``), detached from the terminal,
with its data under ``<client home>/server`` and its log in ``<client home>/logs/server.log``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from photoark.client.api import ApiClient
from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.home import ClientHome
from photoark.client.transport import RetryPolicy

__all__ = ["LocalServer", "free_port", "is_up", "start_local_server"]


@dataclass(frozen=True)
class LocalServer:
    url: str
    data_dir: Path
    log: Path
    pid: int | None


def free_port(preferred: int = 8080) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 50)]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_up(url: str) -> bool:
    try:
        with ApiClient(url, retry=RetryPolicy(attempts=1)) as api:
            return api.health().status == "ok"
    except (ServerUnreachable, ClientError, ValueError):
        return False


def _info_file(home: ClientHome) -> Path:
    return home.server_dir / "local-server.json"


def known_local_server(home: ClientHome) -> LocalServer | None:
    try:
        info = json.loads(_info_file(home).read_text())
    except (OSError, ValueError):
        return None
    return LocalServer(info["url"], Path(info["data_dir"]), Path(info["log"]), info.get("pid"))


def start_local_server(
    home: ClientHome, port: int | None = None, timeout: float = 30.0
) -> LocalServer:
    """Start the embedded server (or reuse the one already running) and wait until it answers."""
    previous = known_local_server(home)
    if previous is not None and is_up(previous.url):
        return previous
    if port is None:
        old_port = int(previous.url.rsplit(":", 1)[1]) if previous else 8080
        port = free_port(old_port)
    home.server_dir.mkdir(parents=True, exist_ok=True)
    home.log_dir.mkdir(parents=True, exist_ok=True)
    log = home.log_dir / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "photoark.server",
                "--data",
                str(home.server_dir),
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClientError(
                f"the local server exited at start (code {process.returncode})",
                f"see its log: {log}",
            )
        if is_up(url):
            server = LocalServer(url, home.server_dir, log, process.pid)
            _info_file(home).write_text(
                json.dumps(
                    {
                        "url": url,
                        "data_dir": str(home.server_dir),
                        "log": str(log),
                        "pid": process.pid,
                    }
                )
            )
            return server
        time.sleep(0.2)
    process.kill()
    raise ServerUnreachable(f"the local server did not answer within {timeout:.0f} s", f"see {log}")
