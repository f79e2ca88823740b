"""Rich progress bars wired to the library's progress callbacks (terminal only).

While the backup bar is drawn, what else writes to the terminal's stderr would land in the
middle of it: C libraries printing on their own (LibRaw's ``Nikon.nef: data corrupted at
1378``), Python's logging. :class:`HeldStderr` holds file descriptor 2 in a temporary file
for the bar's lifetime (the bar itself draws on a copy of the real stderr) and gives what was
held back once the bar is gone, for the caller to print at the end.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from photoark.cli.output import stderr
from photoark.client.pipeline.backup import BackupProgress
from photoark.client.pipeline.outcome import Outcome
from photoark.client.pipeline.scanner import Found

__all__ = ["Counter", "HeldStderr", "ItemBar", "RichBackupProgress", "wants_progress"]


def wants_progress(json_output: bool) -> bool:
    return not json_output and stderr.is_terminal


class _Live:
    """A rich Progress shown only when ``enabled`` (a terminal), started and stopped by
    ``with``."""

    _progress: Progress | None = None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


class Counter(_Live):
    """A spinner counting items (files checked, ...) when the total is not known up front;
    ``tick`` is a no-op off a terminal."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._label = label
        self._count = 0
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(TextColumn("[bold]{task.description}"), console=stderr)
            self._task = self._progress.add_task(label, total=None)

    def tick(self, _item: object = None) -> None:
        self._count += 1
        if self._progress is not None and self._count % 25 == 0:
            self._progress.update(self._task, description=f"{self._label}: {self._count}")


class ItemBar(_Live):
    """A bar over a count of items (photos embedded, ...), with ETA; a no-op off a terminal.
    ``set_total`` and ``advance`` may be called from worker threads."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeRemainingColumn(),
                console=stderr,
            )
            self._task = self._progress.add_task(label, total=None)

    def set_total(self, n: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=n)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def describe(self, label: str) -> None:
        """What is being done now (a stage that is not counted: loading a model...)."""
        if self._progress is not None:
            self._progress.update(self._task, description=label)


class HeldStderr:
    """File descriptor 2 redirected to a temporary file between ``__enter__`` and
    ``__exit__``; :attr:`terminal` writes to the real stderr meanwhile, :meth:`lines` gives
    what was held back. If the descriptors cannot be juggled, nothing is held and
    :attr:`terminal` is ``None``."""

    def __init__(self) -> None:
        self.terminal: IO[str] | None = None
        self._saved: int | None = None
        self._held: IO[bytes] | None = None
        self._text = ""

    def __enter__(self) -> Self:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()  # what Python buffered goes out before the switch
        try:
            held = tempfile.TemporaryFile()
        except OSError:
            return self
        try:
            saved = os.dup(2)
        except OSError:
            held.close()
            return self
        try:
            terminal = os.fdopen(os.dup(saved), "w", encoding="utf-8", errors="replace")
            os.dup2(held.fileno(), 2)
        except OSError:
            os.close(saved)
            held.close()
            return self
        self._saved, self._held, self.terminal = saved, held, terminal
        return self

    def __exit__(self, *exc: object) -> None:
        saved, held, terminal = self._saved, self._held, self.terminal
        self._saved = self._held = self.terminal = None
        if saved is None or held is None or terminal is None:
            return
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        with contextlib.suppress(OSError, ValueError):
            terminal.close()
        held.seek(0)
        self._text = held.read().decode("utf-8", "replace")
        held.close()

    def lines(self) -> list[str]:
        """What was written to stderr while held, line by line (blank lines dropped)."""
        return [line.rstrip() for line in self._text.splitlines() if line.strip()]


class RichBackupProgress(BackupProgress):
    """One bar over the planned bytes (speed, ETA), its label counting items (a Live Photo's
    still and video are one, as in the report). What others write to stderr meanwhile is held
    (:class:`HeldStderr`), for :meth:`held_back` to give once the bar is gone."""

    def __init__(self) -> None:
        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._task = self._progress.add_task("scanning", total=None)
        self._lock = threading.Lock()
        self._held = HeldStderr()
        self._files_total = 0
        self._files_done = 0
        self._thumbs_total = 0
        self._thumbs_done = 0

    def __enter__(self) -> RichBackupProgress:
        self._held.__enter__()
        if self._held.terminal is not None:
            self._console.file = self._held.terminal
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._progress.stop()
        finally:
            self._held.__exit__()
            self._console.file = sys.stderr

    def held_back(self) -> list[str]:
        """What others wrote to stderr while the bar was drawn (see :class:`HeldStderr`)."""
        return self._held.lines()

    def _label(self) -> str:
        return f"{self._files_done}/{self._files_total} items"

    def planned(self, files: int, total_bytes: int) -> None:
        self._files_total = files
        self._progress.update(self._task, total=total_bytes, description=self._label())

    def bytes_done(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def _finished(self, n: int) -> None:
        with self._lock:
            self._files_done += n
            self._progress.update(self._task, description=self._label())

    def file_done(self, path: str, size: int, outcome: Outcome) -> None:
        self._finished(1)

    def files_done(self, files: Sequence[Found], outcome: Outcome) -> None:
        self._finished(len(files))
        self.bytes_done(sum(item.stat.st_size for item in files))

    def thumbnails_planned(self, n: int) -> None:
        """The originals are safe; the label counts the thumbnails made after them."""
        with self._lock:
            self._thumbs_total, self._thumbs_done = n, 0
            self._progress.update(self._task, description=self._thumbs_label())

    def thumbnails_done(self, n: int) -> None:
        with self._lock:
            self._thumbs_done += n
            self._progress.update(self._task, description=self._thumbs_label())

    def _thumbs_label(self) -> str:
        return f"{self._label()} safe · thumbnails {self._thumbs_done}/{self._thumbs_total}"
