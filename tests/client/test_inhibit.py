"""The sleep inhibitor: held (a fake systemd-inhibit on PATH) only while the work is above the
threshold, released after; where logind is missing, backups go on."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from photoark.client.daemon.inhibit import SleepInhibitor
from tests.builders import fake_command

FAKE = """#!/bin/sh
echo "$@" > "{log}"
exec sleep 3600  # a real systemd-inhibit runs its command while the lock is held
"""
REFUSING = """#!/bin/sh
echo "Failed to connect to bus: No such file or directory" >&2
exit 1
"""


def _fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "args"
    fake_command(bin_dir, "systemd-inhibit", script.format(log=log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_held_only_above_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _fake(tmp_path, monkeypatch, FAKE)
    inhibitor = SleepInhibitor(min_files=500, min_bytes=1 << 30)
    with inhibitor.while_busy(10, 1000, "small"):
        assert not inhibitor.held
    assert not log.exists()
    with inhibitor.while_busy(501, 0, "many files"):
        assert inhibitor.held
        args = log.read_text()
        assert "--what=sleep" in args and "--mode=block" in args and "many files" in args
        with inhibitor.while_busy(0, 2 << 30, "nested"):  # one inhibitor, counted
            assert inhibitor.held
        assert inhibitor.held
    assert not inhibitor.held


def test_disabled_by_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _fake(tmp_path, monkeypatch, FAKE)
    inhibitor = SleepInhibitor(enabled=False)
    with inhibitor.while_busy(10_000, 10 << 30, "big"):
        assert not inhibitor.held
    assert not log.exists()


def test_no_logind_is_said_once_and_backups_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _fake(tmp_path, monkeypatch, REFUSING)
    inhibitor = SleepInhibitor(min_files=0)
    with caplog.at_level(logging.WARNING, "photoark.client.daemon.inhibit"):
        for _ in range(3):
            with inhibitor.while_busy(1, 0, "x"):
                assert not inhibitor.held
    warnings = [r for r in caplog.records if "awake" in r.getMessage()]
    assert len(warnings) == 1 and "bus" in warnings[0].getMessage()


def test_the_holder_dies_with_its_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGKILLed photoark must not keep the machine awake: the holder gets SIGTERM."""
    import subprocess
    import sys

    _fake(tmp_path, monkeypatch, FAKE)
    code = (
        "import time, os\n"
        "from photoark.client.daemon.inhibit import SleepInhibitor\n"
        "i = SleepInhibitor(min_files=0)\n"
        "i.acquire('x')\n"
        "print(i._process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as owner:
        assert owner.stdout is not None
        holder = int(owner.stdout.readline())
        os.kill(holder, 0)  # alive
        owner.kill()  # leaving the block closes its pipe and waits for it
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(holder, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the inhibitor's holder outlived its owner")
