"""Importable test builders: a real server process, client homes (devices), photo folders
described as data."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from photoark.client.home import ClientHome, resolve_home
from photoark.client.state import StateDB
from photoark.client.state.account import Account, AccountStore
from photoark.crypto.keys import AccountKeys
from photoark.protocol.models import KeyAttributesModel

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
PASSWORD = "correct horse battery staple"


# Debian's chromium, driven by the playwright package (its own browser download is never used),
# with the flags this machine's closed network needs (no background connections)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def signup_json(email: str, keys: AccountKeys) -> dict[str, Any]:
    """The body of ``POST /auth/signup`` for an account with ``keys``
    (``create_account_keys(PASSWORD, ARGON2_MIN)`` for cheap test limits)."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    attrs = keys.attributes
    return {
        "email": email,
        "login_key": b64(keys.login_key),
        "key_attributes": {
            "kek_salt": b64(attrs.kek_salt),
            "ops_limit": attrs.ops_limit,
            "mem_limit": attrs.mem_limit,
            "master_key_wrapped": b64(attrs.master_key_wrapped),
            "master_key_wrapped_recovery": b64(attrs.master_key_wrapped_recovery),
            "recovery_key_wrapped": b64(attrs.recovery_key_wrapped),
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServerProcess:
        with open(self.data_dir.parent / f"server-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(  # the child keeps its own copy of the log
                [
                    sys.executable,
                    "-m",
                    "photoark.server",
                    "--data",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                    "--login-hash",
                    "min",
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def running_server(tmp: Path, *extra: str) -> Iterator[ServerProcess]:
    data = tmp / "server-data"
    data.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(data, free_port(), extra=list(extra)).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """Run ``app`` (a FastAPI app, lifespan and all) on a real uvicorn server in a thread of
    the test process, on a free port of 127.0.0.1; its URL until the block ends."""
    from photoark.server.runner import build_server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = build_server(app, "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"
        sock.close()


@dataclass
class Client:
    """A client home (a device) driven through the real ``photoark`` CLI in a subprocess."""

    home: Path
    server: str

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PHOTOARK_HOME": str(self.home), "COLUMNS": "200"}
        result = subprocess.run(
            [sys.executable, "-m", "photoark.cli.main", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"photoark {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str, check: bool = True) -> Any:
        result = self.run(*args, "--json", check=check)
        return json.loads(result.stdout)

    def signup(self, email: str = "alice@example.com", password: str = PASSWORD) -> Any:
        return json.loads(
            self.run(
                "signup",
                "--server",
                self.server,
                "--email",
                email,
                "--password-stdin",
                "--kdf",
                "min",
                "--json",
                stdin=password + "\n",
            ).stdout
        )

    def login(
        self, email: str = "alice@example.com", password: str = PASSWORD, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "login",
            "--server",
            self.server,
            "--email",
            email,
            "--password-stdin",
            "--kdf",
            "min",
            stdin=password + "\n",
            check=check,
        )


def jpeg_bytes(
    seed: int,
    size: tuple[int, int] = (64, 48),
    exif: dict[int, Any] | None = None,
    quality: int = 90,
) -> bytes:
    """A small real JPEG whose pixels depend on ``seed``; optional EXIF (tag → value)."""
    from PIL import Image

    img = Image.new("RGB", size)
    img.putdata(
        [
            ((x * 7 + seed * 31) % 256, (y * 13 + seed) % 256, (x * y + seed) % 256)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": quality}
    if exif:
        e = Image.Exif()
        for tag, value in exif.items():
            e[tag] = value
        kwargs["exif"] = e
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def make_tree(root: Path, spec: Mapping[str, bytes | str | Mapping[str, Any]]) -> Path:
    """Create files from a nested dict: name → bytes/str (file) or dict (folder)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, value in spec.items():
        path = root / name
        if isinstance(value, Mapping):
            make_tree(path, value)
        elif isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(value)
    return root


def tree_digest(root: Path) -> dict[str, bytes]:
    """Relative path → content, for byte-identical comparisons."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def wait_for(predicate: Any, timeout: float = 20, every: float = 0.05) -> Any:
    """Poll ``predicate()`` until it returns something truthy; return that (or fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(every)


def at_rest(status: dict[str, Any]) -> bool:
    """Whether ``photoark status --json`` shows the daemon idle with nothing settling or
    queued: every change it had seen when it last chose what to do was dealt with. Wait for it
    with, or after, a sign that the daemon took the change in (the file counted as seen, backed
    up or deleted from the backup): a rest published before the change says nothing of it."""
    daemon, watches = status["daemon"], status["watches"]
    return bool(
        daemon["state"] == "idle"
        and daemon["settling"] == 0
        and daemon["queued"] == 0
        and all(w["queued"] == 0 for w in watches)
    )


@dataclass
class DaemonProcess:
    """``photoark daemon`` of one client home, in a subprocess, with simulated battery and
    network conditions (``conditions`` writes the JSON the daemon's probe reads)."""

    client: Client
    probe_file: Path
    process: subprocess.Popen[bytes] | None = None

    def conditions(
        self, metered: bool = False, on_battery: bool = False, battery_percent: int | None = None
    ) -> None:
        tmp = self.probe_file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"metered": metered, "on_battery": on_battery, "battery_percent": battery_percent}
            )
        )
        tmp.replace(self.probe_file)

    def start(self) -> DaemonProcess:
        if not self.probe_file.exists():
            self.conditions()
        env = {**os.environ, "PHOTOARK_HOME": str(self.client.home)}
        with open(self.client.home.parent / f"daemon-{self.client.home.name}.log", "ab") as log:
            self.process = subprocess.Popen(  # the child keeps its own copy of the log
                [
                    sys.executable,
                    "-m",
                    "photoark.cli.main",
                    "daemon",
                    "--probe-file",
                    str(self.probe_file),
                    "--policy-every",
                    "0.1",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def status(self) -> Any:
        return self.client.json("status")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("the daemon did not stop on SIGTERM") from None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(9)
            self.process.wait()


@contextmanager
def running_daemon(client: Client, probe_file: Path | None = None) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(client, probe_file or client.home.parent / f"{client.home.name}.probe")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def fake_command(bin_dir: Path, name: str, script: str) -> Path:
    """An executable shell script ``bin_dir/name`` (put ``bin_dir`` first on PATH to use it
    in place of a system tool the machine lacks, e.g. systemd-inhibit)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    tool = bin_dir / name
    tool.write_text(script)
    tool.chmod(0o755)
    return tool


def stored_account(server: str, email: str = "me@photoark.local") -> Account:
    """An account as the state DB keeps it (token and keys are placeholders: for code that
    reads the account, never for a server)."""
    attrs = KeyAttributesModel(
        kek_salt=b"s" * 16,
        ops_limit=2,
        mem_limit=8192,
        master_key_wrapped=b"m" * 72,
        master_key_wrapped_recovery=b"r" * 72,
        recovery_key_wrapped=b"k" * 72,
    )
    return Account(server, email, 1, "token", b"\0" * 32, attrs)


def local_home(root: Path, port: int, account_url: str | None = "same") -> ClientHome:
    """A home as quickstart leaves it: the record of its server (at ``port``, pid unknown,
    not running) and, unless ``account_url`` is None, an account (by default on that server)."""
    home = resolve_home(root).ensure()
    home.server_dir.mkdir()
    url = f"http://127.0.0.1:{port}"
    home.local_server_record.write_text(json.dumps({"url": url, "pid": None}))
    if account_url is not None:
        db = StateDB(home.state_db)
        try:
            AccountStore(db).save(stored_account(url if account_url == "same" else account_url))
        finally:
            db.close()
    return home
