"""What became of one item in a backup run (a file, or a Live Photo's still and video
together: one item, see :mod:`.report`): an :class:`Outcome`, and for an ignored file the
:class:`IgnoreReason`.

Both are ``StrEnum``: an outcome is the very string the progress callbacks and the JSON report
have always shown (``Outcome.SKIPPED == "skipped"``), so a caller comparing strings, or
printing one, sees no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["IgnoreReason", "Ignored", "Outcome"]


class Outcome(StrEnum):
    """One item's end in a run; the report counts each under its own field."""

    UPLOADED = "uploaded"  # its content went to the server (part by part, or in a bundle)
    SKIPPED = "skipped"  # already in the target album
    ADDED = "added"  # known content added to the album by reference, no byte sent
    IGNORED = "ignored"  # not backed up, for an IgnoreReason
    FAILED = "failed"  # with the error the user should read; the next run tries again
    DELETED_FROM_BACKUP = "deleted_from_backup"  # the user deleted its content: not sent again


class IgnoreReason(StrEnum):
    """Why a file found by the scan is not backed up (the report's ``ignored`` reason)."""

    NOT_MEDIA = "not a photo or video"


@dataclass(frozen=True, slots=True)
class Ignored:
    """A file the pipeline passed over, and why: counted as :attr:`Outcome.IGNORED` with
    ``reason`` in the report."""

    reason: IgnoreReason
