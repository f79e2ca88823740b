"""Progress callbacks: the fast pass reports many settled files in one call."""

from __future__ import annotations

import os
from pathlib import Path

from photoark.cli.progress import RichBackupProgress
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
    assert progress._label() == "3/4 files"
    task = progress._progress.tasks[0]
    assert task.completed == 15
