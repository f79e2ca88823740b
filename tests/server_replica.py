"""ServerReplica: one ``photoark server`` process on a fixed port that can be killed and started
again, with its CPU time counted across restarts.

The replicas of :class:`tests.local_cluster.LocalCluster` (``scripts/cluster.py``) are these;
``bench/replicas_load.py`` also runs its single-server baseline as one. Beside
:class:`tests.builders.ServerProcess` (the test suite's plain server process) it runs in its own
session (Ctrl-C is its owner's to pass on, in order), shows its log's tail when it fails to
start, and records how long each restart after a kill took to answer ``/health``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.processes import proc_cpu_seconds

__all__ = ["ServerReplica"]


@dataclass
class ServerReplica:
    """One ``python -m photoark.server`` process (``photoark server``, the same options) on a
    fixed port, which can be killed (SIGKILL) and started again. Its CPU time is counted
    across restarts: a run that ended is counted from ``wait4``'s usage, the live one from
    ``/proc``."""

    name: str
    port: int
    data_dir: Path
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    ended_cpu: float = 0.0  # CPU of the runs that ended
    starts: int = 0
    restart_seconds: list[float] = field(default_factory=list)  # start -> /health, after a kill

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"server-{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive() and self.process is not None else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "photoark.server",
            "--data", str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port),
            *self.args,
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> ServerReplica:
        if self.alive():
            raise RuntimeError(f"server {self.name} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # the child keeps its own copy of the log
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,  # Ctrl-C is the cluster's to pass on, in order
            )
        self.starts += 1
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reap()
                raise RuntimeError(
                    f"server {self.name} exited while starting; log {self.log}:\n{self.tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    if self.starts > 1:
                        self.restart_seconds.append(time.monotonic() - started)
                    return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server {self.name} did not answer in {timeout} s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def _reap(self, timeout: float | None = None) -> None:
        """Wait for the process (``timeout``: at most that long, then raise TimeoutExpired) and
        count its CPU from wait4's usage."""
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout or 0)
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.ended_cpu += usage.ru_utime + usage.ru_stime

    def kill(self) -> None:
        """SIGKILL now (a crash)."""
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            self._reap()

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (a clean stop: open requests get 5 s), then SIGKILL."""
        if not self.alive():
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self._reap(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> float:
        live = proc_cpu_seconds(self.process.pid) if self.alive() and self.process else 0.0
        return self.ended_cpu + live

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""
