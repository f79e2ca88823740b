"""A large backup holds a sleep inhibitor (a simulated logind: a fake systemd-inhibit on
PATH) for exactly as long as it works, and a small one does not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.pipeline.backup import BackupOptions, BackupProgress, backup
from photoark.client.session import Session
from tests.builders import fake_command, jpeg_bytes, make_tree

pytestmark = pytest.mark.e2e

FAKE = """#!/bin/sh
echo "$$ $@" >> "{log}"
exec sleep 3600
"""


class Watching(BackupProgress):
    def __init__(self, inhibitor: SleepInhibitor) -> None:
        self.inhibitor = inhibitor
        self.held_while_working: list[bool] = []

    def file_done(self, path: str, size: int, outcome: str) -> None:
        self.held_while_working.append(self.inhibitor.held)


def test_inhibitor_held_during_a_large_backup_only(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "inhibit.log"
    fake_command(bin_dir, "systemd-inhibit", FAKE.format(log=log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    inhibitor = SleepInhibitor(min_files=5, min_bytes=1 << 40)

    small = make_tree(tmp_path / "small", {f"s{i}.jpg": jpeg_bytes(i) for i in range(3)})
    watching = Watching(inhibitor)
    backup(session, [str(small)], "A", BackupOptions(inhibitor=inhibitor), watching)
    assert not log.exists() and not any(watching.held_while_working)

    large = make_tree(tmp_path / "large", {f"l{i}.jpg": jpeg_bytes(100 + i) for i in range(8)})
    watching = Watching(inhibitor)
    report = backup(session, [str(large)], "A", BackupOptions(inhibitor=inhibitor), watching)
    assert report.uploaded == 8
    assert all(watching.held_while_working) and len(watching.held_while_working) == 8
    pid, *args = log.read_text().split()
    assert "--what=sleep" in args and "--mode=block" in args
    assert not inhibitor.held
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)  # released: the holder is gone
