"""Why :mod:`photoark.optimize` keeps what it keeps: each reason named once, here, and shared by
the planners and the CLI (which prints :attr:`KeptReason.text`; it never spells a reason).

Both are :class:`~enum.StrEnum`: a member *is* its string, so ``--json`` shows the same text
as before the names were typed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["KeepRule", "KeptReason"]


class KeptReason(StrEnum):
    """Why ``free-up-space`` keeps a local media file (``kept[].reason`` in its JSON)."""

    # no live library file holds its content, and this path was never backed up
    NOT_BACKED_UP = "not_backed_up"
    # this path was backed up once, but no live library file holds its content now
    MODIFIED_SINCE_BACKUP = "modified_since_backup"
    # its content is only in the trash (trashed files expire): not a backup
    ONLY_IN_TRASH = "only_in_trash"
    # an upload of this path is under way (the upload queue or the daemon's queue)
    UPLOAD_IN_PROGRESS = "upload_in_progress"
    # the server has no object of the expected size, or the file was trashed/deleted meanwhile
    SERVER_COPY_MISSING = "server_copy_missing"
    # with verify_download: the server copy downloaded does not decrypt to this content
    SERVER_COPY_CORRUPT = "server_copy_corrupt"
    # the file could not be read (OSError), or it changed while it was being hashed
    UNREADABLE = "unreadable"
    # on apply: hashed again right before deletion, it no longer is the content checked
    CHANGED_WHILE_CHECKED = "changed_while_checked"
    # on apply: the file was no longer there when its turn came
    GONE = "gone"

    @property
    def text(self) -> str:
        """The reason in words, as the CLI prints it."""
        return _TEXT[self]


_TEXT: Final[dict[KeptReason, str]] = {
    KeptReason.NOT_BACKED_UP: "not backed up",
    KeptReason.MODIFIED_SINCE_BACKUP: "changed since its backup",
    KeptReason.ONLY_IN_TRASH: "its backup is only in the trash",
    KeptReason.UPLOAD_IN_PROGRESS: "upload in progress",
    KeptReason.SERVER_COPY_MISSING: "the server copy is missing or incomplete",
    KeptReason.SERVER_COPY_CORRUPT: "the server copy does not decrypt to this photo",
    KeptReason.UNREADABLE: "cannot be read",
    KeptReason.CHANGED_WHILE_CHECKED: "changed while being checked",
    KeptReason.GONE: "no longer there",
}


class KeepRule(StrEnum):
    """Why ``dedup`` keeps the copy it keeps (``groups[].why`` in its JSON)."""

    # the default rule (duplicates.keep_first): the copy in the most albums, then the one
    # whose name carries no copy marker ("IMG_1.JPG" over "IMG_1 copy.JPG"), then the oldest
    MOST_ALBUMS_THEN_NAME_THEN_OLDEST = (
        "in the most albums, then the original name (not a copy's), then the oldest upload"
    )
