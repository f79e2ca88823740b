"""A run's bookkeeping, safe from any worker thread: each file counted in the report and told to
the progress callbacks, the bytes sent, a failure turned into what the user should read, and
the stop flag (an unreachable server, or the caller cancelling)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from photoark.client.errors import ApiError, ClientError, FileChangedError, ServerUnreachable
from photoark.client.pipeline.outcome import Outcome
from photoark.client.pipeline.report import BackupProgress, BackupReport
from photoark.client.pipeline.scanner import Found
from photoark.client.state.mirror import LibraryFile
from photoark.client.state.statcache import StatCache
from photoark.protocol.models import FileRecord

__all__ = ["Tally"]

log = logging.getLogger(__name__)


class Tally:
    """The report (updated under one lock) and the progress callbacks of one run."""

    def __init__(
        self,
        report: BackupReport,
        progress: BackupProgress,
        stat_cache: StatCache,
        cancel: threading.Event | None,
    ) -> None:
        self.report = report
        self.progress = progress
        self._stat_cache = stat_cache
        self._cancel = cancel
        self._lock = threading.Lock()
        self._stop = threading.Event()  # set by the run itself (the server is unreachable)

    def stopped(self) -> bool:
        """The run stops taking files: the server is unreachable, or the caller cancelled."""
        cancel = self._cancel
        return self._stop.is_set() or (cancel is not None and cancel.is_set())

    def count(self, path: str, size: int, outcome: Outcome, detail: str | None = None) -> None:
        """One item done: a file, or a Live Photo under its still's path (``detail``: an
        ignored file's reason, a failed file's error, also told to
        :meth:`BackupProgress.file_failed`). An uploaded item's bytes were told to
        :meth:`BackupProgress.bytes_done` as they were read; any other item's are told now."""
        with self._lock:
            self.report.record(path, outcome, detail)
        if outcome is Outcome.FAILED:
            self.progress.file_failed(path, str(detail or "unknown error"))
        if outcome is not Outcome.UPLOADED:
            self.progress.bytes_done(size)
        self.progress.file_done(path, size, outcome)

    def count_skipped(self, items: Sequence[Found]) -> None:
        """:meth:`count` :attr:`Outcome.SKIPPED` for many files at once (one report update, one
        progress call)."""
        with self._lock:
            self.report.skipped += len(items)
        self.progress.files_done(items, Outcome.SKIPPED)

    def sent(self, n: int) -> None:
        """``n`` more content bytes went over the network."""
        with self._lock:
            self.report.bytes_uploaded += n
        self.progress.bytes_sent(n)

    def bundled(
        self, path: str, size: int, future: Future[FileRecord] | Future[LibraryFile]
    ) -> None:
        """A file handed to a bundle (upload, or add by reference) is settled."""
        err = future.exception()
        if err is not None:
            self.failed(path, size, err)
        elif isinstance(future.result(), LibraryFile):
            self.count(path, size, Outcome.ADDED)
        else:
            self.progress.bytes_done(size)
            self.count(path, size, Outcome.UPLOADED)

    def failed(self, path: str, size: int, err: BaseException) -> None:
        """Count a file as failed, with what the user should know; stop on an unreachable
        server (nothing is lost: the next run resumes)."""
        if isinstance(err, ServerUnreachable):
            self._stop.set()
            with self._lock:
                self.report.stop_for(err)
            message = str(err)
        elif isinstance(err, FileChangedError):
            self._stat_cache.forget(path)  # the cached hash may be the stale one
            message = f"{err}; it will be retried on the next run"
        elif isinstance(err, ApiError):
            if err.code == "quota_exceeded":
                self.report.quota_exceeded = True
            message = f"server refused it ({err.code}): {err}"
        elif isinstance(err, ClientError):
            message = str(err)
        elif isinstance(err, OSError):
            message = f"cannot read: {err.strerror or err}"
        else:  # one file's surprise must not stop the others
            log.error("unexpected error backing up %r", path, exc_info=err)
            message = f"unexpected error: {type(err).__name__}: {err}"
        self.count(path, size, Outcome.FAILED, message)
