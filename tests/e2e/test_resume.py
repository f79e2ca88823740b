"""A client killed with SIGKILL half-way through a large upload resumes without re-sending any
part the server already has, and ends with exactly one file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import Client, ServerProcess, make_tree


def _parts(server: ServerProcess) -> list[tuple[str, int, int]]:
    with sqlite3.connect(server.data_dir / "photoark.db") as db:
        return db.execute("SELECT upload_id, number, put_count FROM upload_parts").fetchall()


def test_sigkill_mid_upload_then_resume(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    size = 160 * 1024 * 1024  # 20 parts of 8 MiB
    make_tree(tmp_path / "p", {"movie.mp4": b"\x00\x00\x00\x18ftypmp42" + os.urandom(size)})
    env = {**os.environ, "PHOTOARK_HOME": str(alice.home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "photoark.cli.main",
            "backup",
            str(tmp_path / "p"),
            "--album",
            "A",
            "--json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_parts(server)) < 6:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _parts(server)
    assert 6 <= len(before) < 21, "the kill should land mid-upload"

    report = alice.json("backup", str(tmp_path / "p"), "--album", "A")
    assert report["uploaded"] == 1
    after = _parts(server)
    content_parts = [p for p in after if p[0] == before[0][0]]
    assert len(content_parts) == 21  # 20 full parts and a small last one
    assert all(count == 1 for _, _, count in content_parts), "a part was sent twice"
    # bytes sent on resume exclude the parts the server already had
    assert report["bytes_uploaded"] < size - (len(before) - 1) * 8 * 1024 * 1024
    files = alice.json("ls")
    assert len(files) == 1 and files[0]["size"] == size + 12
    out = alice.json("export", str(tmp_path / "out"))
    assert out["written"] == 1
    assert (tmp_path / "out" / "A" / "movie.mp4").read_bytes() == (
        tmp_path / "p" / "movie.mp4"
    ).read_bytes()
