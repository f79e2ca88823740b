"""Rich progress bars wired to the library's progress callbacks (terminal only)."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from photoark.cli.output import stderr
from photoark.client.backup import BackupProgress

__all__ = ["RichBackupProgress", "wants_progress"]


def wants_progress(json_output: bool) -> bool:
    return not json_output and stderr.is_terminal


class RichBackupProgress(BackupProgress):
    """Files and bytes bars with speed and ETA; bytes count files as they are processed."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )
        self._files = self._progress.add_task("files", total=None)
        self._bytes = self._progress.add_task("bytes", total=None)
        self._lock = threading.Lock()

    def __enter__(self) -> RichBackupProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def planned(self, files: int, total_bytes: int) -> None:
        self._progress.update(self._files, total=files)
        self._progress.update(self._bytes, total=total_bytes)

    def file_done(self, path: str, size: int, outcome: str) -> None:
        with self._lock:
            self._progress.advance(self._files, 1)
            self._progress.advance(self._bytes, size)
