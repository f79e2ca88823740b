"""Progress callbacks: the fast pass reports many settled files in one call; the terminal bar
counts items and holds back what others write to stderr while it is drawn."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoark.cli.progress import HeldStderr, RichBackupProgress
from photoark.client.pipeline.backup import BackupProgress
from photoark.client.pipeline.outcome import Outcome
from photoark.client.pipeline.scanner import Found


class _Recorder(BackupProgress):
    def __init__(self) -> None:
        self.files: list[tuple[str, int, str]] = []
        self.bytes: list[int] = []

    def file_done(self, path: str, size: int, outcome: str) -> None:
        self.files.append((path, size, outcome))

    def bytes_done(self, n: int) -> None:
        self.bytes.append(n)


def _found(tmp_path: Path, sizes: list[int]) -> list[Found]:
    out = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(b"x" * size)
        out.append(Found(str(path), os.stat(path)))
    return out


def test_files_done_defaults_to_one_file_done_each_and_one_bytes_done(tmp_path: Path) -> None:
    files = _found(tmp_path, [3, 5, 7])
    progress = _Recorder()
    progress.files_done(files, Outcome.SKIPPED)
    assert progress.files == [(f.path, f.stat.st_size, "skipped") for f in files]
    assert progress.bytes == [15]  # what bytes_done sums to over a run is unchanged


def test_the_terminal_bar_counts_a_batch_in_one_update(tmp_path: Path) -> None:
    files = _found(tmp_path, [3, 5, 7])
    progress = RichBackupProgress()
    progress.planned(4, 20)
    progress.files_done(files, Outcome.SKIPPED)
    assert progress._label() == "3/4 items"
    task = progress._progress.tasks[0]
    assert task.completed == 15


def test_what_is_written_to_stderr_while_held_comes_back_afterwards(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with HeldStderr() as held:
        os.write(2, b"/p/Nikon.nef: data corrupted at 1378\n")  # as a C library writes
        with open(2, "w", closefd=False) as stream:  # logging's handler, on the real stderr
            stream.write("a Python warning\n")
        assert held.terminal is not None
        held.terminal.write("the bar\n")
        held.terminal.flush()
    assert held.lines() == ["/p/Nikon.nef: data corrupted at 1378", "a Python warning"]
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "the bar\nafter\n"  # only the bar, then fd 2 is back


def test_the_bar_draws_on_the_real_stderr_and_gives_back_what_it_held(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with RichBackupProgress() as progress:
        progress.planned(1, 10)
        os.write(2, b"held line\n")
        progress.file_done("/p/a.jpg", 10, Outcome.UPLOADED)
    assert progress.held_back() == ["held line"]
    err = capfd.readouterr().err
    assert "held line" not in err and "1/1 items" in err
