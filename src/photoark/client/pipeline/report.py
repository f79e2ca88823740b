"""What a caller gives a backup run and gets back: :class:`BackupOptions`, the
:class:`BackupProgress` callbacks (no-ops unless overridden) and the :class:`BackupReport`.

**One way of counting**: every count of a run is of *items*, what the library holds. A file is
one item; a Live Photo (a still and its video, :mod:`.livephotos`) is ONE item, counted once
under the still's path. :meth:`BackupProgress.planned` announces that many items, each ends in
exactly one :meth:`BackupProgress.file_done` (or one entry of
:meth:`BackupProgress.files_done`), and the report's ``uploaded``, ``skipped``,
``added_to_album``, ``ignored``, ``failed`` and ``deleted_from_backup`` count the same items
(``ignored`` and ``failed`` also list what the scan passed over: sidecars, unreadable folders,
which are not items); ``live_photos`` says how many items were Live Photos, so the files behind
the items are the items plus ``live_photos``.

The JSON report (:meth:`BackupReport.as_json`) has the keys ``uploaded``, ``skipped``,
``added_to_album`` (counts), ``failed`` and ``ignored`` (lists of ``{path, error}`` and
``{path, reason}``: every one, uncapped), ``deleted_from_backup`` (paths), ``bytes_uploaded``,
``live_photos`` (how many items were Live Photos), ``thumbnails`` (``made``, ``failed``: every
``{path, error}``, ``videos_without_ffmpeg``: video thumbnails not made because ffmpeg is not
installed, ``pending``), ``previous_versions``, ``seconds`` and, for a run cut short,
``aborted`` (why) and ``aborted_hint`` (what to do about it).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from photoark.client.errors import ClientError
from photoark.client.pipeline.bundler import BundleLimits
from photoark.client.pipeline.decide import MatchProfile
from photoark.client.pipeline.outcome import Outcome
from photoark.client.pipeline.retire import RetireReport
from photoark.client.pipeline.scanner import Found
from photoark.client.pipeline.thumbnailer import ThumbnailReport

__all__ = ["BackupOptions", "BackupProgress", "BackupReport", "Inhibitor"]


class BackupProgress:
    """Callbacks for progress; subclass and override what you show."""

    def planned(self, files: int, total_bytes: int) -> None:
        """The scan found ``files`` items (a Live Photo's still and video are one) of
        ``total_bytes`` (every file's bytes)."""

    def file_failed(self, path: str, error: str) -> None:
        """``path`` failed with ``error`` (what the user should read); its :meth:`file_done`
        follows."""

    def file_done(self, path: str, size: int, outcome: Outcome) -> None:
        """An item finished (a Live Photo: once, under its still's path). See
        :class:`.outcome.Outcome`; it compares equal to its string: uploaded | skipped | added
        | ignored | failed | deleted_from_backup."""

    def files_done(self, files: Sequence[Found], outcome: Outcome) -> None:
        """Many files finished at once with the same outcome (the fast pass over unchanged
        files): by default one :meth:`file_done` each, then one :meth:`bytes_done` for all."""
        for item in files:
            self.file_done(item.path, item.stat.st_size, outcome)
        self.bytes_done(sum(item.stat.st_size for item in files))

    def bytes_sent(self, n: int) -> None:
        """``n`` more content bytes went over the network."""

    def bytes_done(self, n: int) -> None:
        """``n`` more bytes of the planned total are dealt with (read and uploaded, or found
        already backed up). Summed over a run it equals the planned total."""

    def thumbnails_planned(self, n: int) -> None:
        """Every original is dealt with; ``n`` thumbnails are to be made and sent."""

    def thumbnails_done(self, n: int) -> None:
        """``n`` more thumbnails were sent (or given up)."""


class Inhibitor(Protocol):
    """Keeps the machine awake while a large piece of work runs (the daemon's
    ``SleepInhibitor``)."""

    def while_busy(self, files: int, total_bytes: int, why: str) -> AbstractContextManager[None]:
        """Held for the block if the work is above the threshold."""


@dataclass(frozen=True)
class BackupOptions:
    match: MatchProfile = "name+hash"
    workers: int = 4
    bundle_limits: BundleLimits = field(default_factory=BundleLimits)
    # set from outside (the daemon pausing): files not started yet are left alone, a large
    # upload stops after its current part; both resume on the next run
    cancel: threading.Event | None = None
    # held while the work is above its threshold (a large first backup: no suspend midway)
    inhibitor: Inhibitor | None = None


@dataclass
class BackupReport:
    uploaded: int = 0
    skipped: int = 0
    added_to_album: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    deleted_from_backup: list[str] = field(default_factory=list)  # marked: not uploaded again
    bytes_uploaded: int = 0
    aborted: str | None = None  # why the run stopped short (the server or its store unreachable)
    aborted_hint: str | None = None  # what to do about it
    quota_exceeded: bool = False
    thumbnails: ThumbnailReport = field(default_factory=ThumbnailReport)
    thumbnails_pending: int = 0
    live_photos: int = 0  # items that are a Live Photo (a still and its video)
    previous_versions: RetireReport = field(default_factory=RetireReport)
    originals_seconds: float = 0.0
    seconds: float = 0.0

    def stop_for(self, err: ClientError) -> None:
        """The run stopped short because of ``err``: keep its message and its hint."""
        self.aborted = str(err)
        self.aborted_hint = err.hint or None

    def record(self, path: str, outcome: Outcome, detail: str | None = None) -> None:
        """Count one file under its outcome's field; ``detail`` is an ignored file's reason or
        a failed file's error. Not thread-safe: a run calls it under its lock."""
        if outcome is Outcome.UPLOADED:
            self.uploaded += 1
        elif outcome is Outcome.SKIPPED:
            self.skipped += 1
        elif outcome is Outcome.ADDED:
            self.added_to_album += 1
        elif outcome is Outcome.IGNORED:
            self.ignored.append({"path": path, "reason": str(detail or "")})
        elif outcome is Outcome.FAILED:
            self.failed.append({"path": path, "error": str(detail or "unknown error")})
        elif outcome is Outcome.DELETED_FROM_BACKUP:
            self.deleted_from_backup.append(path)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uploaded": self.uploaded,
            "skipped": self.skipped,
            "added_to_album": self.added_to_album,
            "failed": self.failed,
            "bytes_uploaded": self.bytes_uploaded,
            "ignored": self.ignored,
            "deleted_from_backup": self.deleted_from_backup,
            "live_photos": self.live_photos,
            "thumbnails": {**self.thumbnails.as_json(), "pending": self.thumbnails_pending},
            "previous_versions": {
                "trashed": self.previous_versions.trashed,
                "removed_from_album": self.previous_versions.removed_from_album,
            },
            "seconds": {"originals": self.originals_seconds, "total": self.seconds},
        }
        if self.aborted:
            out["aborted"] = self.aborted
            if self.aborted_hint:
                out["aborted_hint"] = self.aborted_hint
        return out
